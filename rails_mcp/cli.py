"""The ``rails-mcp`` command line (click, already in the SDK's dependency tree via uvicorn).

``rails-mcp`` alone serves MCP over stdio, which is what a host such as Claude Desktop
starts. Settings come from :class:`rails_mcp.config.Settings`, the only reader of the
environment: the flags below are generated from its fields (name, help, choices) and
handed back to it as overrides, so every ``RAILS_*`` variable has its flag and neither
can drift from the other. (Not click's ``auto_envvar_prefix``: that would make click a
second reader of the environment, with per-command names such as ``RAILS_SERVE_TENANT``.)

Every failure is one line on stderr and exit code 2 (1 for a check that ran and failed:
``schemas --check``, ``demo``), never a traceback.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
import types
from collections.abc import Callable, Generator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar, Union, get_args, get_origin

import anyio
import click

from rails_mcp import __version__
from rails_mcp.config import (
    ConfigError,
    Settings,
    check_tenant,
    env_name,
    flag_name,
    load_settings,
)
from rails_mcp.paths import HOSTS
from rails_mcp.telemetry import LOG_FORMAT, log_trace_ids

if TYPE_CHECKING:
    pass

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("rails_mcp.cli")

#: Where the wire is and whose credentials: every command that talks to it.
WIRE_FIELDS = (
    "base_url",
    "api_key",
    "integration_id",
    "supplier_api_key",
    "supplier_integration_id",
    "tenant",
    "timeout_seconds",
    "state_dir",
    "config_dir",
    "db",
    "sandbox_idle_reset_seconds",
    "log_level",
)
#: What a serving process adds: the spending controls and the audit log.
SERVER_FIELDS = (
    *WIRE_FIELDS,
    "order_approval",
    "max_order_total",
    "result_token_budget",
    "read_only",
    "tools",
    "audit_log",
    "webhooks",
)
#: How long the HTTP transports wait for a request, and keep an idle session.
HTTP_FIELDS = ("http_header_timeout_seconds", "http_body_timeout_seconds", "http_session_idle_seconds")
#: The sandbox's own process.
SANDBOX_FIELDS = ("db", "state_dir", "sandbox_idle_reset_seconds", "log_level")
#: ``rails-mcp sandbox``'s idle reset when none is configured (the in-process default is never).
SANDBOX_IDLE_RESET_DEFAULT = 3600.0

TTY_HINT = (
    "rails-mcp speaks MCP on stdio and is waiting for a client (a host such as Claude Desktop "
    "starts it); to try it run `rails-mcp demo`, to add it to a host `rails-mcp config claude-desktop`; "
    "Ctrl-D quits"
)


# --- errors: one line, exit 2 ---------------------------------------------------------------


class CheckFailed(click.ClickException):
    """A check that ran and found a problem (``schemas --check``): exit 1, like a linter."""

    exit_code = 1


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"rails-mcp: error: {_one_line(message)}", err=True)
    sys.exit(code)


class RailsGroup(click.Group):
    """A click group whose every error is one clean stderr line (exit 2), never a traceback."""

    def main(  # pyright: ignore[reportIncompatibleMethodOverride]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name or "rails-mcp", complete_var, standalone_mode=False, **extra)
        except click.exceptions.Abort:
            sys.exit(130)
        except click.exceptions.NoArgsIsHelpError as exc:  # `rails-mcp audit`: its help, as written
            click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message(), err=True)
            sys.exit(2)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "rails-mcp"
            _fail(f"{exc.format_message()} (see `{where} --help`)")
        except CheckFailed as exc:
            _fail(exc.format_message(), exc.exit_code)
        except click.ClickException as exc:
            _fail(exc.format_message())
        except ConfigError as exc:
            _fail(str(exc))
        except Exception as exc:
            log.debug("unexpected failure", exc_info=True)
            _fail(f"unexpected {type(exc).__name__}: {exc} (run with --log-level debug for details)")
        sys.exit(rv if isinstance(rv, int) else 0)


# --- flags generated from Settings ----------------------------------------------------------

_METAVARS: dict[object, str] = {Path: "PATH", Decimal: "AMOUNT", float: "SECONDS", int: "N"}


def _unwrap_optional(annotation: object) -> object:
    if get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def settings_option(field: str) -> Callable[[F], F]:
    """The click option for one :class:`Settings` field; its value goes back to Settings as is."""
    info = Settings.model_fields[field]
    kind = _unwrap_optional(info.annotation)
    help_text = f"{info.description} [env {env_name(field)}]"
    flag = flag_name(field)
    if kind is bool:
        return click.option(flag, field, is_flag=True, default=None, help=help_text)
    if get_origin(kind) is Literal:
        choices = [str(c) for c in get_args(kind)]
        return click.option(flag, field, type=click.Choice(choices), default=None, help=help_text)
    metavar = "A,B,…" if get_origin(kind) is list else _METAVARS.get(kind, "TEXT")
    return click.option(flag, field, default=None, metavar=metavar, help=help_text)


def settings_options(*fields: str) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        for field in reversed(fields):
            fn = settings_option(field)(fn)
        return fn

    return decorate


def settings_from(ctx: click.Context, flags: dict[str, Any]) -> Settings:
    """The environment, then the group's flags, then this command's: one :class:`Settings`."""
    parent: dict[str, Any] = ctx.find_root().params
    merged = {
        **{k: v for k, v in parent.items() if v is not None},
        **{k: v for k, v in flags.items() if v is not None},
    }
    settings = load_settings(**merged)
    logging.basicConfig(
        stream=sys.stderr,  # on stdio, stdout is the protocol
        level=settings.log_level.upper(),
        format=LOG_FORMAT,
    )
    log_trace_ids(logging.getLogger().handlers)
    return settings


# --- commands ---------------------------------------------------------------------------------


@click.group(cls=RailsGroup, invoke_without_command=True)
@settings_options(*SERVER_FIELDS)
@click.version_option(__version__, prog_name="rails-mcp")
@click.pass_context
def main(ctx: click.Context, **flags: Any) -> None:
    """MCP server for collision-repair parts ordering over the Rails API (2026-01).

    With no command, serves MCP over stdio (what a host such as Claude Desktop starts).
    Every setting is a RAILS_* variable and a flag; flags win.
    """
    if ctx.invoked_subcommand is None:
        settings = settings_from(ctx, {})
        _serve(settings, "stdio", host="127.0.0.1", port=8000)


@contextlib.contextmanager
def _collect_after_start_up() -> Generator[None]:
    """No cyclic garbage collection while the server starts; what start-up built is frozen.

    Start-up imports the SDK and builds some hundred thousand long-lived objects (modules,
    classes, pydantic validators) and frees next to none, yet the collector would walk them
    all again and again while they are made: a sixth of a cold start, for nothing. Collection
    resumes once the server is built, and ``gc.freeze`` keeps those objects out of every later
    collection, so serving pays only for what serving allocates.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def _serve(
    settings: Settings,
    transport: str,
    *,
    host: str,
    port: int,
    allowed_hosts: tuple[str, ...] = (),
    allowed_origins: tuple[str, ...] = (),
) -> None:
    with _collect_after_start_up():
        from rails_mcp.client import shown_address
        from rails_mcp.hosting import HttpLimits, open_server, refuse_open_bind, serve

        token = settings.mcp_token.get_secret_value() if settings.mcp_token else None
        oauth = None
        if settings.auth_issuer is not None and transport != "stdio":
            from rails_mcp.auth.tokens import resource_server_from_settings

            oauth = resource_server_from_settings(settings)
        if transport != "stdio":
            refuse_open_bind(host, token, oauth=oauth is not None)
        server = open_server(settings, transport=transport)
    path = "/sse" if transport == "sse" else "/mcp"
    shown = f"[{host}]" if ":" in host else host
    banner = (
        TTY_HINT
        if transport == "stdio"
        else f"rails-mcp: MCP over {transport} on http://{shown}:{port}{path} "
        f"(wire: {settings.target if settings.embedded else shown_address(settings.target)}); Ctrl-C stops"
    )
    quiet = transport == "stdio" and not sys.stdin.isatty()
    serve(
        server,
        transport,  # type: ignore[arg-type]
        host=host,
        port=port,
        token=token,
        allowed_hosts=allowed_hosts,
        allowed_origins=allowed_origins,
        limits=HttpLimits(
            header_timeout=settings.http_header_timeout_seconds,
            body_timeout=settings.http_body_timeout_seconds,
            session_idle=settings.http_session_idle_seconds,
        ),
        oauth=oauth,
        on_listening=None if quiet else lambda: click.echo(banner, err=True),
    )


@main.command()
@click.option(
    "--transport",
    type=click.Choice(["stdio", "sse", "streamable-http"]),
    default="stdio",
    show_default=True,
)
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP bind address.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--allowed-host", multiple=True, help="Extra Host header value to accept (repeatable).")
@click.option("--allowed-origin", multiple=True, help="Extra Origin to accept (repeatable).")
@settings_options(*SERVER_FIELDS, "mcp_token", *HTTP_FIELDS)
@click.pass_context
def serve(
    ctx: click.Context,
    transport: str,
    host: str,
    port: int,
    allowed_host: tuple[str, ...],
    allowed_origin: tuple[str, ...],
    **flags: Any,
) -> None:
    """Serve MCP over stdio, legacy SSE (/sse) or streamable HTTP (/mcp)."""
    _serve(
        settings_from(ctx, flags),
        transport,
        host=host,
        port=port,
        allowed_hosts=allowed_host,
        allowed_origins=allowed_origin,
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8787, show_default=True, type=click.IntRange(1, 65535))
@settings_options(*SANDBOX_FIELDS, "mcp_token")
@click.option("--no-idle-reset", is_flag=True, help="Never reset idle tenants.")
@click.pass_context
def sandbox(ctx: click.Context, host: str, port: int, no_idle_reset: bool, **flags: Any) -> None:
    """Serve the embedded Rails sandbox (the 2026-01 wire plus extensions) over HTTP.

    Idle tenants are reset to the seed after 3600 s unless configured otherwise. Beyond
    loopback a token is required, and every request but /healthz must carry it as
    X-Sandbox-Token (the wire's own Authorization header stays the integration's).
    """
    from rails_mcp.hosting import bind_listening, refuse_open_bind
    from rails_mcp.runtime import check_sandbox_database
    from rails_mcp.sandbox.server import serve as serve_sandbox

    settings = settings_from(ctx, flags)
    token = settings.mcp_token.get_secret_value() if settings.mcp_token else None
    refuse_open_bind(host, token, what="the sandbox")
    check_sandbox_database(settings.sandbox_db())
    bind_listening(host, port).close()  # a busy port is one line now, not uvicorn's Errno later
    idle = (
        settings.sandbox_idle_reset_seconds
        if "sandbox_idle_reset_seconds" in settings.model_fields_set
        else SANDBOX_IDLE_RESET_DEFAULT
    )
    if no_idle_reset:
        idle = None
    resets = "never" if idle is None else f"after {idle:g} s idle"
    click.echo(
        f"rails-mcp: Rails sandbox on http://{host}:{port} (db {settings.sandbox_db()}; "
        f"tenants reset to the seed {resets}); Ctrl-C stops",
        err=True,
    )
    serve_sandbox(host=host, port=port, db_path=settings.sandbox_db(), idle_reset_seconds=idle, token=token)


@main.command("reset-tenant")
@click.argument("tenant", default="")
@settings_options("db", "state_dir", "config_dir")
@click.pass_context
def reset_tenant(ctx: click.Context, tenant: str, **flags: Any) -> None:
    """Reset TENANT (default: the shared default world) to the seed, now.

    The seed knows no integration `rails-mcp install` added: a credential it stored for the
    tenant is refused afterwards, so the reset says so and how to get a new one.
    """
    from rails_mcp.config import EMBEDDED, read_stored_credentials
    from rails_mcp.sandbox.store import reset_tenant as _reset

    if tenant:
        _check_tenant_argument("TENANT", tenant)
    settings = settings_from(ctx, flags)
    _reset(settings.sandbox_db(), tenant)
    click.echo(f"tenant {tenant or '(default)'} reset to the seed in {settings.sandbox_db()}")
    if read_stored_credentials(settings.credentials_path(), EMBEDDED, tenant or None) is not None:
        flag = f" --tenant {tenant}" if tenant else ""
        click.echo(
            f"rails-mcp: warning: `rails-mcp install` stored a credential for this tenant in "
            f"{settings.credentials_path()}; the reset forgot its integration, so every call with it "
            f"is now refused (unauthorized). Run `rails-mcp install{flag} --access-code … --client-id … "
            "--client-secret …` again (the access code works again after a reset).",
            err=True,
        )


def _check_tenant_argument(name: str, value: str) -> None:
    try:
        check_tenant(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=name) from None


@main.command()
@click.option("--access-code", required=True, help="The OAuth access code from the install redirect.")
@click.option("--client-id", required=True, help="The OAuth client id.")
@settings_options("client_secret", *WIRE_FIELDS)
@click.pass_context
def install(ctx: click.Context, access_code: str, client_id: str, **flags: Any) -> None:
    """Exchange an OAuth access code for an api_key (integrations.insert) and store it (0600)."""
    from rails_mcp.client import mask_secret
    from rails_mcp.config import store_credentials
    from rails_mcp.runtime import open_client
    from rails_mcp.wire.errors import RailsError

    settings = settings_from(ctx, flags)
    if settings.client_secret is None:
        raise click.UsageError(
            "install needs the OAuth client secret: --client-secret or RAILS_CLIENT_SECRET"
        )
    client_secret = settings.client_secret.get_secret_value()

    async def run() -> tuple[str, str]:
        async with open_client(settings, with_supplier=False) as rails:
            minted = await rails.integrations.insert(
                access_code=access_code, client_id=client_id, client_secret=client_secret
            )
        return minted.api_key, str(minted.integration_id)

    try:
        api_key, integration_id = anyio.run(run)
    except RailsError as exc:
        code = str(getattr(exc, "wire_code", type(exc).__name__))
        hint = _install_hint(code, settings)
        raise click.ClickException(f"install failed: {code} ({exc.message}){hint}") from None
    path = store_credentials(
        settings.credentials_path(), settings.target, settings.tenant, api_key, integration_id
    )
    click.echo(f"installed: api_key {mask_secret(api_key)}, integration_id {integration_id}")
    click.echo(f"stored in {path} (mode 0600); rails-mcp uses it when RAILS_API_KEY is not set")


def _install_hint(code: str, settings: Settings) -> str:
    if code != "invalid_access_code":
        return ""
    if settings.embedded:
        tenant = settings.tenant or ""
        return (
            ". An access code works once per tenant: run `rails-mcp reset-tenant"
            f"{' ' + tenant if tenant else ''}` to start that tenant over, or install into a fresh one "
            "with --tenant NEW-NAME"
        )
    return ". An access code works once and expires: start the install again to get a new one"


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("tool_schemas"),
    show_default=True,
)
@click.option("--check", is_flag=True, help="Exit 1 if the files differ from the live server.")
def schemas(out: Path, check: bool) -> None:
    """Write tool_schemas/<tool>.json from the live server's tools/list."""
    from rails_mcp.schemas import render_tool_schemas
    from rails_mcp.tools.publish import PUBLISHED_FILE, published_file_text, store_published_file

    cache = published_file_text()
    drift = [PUBLISHED_FILE.name] if _read(PUBLISHED_FILE) != cache else []
    if drift and not check:
        store_published_file(cache)  # first: the files below are rendered from it
    rendered = anyio.run(render_tool_schemas)
    drift += [f"{name}.json" for name, text in rendered.items() if _read(out / f"{name}.json") != text]
    stale = sorted(p.name for p in out.glob("*.json") if p.stem not in rendered) if out.exists() else []
    if check:
        if drift or stale:
            raise CheckFailed(f"tool schemas drifted: {', '.join(drift + stale)}; run `rails-mcp schemas`")
        click.echo(f"{len(rendered)} tool schemas match")
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (out / f"{name}.json").write_text(text, encoding="utf-8")
    for name in stale:
        (out / name).unlink()
    click.echo(f"wrote {len(rendered)} tool schemas to {out} and their cache to {PUBLISHED_FILE}")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


@main.group()
def audit() -> None:
    """The audit trail every replica writes to the state store (the audit file is kept too)."""


@audit.command("export")
@click.option("--since", metavar="RFC3339", help="Only lines from this time on, e.g. 2026-12-01T09:00:00Z.")
@click.option("--tool", metavar="NAME", help="Only the lines of this tool.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="At most the first N lines.")
@settings_options("state_dir", "log_level")
@click.pass_context
def audit_export(
    ctx: click.Context, since: str | None, tool: str | None, limit: int | None, **flags: Any
) -> None:
    """Print the stored audit lines as JSONL, oldest first (RAILS_STATE_URL picks the store)."""
    from rails_mcp.audit import export_lines, since_epoch

    try:
        start = None if since is None else since_epoch(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--since'") from None
    lines = export_lines(settings_from(ctx, flags), since=start, tool=tool, limit=limit)
    for line in lines:
        click.echo(line)


@main.command()
@click.option("--tenant", help="Tenant to walk (default: a fresh one).")
def demo(tenant: str | None) -> None:
    """Walk the Quickstart through a real MCP client over stdio, on a fresh tenant."""
    from rails_mcp.demo import run_demo

    if tenant is not None:
        _check_tenant_argument("'--tenant'", tenant)
    ok = anyio.run(run_demo, tenant)
    sys.exit(0 if ok else 1)


@main.command("config")
@click.argument("host", type=click.Choice(HOSTS))
@click.option(
    "--env",
    "env_assignments",
    multiple=True,
    metavar="RAILS_X=VALUE",
    help="A setting for the entry's env (repeatable), e.g. --env RAILS_TENANT=my-shop.",
)
@click.option("--write", is_flag=True, help="Merge the entry into the host's config file (a backup is kept).")
@click.option("--name", default="rails", show_default=True, help="The server's name in the host.")
@click.option(
    "--include-secrets", is_flag=True, help="Also write api keys, tokens and the approval key given by --env."
)
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    help="Use the project's config (.mcp.json, .cursor/mcp.json, .vscode/mcp.json) in this directory.",
)
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Use this config file instead of the host's documented location.",
)
def config_command(
    host: str,
    env_assignments: tuple[str, ...],
    write: bool,
    name: str,
    include_secrets: bool,
    project: Path | None,
    file: Path | None,
) -> None:
    """Print (or --write) the HOST config entry that starts this installation of rails-mcp.

    The entry runs this Python by absolute path (`python -m rails_mcp`), never a package
    looked up by name, with the RAILS_* settings given by --env. Secrets are left out
    unless --include-secrets.
    """
    from rails_mcp import hostconfig

    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise click.BadParameter("letters, digits, '-' and '_' only", param_hint="'--name'")
    chosen = hostconfig.HOST_BY_NAME[host]
    plan = hostconfig.plan(
        chosen,
        name=name,
        env_assignments=env_assignments,
        include_secrets=include_secrets,
        project=project.absolute() if project else None,
        path=file.absolute() if file else None,
    )
    for note in plan.notes:
        click.echo(f"rails-mcp: note: {note}", err=True)
    click.echo(hostconfig.render(plan), nl=False)
    if not write:
        if chosen == "claude-code":
            how = f"run that command, or run again with --write to merge it into {plan.path}"
        else:
            key = hostconfig.servers_key(chosen)
            how = f'add that under "{key}" in {plan.path}, or run again with --write to merge it there'
        click.echo(f"rails-mcp: {how}", err=True)
        return
    backup = hostconfig.write_entry(plan)
    kept = f"; the previous file is kept as {backup}" if backup else ""
    click.echo(
        f'rails-mcp: wrote server "{name}" into {plan.path}{kept}; restart the host to load it', err=True
    )
