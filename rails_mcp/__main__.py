"""``python -m rails_mcp`` and the ``rails-mcp`` command.

The CLI is imported with cyclic garbage collection paused: importing it builds thousands of
long-lived objects and frees none, so collecting meanwhile is pure start-up cost (the
serving path keeps it paused until the server is built; see ``cli._collect_after_start_up``).
"""

import gc


def main() -> None:
    gc.disable()
    try:
        from rails_mcp.cli import main as cli
    finally:
        gc.enable()
    cli()


if __name__ == "__main__":
    main()
