"""An experiment for ``bench_http_load.py --untyped``, not a configuration: ``rails-mcp`` with
every tool's ``outputSchema`` left out of ``tools/list``, everything else as shipped.

Clients of the official SDKs compile each listed output schema once per session (the Python
client a tool's on its first call, the TypeScript client all of them on ``tools/list``); this
server shows what the load run measures once that client-side cost is gone, so the server's
own share can be read off beside the forwarder's. Results are unchanged: the same structured
content, only undeclared.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from mcp_types import Tool

from rails_mcp.tools import publish
from rails_mcp.tools.base import ToolDef

_typed = publish.published


def _untyped(tool: ToolDef[Any, Any]) -> Tool:
    return _typed(tool).model_copy(update={"output_schema": None})


if __name__ == "__main__":
    publish.published = _untyped  # before rails_mcp.server imports it by name
    from rails_mcp.__main__ import main

    main()
