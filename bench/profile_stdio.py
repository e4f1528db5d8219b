"""Where a stdio tool call's time goes: rails-mcp (or the thin baseline) under pyinstrument.

Starts a ``rails-mcp sandbox``, runs the server as ``python -m pyinstrument … -m rails_mcp``
(or ``bench/thin_server.py``) on stdio, makes N ``get_repair_job`` calls, closes stdin, and
prints pyinstrument's text report of the server process. Needs ``pip install pyinstrument``
(a profiling tool, not a dependency).

Run: ``python bench/profile_stdio.py [--calls 500] [--thin] [--flat]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from tests.support.process_support import clean_env, free_port, running

HERE = Path(__file__).resolve().parent
JOB = {"external": "CCC-2026-04817"}


def drive(command: list[str], env: dict[str, str], calls: int) -> None:
    """Plain JSON-RPC lines over pipes, then EOF: the server exits by itself and writes its report."""
    proc = subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None
    assert proc.stdout is not None

    def ask(message: dict[str, object]) -> None:
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write((json.dumps(message) + "\n").encode())
        proc.stdin.flush()
        if "id" in message:
            answer = json.loads(proc.stdout.readline())
            assert "result" in answer, answer
            assert not answer["result"].get("isError"), answer

    ask(
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "profile", "version": "0"},
            },
        }
    )
    ask({"jsonrpc": "2.0", "method": "notifications/initialized"})
    for i in range(calls):
        params = {"name": "get_repair_job", "arguments": {"job": JOB}}
        ask({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call", "params": params})
    proc.stdin.close()
    proc.wait(timeout=300)


def main(calls: int, thin: bool, flat: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        report = Path(tmp) / "profile.txt"
        target = [str(HERE / "thin_server.py")] if thin else ["-m", "rails_mcp"]
        render = ["-p", "flat=true"] if flat else []
        args = ["-m", "pyinstrument", "-r", "text", *render, "-o", str(report), *target]
        command = ["sandbox", "--port", str(port), "--db", f"{tmp}/p.db", "--no-idle-reset"]
        with running(command, clean_env(Path(tmp)), port=port, ready_path="/healthz"):
            drive([sys.executable, *args], clean_env(Path(tmp), RAILS_BASE_URL=base), calls)
        print(report.read_text())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--thin", action="store_true", help="profile bench/thin_server.py instead")
    parser.add_argument("--flat", action="store_true", help="functions by own time, not the call tree")
    ns = parser.parse_args()
    main(ns.calls, ns.thin, ns.flat)
