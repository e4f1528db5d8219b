"""The error-code registry as people read it: one markdown table for ``guide://errors`` and README.md.

The registry itself (:mod:`rails_mcp.wire.codes`) sits below the guard, which names codes too;
this module only presents it. ``python -m rails_mcp.errors.codes README.md`` rewrites the
README's table between its markers; a test fails while the committed table is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rails_mcp.wire.codes import CODES

__all__ = ["README_TABLE_END", "README_TABLE_START", "error_code_table", "readme_with_error_table"]

_ORIGIN = {"wire": "Rails API", "no_answer": "no answer", "server": "rails-mcp"}
#: Where the generated table sits in README.md.
README_TABLE_START = "<!-- error-codes:start (generated: python -m rails_mcp.errors.codes README.md) -->"
README_TABLE_END = "<!-- error-codes:end -->"


def error_code_table() -> str:
    """Every code of the registry, in its order, as one markdown table."""
    rows = ["| code | from | retryable | meaning |", "|---|---|---|---|"]
    for code, info in CODES.items():
        origin = _ORIGIN[info.origin] + (f" (HTTP {info.http_status})" if info.http_status else "")
        rows.append(f"| `{code}` | {origin} | {'yes' if info.retryable else 'no'} | {info.meaning} |")
    return "\n".join(rows)


def readme_with_error_table(readme: str) -> str:
    """README.md's text with the table between its markers regenerated from the registry."""
    head, rest = readme.split(README_TABLE_START, 1)
    _, tail = rest.split(README_TABLE_END, 1)
    return f"{head}{README_TABLE_START}\n{error_code_table()}\n{README_TABLE_END}{tail}"


if __name__ == "__main__":
    readme = Path(sys.argv[1])
    readme.write_text(readme_with_error_table(readme.read_text(encoding="utf-8")), encoding="utf-8")
