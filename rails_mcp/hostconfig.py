"""``rails-mcp config HOST``: the host entry that launches THIS installation, printed or merged.

A host (Claude Desktop, Claude Code, Cursor, VS Code) starts an MCP server from a command
in its JSON config. The entry written here names this interpreter by absolute path
(``<python> -m rails_mcp``), so it can never start a same-named package from a package
index, and it works whatever the host's ``PATH`` is. Secrets are left out unless asked:
config files get copied, synced and pasted into bug reports.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from rails_mcp.config import (
    SECRET_FIELDS,
    ConfigError,
    Settings,
    describe_errors,
    env_name,
    field_for_env,
)
from rails_mcp.paths import HOSTS, Host, user_config_home

__all__ = [
    "HOSTS",
    "HOST_BY_NAME",
    "Host",
    "Locations",
    "Plan",
    "choose_env",
    "config_path",
    "launch_command",
    "plan",
    "render",
    "server_entry",
    "write_entry",
]

HOST_BY_NAME: dict[str, Host] = {h: h for h in HOSTS}

#: A secret's partner that is useless (and breaks start-up) without it.
_PAIRED = {"api_key": "integration_id", "supplier_api_key": "supplier_integration_id"}


@dataclass(frozen=True, slots=True)
class Locations:
    """Where a user's host configs live: injectable, so tests never touch the real ones."""

    home: Path
    config_home: Path

    @classmethod
    def of_this_user(cls) -> Locations:
        return cls(home=Path.home(), config_home=user_config_home())


def config_path(host: Host, where: Locations, project: Path | None = None) -> Path:
    """The host's documented config file: user-wide, or the project's when ``project`` is given.

    Claude Desktop: ``~/Library/Application Support/Claude`` (macOS), ``%APPDATA%\\Claude``
    (Windows), ``$XDG_CONFIG_HOME/Claude`` (Linux builds). Claude Code: ``~/.claude.json``
    (user scope) or ``.mcp.json``. Cursor: ``~/.cursor/mcp.json`` or ``.cursor/mcp.json``.
    VS Code: the user profile's ``mcp.json`` or ``.vscode/mcp.json``.
    """
    if project is not None:
        relative = {
            "claude-desktop": None,
            "claude-code": Path(".mcp.json"),
            "cursor": Path(".cursor/mcp.json"),
            "vscode": Path(".vscode/mcp.json"),
        }[host]
        if relative is None:
            raise ConfigError("Claude Desktop has no per-project config; leave out --project")
        return project / relative
    return {
        "claude-desktop": where.config_home / "Claude" / "claude_desktop_config.json",
        "claude-code": where.home / ".claude.json",
        "cursor": where.home / ".cursor" / "mcp.json",
        "vscode": where.config_home / "Code" / "User" / "mcp.json",
    }[host]


def servers_key(host: Host) -> str:
    return "servers" if host == "vscode" else "mcpServers"


def launch_command() -> tuple[str, list[str]]:
    """This interpreter, by absolute path (symlinks kept: a venv's python IS the venv)."""
    return os.path.abspath(sys.executable), ["-m", "rails_mcp"]


def server_entry(host: Host, env: Mapping[str, str]) -> dict[str, Any]:
    command, args = launch_command()
    entry: dict[str, Any] = {"command": command, "args": args}
    if host in ("claude-code", "vscode"):
        entry = {"type": "stdio", **entry}
    if env:
        entry["env"] = dict(env)
    return entry


class _GivenOnly(Settings):
    """Settings validated from the given values alone: the caller's own environment is not the host's."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


#: Settings that name a file or folder.
_PATH_FIELDS = frozenset(
    name for name, info in Settings.model_fields.items() if "Path" in str(info.annotation)
)


def choose_env(assignments: Sequence[str], *, include_secrets: bool) -> tuple[dict[str, str], list[str]]:
    """``RAILS_X=value`` strings → the entry's ``env`` (validated) and notes for the person.

    Unknown variables and invalid values raise :class:`ConfigError`; secrets (and their
    integration ids) are dropped with a note unless ``include_secrets``.
    """
    env: dict[str, str] = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        name = name.strip().upper()
        if not sep or not name:
            raise ConfigError(f"--env takes NAME=value, got {item.split('=')[0][:40]!r}")
        if field_for_env(name) is None:
            known = ", ".join(env_name(f) for f in Settings.model_fields)
            raise ConfigError(f"--env: {name} is not a rails-mcp setting; known: {known}")
        env[name] = value
    try:
        values: dict[str, Any] = {field_for_env(k) or k: v for k, v in env.items()}
        _GivenOnly(**values)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc)) from None
    notes: list[str] = []
    for name, value in list(env.items()):
        # The host starts the server from a directory of its own: a relative path would move.
        if field_for_env(name) in _PATH_FIELDS and value and not Path(value).expanduser().is_absolute():
            env[name] = str(Path(value).expanduser().resolve())
            notes.append(f"{name} made absolute: {env[name]}")
    base = env.get(env_name("base_url"))
    if base is not None and urlsplit(base).password is not None and not include_secrets:
        del env[env_name("base_url")]
        notes.append(
            f"left out {env_name('base_url')}: it carries a password; secrets are not written unless "
            "--include-secrets"
        )
    if include_secrets:
        return env, notes
    for secret in sorted(SECRET_FIELDS):
        name = env_name(secret)
        if name not in env:
            continue
        del env[name]
        left_out = [name]
        partner = _PAIRED.get(secret)
        if partner and env.pop(env_name(partner), None) is not None:
            left_out.append(env_name(partner))
        hint = (
            "store the key with `rails-mcp install` (the server reads it from there)"
            if secret in _PAIRED
            else "set it in the host's environment"
        )
        notes.append(
            f"left out {' and '.join(left_out)}: secrets are not written unless --include-secrets; {hint}"
        )
    return env, notes


def _ephemeral(prefix: str) -> bool:
    parts = Path(prefix).parts
    return "uv" in parts and any(p.startswith("archive-v") for p in parts)


@dataclass(frozen=True, slots=True)
class Plan:
    host: Host
    name: str
    path: Path
    entry: dict[str, Any]
    notes: list[str] = field(default_factory=list[str])


def plan(
    host: Host,
    *,
    name: str,
    env_assignments: Sequence[str] = (),
    include_secrets: bool = False,
    where: Locations | None = None,
    project: Path | None = None,
    path: Path | None = None,
) -> Plan:
    env, notes = choose_env(env_assignments, include_secrets=include_secrets)
    if _ephemeral(sys.prefix):
        notes.append(
            "this interpreter lives in uv's cache (uvx) and may be cleaned away: install once with "
            "`uv tool install /path/to/checkout` (or a venv) and run `rails-mcp config` from there"
        )
    target = path or config_path(host, where or Locations.of_this_user(), project)
    return Plan(host, name, target, server_entry(host, env), notes)


def render(p: Plan) -> str:
    """What to paste: the JSON block for the host, or for Claude Code the ``claude mcp add`` line."""
    if p.host == "claude-code":
        env_flags = [f"-e {shlex.quote(f'{k}={v}')}" for k, v in p.entry.get("env", {}).items()]
        scope = "project" if p.path.name == ".mcp.json" else "user"
        words = [
            "claude mcp add",
            *env_flags,
            f"--scope {scope}",
            shlex.quote(p.name),
            "--",
            shlex.quote(p.entry["command"]),
            *map(shlex.quote, p.entry["args"]),
        ]
        return " ".join(words) + "\n"
    return json.dumps({servers_key(p.host): {p.name: p.entry}}, indent=2) + "\n"


def write_entry(p: Plan, *, now: datetime | None = None) -> Path | None:
    """Merge the entry into ``p.path`` (other entries and keys kept); return the backup, if any.

    The old file is copied to ``<file>.<timestamp>.bak`` first, and the new one replaces it
    atomically, so an interrupted write never leaves a half-written host config.
    """
    existing: dict[str, Any] = {}
    backup: Path | None = None
    if p.path.exists():
        text = p.path.read_text(encoding="utf-8")
        try:
            loaded: object = json.loads(text) if text.strip() else {}
        except ValueError:
            raise ConfigError(
                f"{p.path} is not plain JSON (comments?); left unchanged: add the entry by hand "
                "(run without --write to print it)"
            ) from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{p.path} does not hold a JSON object; left unchanged")
        existing = loaded  # pyright: ignore[reportUnknownVariableType]
        stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
        backup = p.path.with_name(f"{p.path.name}.{stamp}.bak")
        shutil.copy2(p.path, backup)
    servers: object = existing.setdefault(servers_key(p.host), {})
    if not isinstance(servers, dict):
        raise ConfigError(f'{p.path}: "{servers_key(p.host)}" is not a JSON object; left unchanged')
    servers[p.name] = p.entry
    p.path.parent.mkdir(parents=True, exist_ok=True)
    mode = p.path.stat().st_mode & 0o777 if p.path.exists() else 0o600
    fd, tmp = tempfile.mkstemp(prefix=p.path.name + ".", suffix=".tmp", dir=p.path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(existing, fh, indent=2)
            fh.write("\n")
        os.chmod(tmp, mode)
        os.replace(tmp, p.path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return backup
