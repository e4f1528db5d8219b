"""The suite runs with ``HOME`` pointing at an empty directory of its own, and fails when
anything appears there: no test may write into a user's home or state directory.

Every default that could reach a real home (platformdirs' data and config dirs, npm's cache,
hosts' config files) resolves under ``HOME`` or an ``XDG_*`` variable; the ``XDG_*`` ones are
removed so they fall back to ``HOME`` too, and npm's cache goes to a scratch dir beside it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["HomeGuard"]

_XDG = ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR")


class HomeGuard:
    """Points ``HOME`` at a fresh empty directory for the session; reports what was written there."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="rails-mcp-suite-"))
        self.home = self.root / "home"
        self.home.mkdir()
        self._saved: dict[str, str | None] = {}

    def enter(self) -> None:
        changes: dict[str, str | None] = {
            "HOME": str(self.home),
            "npm_config_cache": str(self.root / "npm-cache"),
            **dict.fromkeys(_XDG),
        }
        for key, value in changes.items():
            self._saved[key] = os.environ.get(key)
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def written(self) -> list[str]:
        """Paths (relative to the fake home) that something created during the run."""
        return sorted(str(p.relative_to(self.home)) for p in self.home.rglob("*"))

    def exit(self) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(self.root, ignore_errors=True)
