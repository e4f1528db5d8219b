"""Where rails-mcp keeps its files: the platform's directories, overridable by environment."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "rails-mcp"


def state_dir() -> Path:
    """``$RAILS_STATE_DIR``, else the platform's user data directory (XDG on Linux)."""
    configured = os.environ.get("RAILS_STATE_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    """The platform's user config directory (XDG on Linux): where ``install`` stores keys."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def default_sandbox_db() -> Path:
    return state_dir() / "sandbox.sqlite3"
