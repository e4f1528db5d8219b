"""The platform's directories (via platformdirs): the defaults behind the ``*_dir`` settings.

Nothing here reads ``RAILS_*``: :class:`rails_mcp.config.Settings` is the only reader of
the environment and falls back to these when a directory is not configured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

import platformdirs

__all__ = ["APP_NAME", "HOSTS", "Host", "default_config_dir", "default_state_dir", "user_config_home"]

APP_NAME = "rails-mcp"

#: The MCP hosts whose configuration files ``rails-mcp install`` knows how to find and edit.
Host = Literal["claude-desktop", "claude-code", "cursor", "vscode"]
HOSTS: tuple[Host, ...] = get_args(Host)


def default_state_dir() -> Path:
    """The platform's user data directory for rails-mcp (XDG on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_config_dir() -> Path:
    """The platform's user config directory for rails-mcp: where ``install`` stores keys."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def user_config_home() -> Path:
    """The platform's base config directory, where desktop apps keep theirs.

    ``~/Library/Application Support`` on macOS, ``%APPDATA%`` on Windows,
    ``$XDG_CONFIG_HOME`` (else ``~/.config``) on Linux.
    """
    return Path(platformdirs.user_config_dir(appauthor=False, roaming=True))
