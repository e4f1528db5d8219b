"""Configuration: one pydantic-settings :class:`Settings`, the only reader of the environment.

Every ``RAILS_*`` variable is a field here, validated, with a description; command-line
flags are generated from these fields (``rails_mcp.cli``) and passed back in as overrides,
so a flag and its variable cannot drift apart. A typo in a URL or a key without its
integration id stops start-up with a message that names the flag or variable, never its
secret value.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Final, Literal, cast
from urllib.parse import urlsplit

from pydantic import Field, HttpUrl, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from rails_mcp.credentials import CredentialPair, read_stored_credentials, store_credentials
from rails_mcp.paths import default_config_dir, default_state_dir
from rails_mcp.wire.budget import DEFAULT_TOKEN_BUDGET, HARD_TOKEN_CAP
from rails_mcp.wire.limits import DEMO_REPAIRER, DEMO_SUPPLIER, TENANT_PATTERN, TENANT_RULE

__all__ = [
    "DEMO_REPAIRER",
    "DEMO_SUPPLIER",
    "EMBEDDED",
    "ENV_PREFIX",
    "SECRET_FIELDS",
    "TENANT_PATTERN",
    "ApprovalPolicy",
    "BudgetScope",
    "ConfigError",
    "CredentialPair",
    "OtlpSettings",
    "Settings",
    "check_tenant",
    "env_name",
    "field_for_env",
    "flag_name",
    "is_loopback",
    "load_settings",
    "read_stored_credentials",
    "store_credentials",
]

#: What ``base_url`` is called when the embedded, in-process sandbox serves the wire.
EMBEDDED: Final = "embedded"
ENV_PREFIX: Final = "RAILS_"

#: Human approval of an order: ask when the host can, require (refuse when it cannot), or off.
ApprovalPolicy = Literal["ask", "require", "off"]
LogLevel = Literal["debug", "info", "warning", "error"]
#: Whom a budget counts: the tenant as a whole, or each principal (person or agent) within it.
BudgetScope = Literal["tenant", "principal"]

_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
#: An integration id: a UUID, or unset.
_IntegrationId = Annotated[str | None, Field(pattern=_UUID)]
_TOOL_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
#: An amount as a person types it: ASCII digits, optionally a point and more digits.
_PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)
#: A budget: an amount, an optional ISO currency code, and a calendar window (``5000 NZD/week``).
_BUDGET = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Z]{3})?\s*/\s*(day|week|month)\s*", re.ASCII)
_STATE_URL = re.compile(r"(postgres|postgresql)://.+", re.ASCII)

#: Fields whose value is a secret: never echoed, never written into a host's config file
#: unless asked (``rails-mcp config --include-secrets``).
SECRET_FIELDS: Final = frozenset(
    {"api_key", "supplier_api_key", "mcp_token", "approval_key", "client_secret", "state_url"}
)

#: The few flags not spelled ``--<field-name>`` (kept for compatibility with earlier releases).
_FLAG_NAMES: Final = {"mcp_token": "--auth-token", "sandbox_idle_reset_seconds": "--idle-reset-seconds"}


class ConfigError(Exception):
    """Invalid configuration: the message names the flags or variables, never secret values."""


class Settings(BaseSettings):
    """Everything rails-mcp reads from ``RAILS_*`` variables (flags override them)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,
        extra="ignore",
        validate_by_name=True,
        validate_by_alias=True,
    )

    # --- the wire --------------------------------------------------------------------------
    base_url: Annotated[
        HttpUrl | None,
        Field(description="Rails API base URL [default: the embedded sandbox, in-process]."),
    ] = None
    api_key: Annotated[
        SecretStr | None,
        Field(
            description="Repairer api_key, with RAILS_INTEGRATION_ID "
            "[default: the one `rails-mcp install` stored, else the demo repairer]."
        ),
    ] = None
    integration_id: Annotated[_IntegrationId, Field(description="Repairer integration id (a UUID).")] = None
    supplier_api_key: Annotated[
        SecretStr | None,
        Field(
            description="Supplier api_key, with RAILS_SUPPLIER_INTEGRATION_ID [default: the demo supplier]."
        ),
    ] = None
    supplier_integration_id: Annotated[
        _IntegrationId, Field(description="Supplier integration id (a UUID).")
    ] = None
    tenant: Annotated[
        str | None,
        Field(description=f"Sandbox tenant: {TENANT_RULE} [default: the shared world]."),
    ] = None
    timeout_seconds: Annotated[
        float, Field(gt=0, le=300, description="Per-request timeout on the wire, in seconds.")
    ] = 15.0
    client_secret: Annotated[
        SecretStr | None, Field(description="OAuth client secret, for `rails-mcp install` only.")
    ] = None

    # --- where files live ------------------------------------------------------------------
    state_dir: Annotated[
        Path | None,
        Field(
            description="Where state lives: the embedded sandbox's database, the audit log, "
            "the approval key [default: the platform's user data directory]."
        ),
    ] = None
    config_dir: Annotated[
        Path | None,
        Field(
            description="Where `rails-mcp install` stores credentials "
            "[default: the platform's user config directory]."
        ),
    ] = None
    db: Annotated[
        Path | None,
        Field(
            validation_alias="rails_sandbox_db",
            description="The sandbox's SQLite file [default: $RAILS_STATE_DIR/sandbox.sqlite3].",
        ),
    ] = None
    sandbox_idle_reset_seconds: Annotated[
        float | None,
        Field(
            gt=0,
            description="Reset a sandbox tenant to the seed after this long idle "
            "[default: never in-process; 3600 for `rails-mcp sandbox`].",
        ),
    ] = None

    # --- serving ---------------------------------------------------------------------------
    mcp_token: Annotated[
        SecretStr | None,
        Field(
            min_length=16,
            description="Bearer token HTTP clients must send (16+ characters); "
            "required to serve HTTP beyond loopback.",
        ),
    ] = None
    log_level: Annotated[LogLevel, Field(description="Server log level (stderr).")] = "warning"
    http_header_timeout_seconds: Annotated[
        float,
        Field(
            gt=0,
            le=300,
            description="HTTP: close a connection whose request line and headers have not all "
            "arrived this long after it opened (or after its next request began).",
        ),
    ] = 10.0
    http_body_timeout_seconds: Annotated[
        float,
        Field(
            gt=0,
            le=600,
            description="HTTP: close a connection whose request body has not all arrived this "
            "long after its headers.",
        ),
    ] = 30.0
    http_session_idle_seconds: Annotated[
        float,
        Field(
            gt=0,
            le=86_400,
            description="HTTP: end a streamable-HTTP MCP session after this long with no request "
            "in flight and no open stream (the client then initializes a new one).",
        ),
    ] = 600.0

    # --- identity: an OAuth 2.1 resource server (HTTP transports) -------------------------
    public_url: Annotated[
        str | None,
        Field(
            description="This server's MCP URL as its clients reach it (e.g. https://mcp.example.com/mcp): "
            "the OAuth protected resource, and the audience its tokens must name.",
        ),
    ] = None
    auth_issuer: Annotated[
        str | None,
        Field(
            description="OAuth authorization server whose JWT access tokens HTTP clients must send "
            "(https; http only on loopback); setting it turns OAuth on. Needs RAILS_PUBLIC_URL.",
        ),
    ] = None
    auth_audience: Annotated[
        str | None,
        Field(
            description="The audience (RFC 8707 resource) an access token must name "
            "[default: RAILS_PUBLIC_URL].",
        ),
    ] = None
    auth_jwks_url: Annotated[
        str | None,
        Field(
            description="Where the issuer publishes its signing keys [default: the jwks_uri of the "
            "issuer's OpenID or OAuth metadata].",
        ),
    ] = None

    # --- spending controls -----------------------------------------------------------------
    order_approval: Annotated[
        ApprovalPolicy,
        Field(
            description="Human approval of place_procurement: ask (when the host can ask), "
            "require (refuse when it cannot) or off."
        ),
    ] = "ask"
    approval_key: Annotated[
        SecretStr | None,
        Field(
            min_length=32,
            description="Key sealing approval state (32+ characters; share it between replicas) "
            "[default: generated in $RAILS_STATE_DIR/approval.key, mode 0600].",
        ),
    ] = None
    result_token_budget: Annotated[
        int,
        Field(
            ge=1_000,
            le=HARD_TOKEN_CAP,
            description="Largest tool result or resource read, in tokens (characters ÷ 4); a bigger "
            f"one is cut and says how to get the rest. At most {HARD_TOKEN_CAP:,}.",
        ),
    ] = DEFAULT_TOKEN_BUDGET
    max_order_total: Annotated[
        Decimal | None,
        Field(gt=0, description="Refuse an order whose total exceeds this, in the order's currency."),
    ] = None
    read_only: Annotated[bool, Field(description="List and allow only the read-only tools.")] = False
    tools: Annotated[
        list[str] | None,
        NoDecode,
        Field(description="Allow-list of tool names, comma-separated [default: all thirteen]."),
    ] = None
    webhooks: Annotated[
        bool,
        Field(
            description="Receive the wire's signed webhooks on a loopback port, so resource "
            "subscribers and track_procurement also hear of changes made elsewhere."
        ),
    ] = False
    audit_log: Annotated[
        Path | None,
        Field(description="Append one JSON line per tool call here [default: $RAILS_STATE_DIR/audit.jsonl]."),
    ] = None

    # --- shared state ----------------------------------------------------------------------
    state_url: Annotated[
        SecretStr | None,
        Field(
            description="The shared state store: postgresql://user:password@host/db for replicas "
            "[default: SQLite, $RAILS_STATE_DIR/state.sqlite3].",
        ),
    ] = None
    state_pool_size: Annotated[
        int, Field(ge=1, le=64, description="Postgres connections each process may hold open at once.")
    ] = 4
    budget: Annotated[
        str | None,
        Field(
            description="Spend allowed per calendar window in UTC, e.g. 5000/day, 20000 NZD/week "
            "or 80000/month; checked before anyone is asked [default: no budget].",
        ),
    ] = None
    budget_scope: Annotated[
        BudgetScope,
        Field(description="Count RAILS_BUDGET per tenant, or per principal within the tenant."),
    ] = "tenant"

    @field_validator("tenant")
    @classmethod
    def _tenant_rule(cls, value: str | None) -> str | None:
        if value is not None:
            check_tenant(value)
        return value

    @field_validator("max_order_total", mode="before")
    @classmethod
    def _plain_decimal(cls, value: object) -> object:
        """``1000`` or ``2500.50`` only: no ``1_000``, exponent, sign or non-ASCII digits."""
        if isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value):
            raise ValueError("must be a plain decimal amount such as 1000 or 2500.50")
        return value

    @field_validator("budget")
    @classmethod
    def _budget_rule(cls, value: str | None) -> str | None:
        if value is not None and not _BUDGET.fullmatch(value):
            raise ValueError("must be an amount, an optional currency and a window: 5000/day, 20000 NZD/week")
        return value

    @field_validator("state_url")
    @classmethod
    def _state_url_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _STATE_URL.fullmatch(value.get_secret_value()):
            raise ValueError("must be a postgresql:// URL (unset it for the SQLite file in RAILS_STATE_DIR)")
        return value

    @field_validator("tools", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("tools")
    @classmethod
    def _tool_names(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("name at least one tool, or unset it to allow all")
        bad = [name for name in value if not _TOOL_NAME.fullmatch(name)]
        if bad:
            raise ValueError(f"not a tool name: {', '.join(repr(b[:40]) for b in bad)}")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _pairs_go_together(self) -> Settings:
        for key, ident, name in (
            (self.api_key, self.integration_id, ""),
            (self.supplier_api_key, self.supplier_integration_id, "SUPPLIER_"),
        ):
            if (key is None) != (ident is None):
                raise ValueError(f"RAILS_{name}API_KEY and RAILS_{name}INTEGRATION_ID must be set together")
        return self

    @field_validator("public_url", "auth_issuer", "auth_jwks_url")
    @classmethod
    def _web_url(cls, value: str | None) -> str | None:
        """Kept exactly as given (an issuer is compared character for character), but checked."""
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("must be an http(s) URL with a host, and no query or fragment")
        return value

    @model_validator(mode="after")
    def _oauth_consistent(self) -> Settings:
        """OAuth is all or nothing, one way of guarding HTTP at a time, and over TLS off loopback."""
        if self.auth_issuer is None:
            for name, value in (("AUDIENCE", self.auth_audience), ("JWKS_URL", self.auth_jwks_url)):
                if value is not None:
                    raise ValueError(f"RAILS_AUTH_{name} needs RAILS_AUTH_ISSUER (it turns OAuth on)")
            return self
        if self.mcp_token is not None:
            raise ValueError(
                "set RAILS_AUTH_ISSUER (OAuth access tokens) or RAILS_MCP_TOKEN (one shared token), not both"
            )
        if self.public_url is None:
            raise ValueError(
                "RAILS_AUTH_ISSUER needs RAILS_PUBLIC_URL: this server's MCP URL as clients reach it "
                "(e.g. https://mcp.example.com/mcp)"
            )
        for name, url in (("ISSUER", self.auth_issuer), ("JWKS_URL", self.auth_jwks_url)):
            parts = urlsplit(url or "https://x")
            if parts.scheme != "https" and not is_loopback(parts.hostname or ""):
                raise ValueError(f"RAILS_AUTH_{name} must be https (http is allowed only on loopback)")
        return self

    # --- derived values ----------------------------------------------------------------------

    @property
    def embedded(self) -> bool:
        return self.base_url is None

    @property
    def target(self) -> str:
        """Where the wire is: the base URL, or ``embedded``."""
        return EMBEDDED if self.base_url is None else str(self.base_url).rstrip("/")

    @property
    def oauth_audience(self) -> str | None:
        """The audience access tokens must name: ``RAILS_AUTH_AUDIENCE``, else the public URL."""
        if self.auth_issuer is None:
            return None
        return self.auth_audience or self.public_url

    def resolved_state_dir(self) -> Path:
        return (self.state_dir or default_state_dir()).expanduser()

    def resolved_config_dir(self) -> Path:
        return (self.config_dir or default_config_dir()).expanduser()

    def sandbox_db(self) -> Path:
        """The sandbox's SQLite file: ``RAILS_SANDBOX_DB``, else in the state directory."""
        return self.db.expanduser() if self.db else self.resolved_state_dir() / "sandbox.sqlite3"

    def audit_log_path(self) -> Path:
        return self.audit_log.expanduser() if self.audit_log else self.resolved_state_dir() / "audit.jsonl"

    def approval_key_path(self) -> Path:
        """Where a generated approval key is kept (0600) when ``RAILS_APPROVAL_KEY`` is unset."""
        return self.resolved_state_dir() / "approval.key"

    def budget_parts(self) -> tuple[Decimal, str | None, Literal["day", "week", "month"]] | None:
        """``RAILS_BUDGET`` read: amount, currency (None: the first order's), window."""
        found = _BUDGET.fullmatch(self.budget) if self.budget else None
        if found is None:
            return None
        amount, currency, period = found.groups()
        return Decimal(amount), currency, cast("Literal['day', 'week', 'month']", period)

    def credentials_path(self) -> Path:
        return self.resolved_config_dir() / "credentials.json"

    def repairer(self) -> CredentialPair:
        """Environment first, then a credential ``rails-mcp install`` stored, then the demo one."""
        if self.api_key is not None and self.integration_id is not None:
            return CredentialPair(self.api_key.get_secret_value(), self.integration_id, "environment")
        stored = read_stored_credentials(self.credentials_path(), self.target, self.tenant)
        if stored is not None:
            return stored
        return CredentialPair(*DEMO_REPAIRER, source="demo")

    def supplier(self) -> CredentialPair:
        if self.supplier_api_key is not None and self.supplier_integration_id is not None:
            return CredentialPair(
                self.supplier_api_key.get_secret_value(), self.supplier_integration_id, "environment"
            )
        return CredentialPair(*DEMO_SUPPLIER, source="demo")


class OtlpSettings(BaseSettings):
    """Where traces go: OpenTelemetry's own ``OTEL_EXPORTER_OTLP_*`` variables (and
    ``OTEL_SERVICE_NAME``), read here too.

    Not ``RAILS_*`` settings: an operator's collector is configured the same way for every
    service it watches. Either endpoint turns OTLP export on; unset, nothing is exported and
    no exporter is made. The exporter itself reads the rest (headers, protocol, timeout).
    """

    model_config = SettingsConfigDict(env_prefix="OTEL_EXPORTER_OTLP_", env_ignore_empty=True, extra="ignore")

    endpoint: Annotated[
        str | None, Field(description="OTLP/HTTP base URL; traces go to <endpoint>/v1/traces.")
    ] = None
    traces_endpoint: Annotated[str | None, Field(description="OTLP/HTTP URL for traces alone.")] = None
    service_name: Annotated[
        str, Field(validation_alias="otel_service_name", description="The service the spans name.")
    ] = "rails-mcp"

    @property
    def exporting(self) -> bool:
        return bool(self.endpoint or self.traces_endpoint)


# --- names: field <-> variable <-> flag ------------------------------------------------------


def env_name(field: str) -> str:
    """The environment variable of a :class:`Settings` field (``tenant`` -> ``RAILS_TENANT``)."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, str):
        return alias.upper()
    return ENV_PREFIX + field.upper()


def field_for_env(variable: str) -> str | None:
    """The :class:`Settings` field a ``RAILS_*`` variable sets, or None when there is none."""
    for field in Settings.model_fields:
        if env_name(field) == variable.upper():
            return field
    return None


def flag_name(field: str) -> str:
    """The command-line flag of a :class:`Settings` field (``read_only`` -> ``--read-only``)."""
    return _FLAG_NAMES.get(field, "--" + field.replace("_", "-"))


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 optionally in brackets) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_tenant(name: str) -> str:
    """``name`` if it is a valid tenant name, else :class:`ValueError` stating the rule."""
    if not re.fullmatch(TENANT_PATTERN, name):
        raise ValueError(f"must be {TENANT_RULE}")
    return name


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment with flag ``overrides`` on top; :class:`ConfigError` if invalid.

    An override of ``None`` means "flag not given". Each problem names the flag when the
    value came from one, else the variable.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, given)) from None


#: A value that works, shown with any error about the setting.
_EXAMPLES: Final[Mapping[str, str]] = {
    "base_url": "http://127.0.0.1:8787 (a `rails-mcp sandbox`)",
    "integration_id": DEMO_REPAIRER[1],
    "supplier_integration_id": DEMO_SUPPLIER[1],
    "tenant": "my-shop",
    "approval_key": "the output of: python3 -c 'import secrets; print(secrets.token_hex(32))'",
    "mcp_token": "the output of: python3 -c 'import secrets; print(secrets.token_urlsafe(24))'",
    "max_order_total": "1000",
    "result_token_budget": str(DEFAULT_TOKEN_BUDGET),
    "read_only": "1",
    "webhooks": "1",
}


def _bounds(field: str) -> str:
    """``more than 0 and at most 300``: a number field's limits, read from its declaration."""
    said: list[str] = []
    for rule in Settings.model_fields[field].metadata:
        for attr, words in (("gt", "more than"), ("ge", "at least"), ("lt", "less than"), ("le", "at most")):
            limit = getattr(rule, attr, None)
            if limit is not None:
                said.append(f"{words} {limit:g}" if isinstance(limit, float) else f"{words} {limit}")
    return " and ".join(said)


def _in_words(field: str, kind: str, message: str, context: Mapping[str, Any]) -> str:
    """One validation problem as a person reads it: what is wrong, and a value that works."""
    if kind in {"url_parsing", "url_scheme", "url_type"}:
        said = "must be a full http:// or https:// URL with a host"
    elif kind == "too_short":
        said = f"must be at least {context.get('min_length')} characters long"
    elif kind in {"float_parsing", "int_parsing", "float_type", "int_type", "decimal_parsing"}:
        said = "must be a number" + (f", {_bounds(field)}" if _bounds(field) else "")
    elif kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"}:
        said = f"must be {_bounds(field)}"
    elif kind == "literal_error":
        said = f"must be one of {context.get('expected', '').replace(' or ', ', ')}"
    elif kind == "bool_parsing":
        said = "must be 1, true, yes or on (or 0, false, no, off)"
    elif kind == "string_pattern_mismatch" and field.endswith("integration_id"):
        said = "must be an integration id, a UUID"
    else:
        return message
    example = _EXAMPLES.get(field)
    return f"{said}, e.g. {example}" if example else said


def describe_errors(exc: ValidationError, given: Mapping[str, object] = {}) -> str:
    """Each problem as ``NAME: what is wrong, e.g. a good value``; the flag's name when one was given."""
    problems: list[str] = []
    aliases = {env_name(f).lower(): f for f in Settings.model_fields}
    for err in exc.errors(include_url=False, include_input=False):
        loc = str(err["loc"][0]) if err["loc"] else ""
        field = aliases.get(loc.lower(), loc)
        message = str(err["msg"]).removeprefix("Value error, ")
        if field in Settings.model_fields:
            name = flag_name(field) if field in given else env_name(field)
            problems.append(f"{name}: {_in_words(field, err['type'], message, err.get('ctx', {}))}")
        else:
            problems.append(message)
    return "invalid configuration: " + "; ".join(problems)
