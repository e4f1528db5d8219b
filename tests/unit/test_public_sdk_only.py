"""rails_mcp/ is built on the MCP SDK's public API only, so an SDK minor release cannot break it.

A private name (leading underscore), ``mcp.server.mcpserver.utilities`` (``ArgModelBase``,
``FuncMetadata``, ``func_metadata``), the MCPServer's ``_lowlevel_server`` or asyncio's
internals (private modules, private loop attributes, the low-level pipe/reader API the old
custom stdio transport used) may change in any SDK or Python release. This scans every
module's imports (parsed, so a multi-line import cannot hide a name) and its text.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "rails_mcp"

SDK_PACKAGES = ("mcp", "mcp_types")
#: Internals named in issue 7, wherever they appear (attribute access, strings, comments aside).
FORBIDDEN_TEXT = re.compile(
    r"mcp\.server\.mcpserver\.utilities|\bArgModelBase\b|\bFuncMetadata\b|\bfunc_metadata\b"
    r"|\b_lowlevel_server\b"
    # asyncio internals: private modules and attributes, and the event-loop plumbing
    r"|\basyncio\.(?:_\w+|base_events|base_subprocess|selector_events|proactor_events|unix_events"
    r"|windows_events|events\._\w+)"
    r"|\.(?:_selector|_ready|_scheduled|_transports|_add_reader|_remove_reader)\b"
    r"|\b(?:connect_read_pipe|connect_write_pipe|add_reader|add_writer)\b"
)


def _is_sdk(module: str) -> bool:
    return module.split(".")[0] in SDK_PACKAGES


def _private(dotted: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in dotted.split("."))


def offences(source: str, where: str = "<source>") -> list[str]:
    """Every line of ``source`` that reaches a private SDK name or asyncio internals."""
    lines = source.splitlines()
    found: set[tuple[int, str]] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            module = node.module
            if module.split(".")[0] == "asyncio" and (
                _private(module) or any(_private(a.name) for a in node.names)
            ):
                found.add((node.lineno, "asyncio internals"))
            if _is_sdk(module) and (_private(module) or any(_private(a.name) for a in node.names)):
                found.add((node.lineno, "private SDK name"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if (top in SDK_PACKAGES or top == "asyncio") and _private(alias.name):
                    found.add((node.lineno, "private module"))
        elif isinstance(node, ast.Attribute) and _private(node.attr) and not node.attr.startswith("__"):
            # mcp.x._y / asyncio.x._y spelled as attribute access
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in (*SDK_PACKAGES, "asyncio"):
                found.add((node.lineno, "private attribute"))
    for number, line in enumerate(lines, start=1):
        code = line.split("#", 1)[0]
        if FORBIDDEN_TEXT.search(code):
            found.add((number, "SDK or asyncio internals"))
    return [f"{where}:{n}: {why}: {lines[n - 1].strip()}" for n, why in sorted(found)]


def test_nothing_under_rails_mcp_imports_a_private_sdk_name_or_asyncio_internals():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 10, "the scan must see the package"
    found = [
        hit
        for path in modules
        for hit in offences(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))
    ]
    assert found == [], "non-public SDK or asyncio API used:\n" + "\n".join(found)


def test_the_old_custom_stdio_transport_is_gone():
    assert not (PACKAGE / "fast_stdio.py").exists()


def test_the_scan_catches_each_kind_of_private_reach():
    """The scanner itself: each pattern issue 7 names is caught (so a pass above means something)."""
    bad = {
        "from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase": 1,
        "from mcp.server.mcpserver.utilities import func_metadata": 1,
        "from mcp.shared import (\n    _context_streams,\n)": 1,
        "from mcp.shared._context_streams import create_context_streams": 1,
        "import mcp.shared._context_streams": 1,
        "import mcp\nlow = server._lowlevel_server": 1,
        "import mcp\nx = mcp.shared._context_streams": 1,
        "from mcp_types import _Private": 1,
        "from asyncio.unix_events import _UnixReadPipeTransport": 1,
        "import asyncio\nloop = asyncio.get_running_loop()\nloop.add_reader(0, print)": 1,
        "import asyncio\nawait loop.connect_read_pipe(proto, sys.stdin)": 1,
        "import asyncio.base_events": 1,
    }
    for source, expected in bad.items():
        assert len(offences(source)) >= expected, source
    good = (
        "from mcp.server import Server\nfrom mcp.server.stdio import stdio_server\n"
        "from mcp_types import Tool\nimport anyio\nclass A:\n    def __init__(self):\n"
        "        self._x = 1\n        self._x.y = 2\n"
    )
    assert offences(good) == []
