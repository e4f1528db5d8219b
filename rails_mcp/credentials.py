"""Credentials ``rails-mcp install`` stored: one 0600 JSON file, one entry per base URL and tenant."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CredentialPair", "read_stored_credentials", "store_credentials"]


@dataclass(frozen=True, slots=True)
class CredentialPair:
    api_key: str
    integration_id: str
    source: str  # "environment", "install" or "demo": said in logs, never the key itself


def read_stored_credentials(path: Path, target: str, tenant: str | None) -> CredentialPair | None:
    """The installed credential for this base URL and tenant, if one was stored in ``path``."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entries, list):
        return None
    for entry in entries:  # pyright: ignore[reportUnknownVariableType]
        if (
            isinstance(entry, dict)
            and entry.get("target") == target  # pyright: ignore[reportUnknownMemberType]
            and entry.get("tenant") == tenant  # pyright: ignore[reportUnknownMemberType]
        ):
            key, ident = entry.get("api_key"), entry.get("integration_id")  # pyright: ignore[reportUnknownMemberType,reportUnknownVariableType]
            if isinstance(key, str) and isinstance(ident, str):
                return CredentialPair(key, ident, "install")
    return None


def store_credentials(path: Path, target: str, tenant: str | None, api_key: str, integration_id: str) -> Path:
    """Keep a minted credential in ``path`` (mode 0600), replacing any for the same target and tenant."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        existing: list[Any] = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(existing, list):  # pyright: ignore[reportUnnecessaryIsInstance]
            existing = []
    except (OSError, ValueError):
        existing = []
    kept: list[Any] = [
        e
        for e in existing
        if not (isinstance(e, dict) and e.get("target") == target and e.get("tenant") == tenant)  # pyright: ignore[reportUnknownMemberType]
    ]
    kept.append({"target": target, "tenant": tenant, "api_key": api_key, "integration_id": integration_id})
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(kept, fh, indent=2)
    path.chmod(0o600)
    return path
