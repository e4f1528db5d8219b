"""The ``rails-mcp`` command line (click, already in the SDK's dependency tree via uvicorn).

``rails-mcp`` alone serves MCP over stdio, which is what ``uvx rails-mcp`` and Claude
Desktop start. Configuration comes from ``RAILS_*`` variables; every one has a flag.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import click

from rails_mcp.config import ConfigError, Settings, load_settings
from rails_mcp.paths import default_sandbox_db

F = TypeVar("F", bound=Callable[..., Any])


def config_options(fn: F) -> F:
    """The flags that mirror ``RAILS_*`` (flags win over the environment)."""
    options = [
        click.option(
            "--base-url", help="Rails API base URL [env RAILS_BASE_URL; default: embedded sandbox]."
        ),
        click.option(
            "--api-key", help="Repairer api_key [env RAILS_API_KEY; default: installed, else demo]."
        ),
        click.option("--integration-id", help="Repairer integration id [env RAILS_INTEGRATION_ID]."),
        click.option(
            "--supplier-api-key", help="Supplier api_key [env RAILS_SUPPLIER_API_KEY; default: demo]."
        ),
        click.option(
            "--supplier-integration-id", help="Supplier integration id [env RAILS_SUPPLIER_INTEGRATION_ID]."
        ),
        click.option(
            "--tenant", help="Sandbox tenant, [a-z0-9_-] [env RAILS_TENANT; default: shared world]."
        ),
        click.option(
            "--state-dir",
            type=click.Path(file_okay=False, path_type=Path),
            help="Where the embedded sandbox keeps state [env RAILS_STATE_DIR; default: user data dir].",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def settings_from(**flags: Any) -> Settings:
    try:
        return load_settings(**flags)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _logging(level: str) -> None:
    # stderr only: on stdio, stdout is the protocol.
    logging.basicConfig(stream=sys.stderr, level=level.upper(), format="%(levelname)s %(name)s: %(message)s")


@click.group(invoke_without_command=True)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
)
@config_options
@click.version_option(package_name="rails-mcp")
@click.pass_context
def main(ctx: click.Context, log_level: str, **flags: Any) -> None:
    """MCP server for collision-repair parts ordering over the Rails API (2026-01).

    With no command, serves MCP over stdio.
    """
    _logging(log_level)
    ctx.obj = flags
    if ctx.invoked_subcommand is None:
        _serve(settings_from(**flags), "stdio", host="127.0.0.1", port=8000, token=None)


def _serve(
    settings: Settings,
    transport: str,
    *,
    host: str,
    port: int,
    token: str | None,
    allowed_hosts: tuple[str, ...] = (),
    allowed_origins: tuple[str, ...] = (),
) -> None:
    from rails_mcp.hosting import serve
    from rails_mcp.runtime import open_rails
    from rails_mcp.server import build_server

    server = build_server(open_rails(settings))
    try:
        serve(
            server,
            transport,  # type: ignore[arg-type]
            host=host,
            port=port,
            token=token,
            allowed_hosts=allowed_hosts,
            allowed_origins=allowed_origins,
        )
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option(
    "--transport",
    type=click.Choice(["stdio", "sse", "streamable-http"]),
    default="stdio",
    show_default=True,
)
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP bind address.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--auth-token",
    envvar="RAILS_MCP_TOKEN",
    help="Bearer token HTTP clients must send; required beyond loopback [env RAILS_MCP_TOKEN].",
)
@click.option("--allowed-host", multiple=True, help="Extra Host header value to accept (repeatable).")
@click.option("--allowed-origin", multiple=True, help="Extra Origin to accept (repeatable).")
@config_options
@click.pass_obj
def serve(
    parent: dict[str, Any],
    transport: str,
    host: str,
    port: int,
    auth_token: str | None,
    allowed_host: tuple[str, ...],
    allowed_origin: tuple[str, ...],
    **flags: Any,
) -> None:
    """Serve MCP over stdio, legacy SSE (/sse) or streamable HTTP (/mcp)."""
    merged = {**parent, **{k: v for k, v in flags.items() if v is not None}}
    if auth_token is not None and len(auth_token) < 16:
        raise click.ClickException("invalid configuration: RAILS_MCP_TOKEN must be at least 16 characters")
    _serve(
        settings_from(**merged),
        transport,
        host=host,
        port=port,
        token=auth_token,
        allowed_hosts=allowed_host,
        allowed_origins=allowed_origin,
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8787, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="RAILS_SANDBOX_DB",
    default=None,
    help="SQLite file holding every tenant's world [env RAILS_SANDBOX_DB; default: "
    "$RAILS_STATE_DIR/sandbox.sqlite3 or the platform's user data directory].",
)
@click.option(
    "--idle-reset-seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=3600.0,
    show_default=True,
    help="Reset a tenant to the seed on its next call after this long idle.",
)
@click.option("--no-idle-reset", is_flag=True, help="Never reset idle tenants.")
def sandbox(
    host: str, port: int, db_path: Path | None, idle_reset_seconds: float, no_idle_reset: bool
) -> None:
    """Serve the embedded Rails sandbox (the 2026-01 wire plus extensions) over HTTP."""
    from rails_mcp.sandbox.server import serve as serve_sandbox

    serve_sandbox(
        host=host,
        port=port,
        db_path=db_path or default_sandbox_db(),
        idle_reset_seconds=None if no_idle_reset else idle_reset_seconds,
    )


@main.command("reset-tenant")
@click.argument("tenant", default="")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def reset_tenant(tenant: str, db_path: Path | None) -> None:
    """Reset TENANT (default: the shared default world) to the seed, now."""
    from rails_mcp.sandbox.store import reset_tenant as _reset

    _reset(db_path or default_sandbox_db(), tenant)
    click.echo(f"tenant {tenant or '(default)'} reset to the seed")


@main.command()
@click.option("--access-code", required=True, help="The OAuth access code from the install redirect.")
@click.option("--client-id", required=True, help="The OAuth client id.")
@click.option(
    "--client-secret", required=True, envvar="RAILS_CLIENT_SECRET", help="[env RAILS_CLIENT_SECRET]"
)
@config_options
@click.pass_obj
def install(
    parent: dict[str, Any], access_code: str, client_id: str, client_secret: str, **flags: Any
) -> None:
    """Exchange an OAuth access code for an api_key (integrations.insert) and store it (0600)."""
    from rails_mcp.client import mask_secret
    from rails_mcp.config import store_credentials
    from rails_mcp.runtime import open_client
    from rails_mcp.wire.errors import RailsError

    settings = settings_from(**{**parent, **{k: v for k, v in flags.items() if v is not None}})

    async def run() -> tuple[str, str]:
        async with open_client(settings, with_supplier=False) as rails:
            minted = await rails.integrations.insert(
                access_code=access_code, client_id=client_id, client_secret=client_secret
            )
        return minted.api_key, str(minted.integration_id)

    try:
        api_key, integration_id = anyio.run(run)
    except RailsError as exc:
        code = getattr(exc, "wire_code", type(exc).__name__)
        raise click.ClickException(f"install failed: {code} ({exc.message})") from None
    path = store_credentials(settings.target, settings.tenant, api_key, integration_id)
    click.echo(f"installed: api_key {mask_secret(api_key)}, integration_id {integration_id}")
    click.echo(f"stored in {path} (mode 0600); rails-mcp uses it when RAILS_API_KEY is not set")


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

    rendered = anyio.run(render_tool_schemas)
    drift = [name for name, text in rendered.items() if _read(out / f"{name}.json") != text]
    stale = sorted(p.name for p in out.glob("*.json") if p.stem not in rendered) if out.exists() else []
    if check:
        if drift or stale:
            raise click.ClickException(
                f"tool schemas drifted: {', '.join(drift + stale)}; run `rails-mcp schemas`"
            )
        click.echo(f"{len(rendered)} tool schemas match")
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (out / f"{name}.json").write_text(text, encoding="utf-8")
    for name in stale:
        (out / name).unlink()
    click.echo(f"wrote {len(rendered)} tool schemas to {out}")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


@main.command()
@click.option("--tenant", help="Tenant to walk (default: a fresh one).")
def demo(tenant: str | None) -> None:
    """Walk the Quickstart through a real MCP client over stdio, on a fresh tenant."""
    from rails_mcp.demo import run_demo

    ok = anyio.run(run_demo, tenant)
    sys.exit(0 if ok else 1)


def dump_json(data: object) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
