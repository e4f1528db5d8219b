"""Configuration from the environment (``RAILS_*``), mirrored by command-line flags.

pydantic-settings reads and validates it, so a typo in a URL or a key without its
integration id stops start-up with a message that names the variable, instead of being
silently ignored. Secret values are never echoed in those messages.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, HttpUrl, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rails_mcp.paths import config_dir, state_dir

__all__ = [
    "DEMO_REPAIRER",
    "DEMO_SUPPLIER",
    "EMBEDDED",
    "ConfigError",
    "CredentialPair",
    "Settings",
    "load_settings",
    "stored_credentials_path",
]

#: The demo credentials every fresh sandbox tenant ships with (seeds/000, public values).
DEMO_REPAIRER = ("partly_demo_repairer_3f8a1c0d9e2b4a67b1c2", "0c000000-0000-4000-8000-000000000001")
DEMO_SUPPLIER = ("partly_demo_supplier_8b4e2f1a6c0d3e9f7a25", "0c000000-0000-4000-8000-000000000002")

#: What ``base_url`` is called when the embedded, in-process sandbox serves the wire.
EMBEDDED = "embedded"

TENANT_PATTERN = r"^[a-z0-9_-]{1,64}$"


class ConfigError(Exception):
    """Invalid configuration: the message names the variables, never their secret values."""


@dataclass(frozen=True, slots=True)
class CredentialPair:
    api_key: str
    integration_id: str
    source: str  # "environment", "install" or "demo": said in logs, never the key itself


class Settings(BaseSettings):
    """Everything rails-mcp reads from ``RAILS_*`` variables (flags override them)."""

    model_config = SettingsConfigDict(env_prefix="RAILS_", env_ignore_empty=True, extra="ignore")

    base_url: Annotated[
        HttpUrl | None, Field(description="Rails API base URL; unset = the embedded sandbox.")
    ] = None
    api_key: SecretStr | None = None
    integration_id: Annotated[str | None, Field(pattern=r"^[0-9a-fA-F-]{36}$")] = None
    supplier_api_key: SecretStr | None = None
    supplier_integration_id: Annotated[str | None, Field(pattern=r"^[0-9a-fA-F-]{36}$")] = None
    tenant: Annotated[str | None, Field(pattern=TENANT_PATTERN)] = None
    state_dir: Path | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 15.0
    #: Idle reset of the in-process sandbox's tenants; off by default so an order placed
    #: tonight is still there tomorrow morning.
    sandbox_idle_reset_seconds: Annotated[float | None, Field(gt=0)] = None
    mcp_token: Annotated[SecretStr | None, Field(min_length=16)] = None

    @model_validator(mode="after")
    def _pairs_go_together(self) -> Settings:
        for key, ident, name in (
            (self.api_key, self.integration_id, ""),
            (self.supplier_api_key, self.supplier_integration_id, "SUPPLIER_"),
        ):
            if (key is None) != (ident is None):
                raise ValueError(f"RAILS_{name}API_KEY and RAILS_{name}INTEGRATION_ID must be set together")
        return self

    @property
    def embedded(self) -> bool:
        return self.base_url is None

    @property
    def target(self) -> str:
        """Where the wire is: the base URL, or ``embedded``."""
        return EMBEDDED if self.base_url is None else str(self.base_url).rstrip("/")

    def resolved_state_dir(self) -> Path:
        return (self.state_dir or state_dir()).expanduser()

    def sandbox_db(self) -> Path:
        return self.resolved_state_dir() / "sandbox.sqlite3"

    def repairer(self) -> CredentialPair:
        """Environment first, then a credential ``rails-mcp install`` stored, then the demo one."""
        if self.api_key is not None and self.integration_id is not None:
            return CredentialPair(self.api_key.get_secret_value(), self.integration_id, "environment")
        stored = read_stored_credentials(self.target, self.tenant)
        if stored is not None:
            return stored
        return CredentialPair(*DEMO_REPAIRER, source="demo")

    def supplier(self) -> CredentialPair:
        if self.supplier_api_key is not None and self.supplier_integration_id is not None:
            return CredentialPair(
                self.supplier_api_key.get_secret_value(), self.supplier_integration_id, "environment"
            )
        return CredentialPair(*DEMO_SUPPLIER, source="demo")


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment with flag ``overrides`` on top; :class:`ConfigError` if invalid."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems: list[str] = []
        for err in exc.errors(include_url=False, include_input=False):
            name = "RAILS_" + str(err["loc"][0]).upper() if err["loc"] else "configuration"
            problems.append(f"{name}: {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


# --- credentials stored by ``rails-mcp install`` -------------------------------------------


def stored_credentials_path() -> Path:
    override = os.environ.get("RAILS_CONFIG_DIR")
    return (Path(override).expanduser() if override else config_dir()) / "credentials.json"


def read_stored_credentials(target: str, tenant: str | None) -> CredentialPair | None:
    """The installed credential for this base URL and tenant, if one was stored."""
    path = stored_credentials_path()
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


def store_credentials(target: str, tenant: str | None, api_key: str, integration_id: str) -> Path:
    """Keep a minted credential (mode 0600), replacing any for the same target and tenant."""
    path = stored_credentials_path()
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
