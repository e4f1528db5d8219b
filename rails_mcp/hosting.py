"""Transports: stdio, legacy SSE and streamable HTTP, with the HTTP safety rules.

HTTP binds loopback by default and validates Host (421) and Origin (403) against the
bound address (DNS-rebinding protection, done by the SDK's transport security). Binding
beyond loopback is refused unless a bearer token is configured; then every request must
carry it (401 otherwise) and the Host/Origin validation stays on.

No connection is held forever: uvicorn closes idle keep-alive connections, and
:func:`read_deadline_protocol` (uvicorn has no header or body read timeout) closes one whose
headers or body do not arrive in time. Idle streamable-HTTP sessions are ended by the SDK's
session manager (``session_idle_timeout``).
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import anyio
import h11
import uvicorn
from mcp.server import Server
from mcp.server.sse import SseServerTransport
from mcp.server.stdio import stdio_server
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from rails_mcp.config import ConfigError, OtlpSettings, Settings, is_loopback
from rails_mcp.telemetry import install_tracing, metrics_of

if TYPE_CHECKING:
    from rails_mcp.auth.tokens import ResourceServer

__all__ = [
    "BearerTokenMiddleware",
    "HttpLimits",
    "Transport",
    "bind_listening",
    "http_app",
    "is_loopback",
    "oauth_guarded",
    "read_deadline_protocol",
    "refuse_open_bind",
    "security_settings",
    "serve",
    "with_metrics",
]

log = logging.getLogger("rails_mcp.hosting")

Transport = Literal["stdio", "sse", "streamable-http"]

#: Largest MCP request body accepted over HTTP (a tools/call is a few KiB at most).
MAX_REQUEST_BODY = 1024 * 1024
#: Largest request line plus headers (h11 answers 400 beyond it).
MAX_HEADER_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """How long the HTTP server waits for a request's headers, its body, and an idle session."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    session_idle: float = 600.0


def refuse_open_bind(
    host: str, token: str | None, *, what: str = "MCP over HTTP", oauth: bool = False
) -> None:
    """:class:`ConfigError` when ``host`` is beyond loopback and no token (nor OAuth) guards it."""
    if not is_loopback(host) and not token and not oauth:
        raise ConfigError(
            f"refusing to serve {what} on {host} without a token: set RAILS_MCP_TOKEN "
            "(or --auth-token), or bind 127.0.0.1"
        )


def security_settings(
    host: str, port: int, extra_hosts: Sequence[str] = (), extra_origins: Sequence[str] = ()
) -> TransportSecuritySettings:
    """Host and Origin allow-lists for the bound address (plus loopback names when on loopback)."""
    names = {host}
    if is_loopback(host):
        names |= {"127.0.0.1", "localhost", "[::1]"}
    hosts = sorted({*(f"{n}:{port}" for n in names), *names, *extra_hosts})
    origins = sorted(
        {*(f"{scheme}://{n}:{port}" for n in names for scheme in ("http", "https")), *extra_origins}
    )
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


class BearerTokenMiddleware:
    """Every HTTP request must carry ``Authorization: Bearer <token>`` (constant-time check)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = b""
            for name, value in scope.get("headers", []):
                if name == b"authorization":
                    given = value
                    break
            if not hmac.compare_digest(given, self._expected):
                response = JSONResponse(
                    {"error": "unauthorized", "fix": "send Authorization: Bearer <RAILS_MCP_TOKEN>"},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="rails-mcp"'},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def sse_app(server: Server[Any], security: TransportSecuritySettings) -> Starlette:
    """The legacy HTTP+SSE transport (2024-11-05 style), served by the SDK's ``SseServerTransport``."""
    sse = SseServerTransport("/messages/", security_settings=security, max_request_body_size=MAX_REQUEST_BODY)

    class StreamEndpoint:
        """An ASGI endpoint (not a request/response function): the SSE stream owns ``send``."""

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            async with sse.connect_sse(scope, receive, send) as (read, write):
                await server.run(read, write, server.create_initialization_options())

    return Starlette(
        routes=[
            Route("/sse", endpoint=StreamEndpoint(), methods=["GET"]),
            Mount("/messages/", app=sse.handle_post_message),
        ]
    )


def http_app(
    server: Server[Any],
    transport: Literal["sse", "streamable-http"],
    *,
    host: str,
    port: int,
    token: str | None,
    allowed_hosts: Sequence[str] = (),
    allowed_origins: Sequence[str] = (),
    session_idle: float = HttpLimits().session_idle,
    oauth: ResourceServer | None = None,
) -> ASGIApp:
    """The ASGI app for an HTTP transport, with the safety rules applied. Refuses unsafe binds.

    A streamable-HTTP session with nothing in flight for ``session_idle`` seconds is ended.
    With ``oauth``, every request needs an access token from its issuer (see :func:`oauth_guarded`).
    """
    refuse_open_bind(host, token, oauth=oauth is not None)
    security = security_settings(host, port, allowed_hosts, allowed_origins)
    if transport == "sse":
        app: ASGIApp = sse_app(server, security)
    else:
        app = server.streamable_http_app(
            max_request_body_size=MAX_REQUEST_BODY,
            transport_security=security,
            host=host,
            session_idle_timeout=session_idle,
        )
    app = with_metrics(app, server, security)
    if oauth is not None:
        return oauth_guarded(app, oauth)
    return BearerTokenMiddleware(app, token) if token else app


def oauth_guarded(app: ASGIApp, oauth: ResourceServer) -> ASGIApp:
    """``app`` as an OAuth resource server: JWT access tokens from ``oauth``'s issuer, per-tool scopes."""
    from rails_mcp.auth.http import oauth_app  # only when OAuth is on: it loads the JOSE library
    from rails_mcp.auth.tokens import JwtVerifier

    return oauth_app(app, oauth, JwtVerifier(oauth), max_body=MAX_REQUEST_BODY)


def with_metrics(app: ASGIApp, server: Server[Any], security: TransportSecuritySettings) -> ASGIApp:
    """``GET /metrics`` beside the MCP endpoint: the server's Prometheus registry.

    Behind the same bearer token as MCP when one is set (the caller wraps both), and the same
    Host and Origin checks, so a page in a browser cannot read it through DNS rebinding.
    """
    metrics = metrics_of(server)
    if metrics is None:
        return app
    checks = TransportSecurityMiddleware(security)

    async def app_with_metrics(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/metrics":
            await app(scope, receive, send)
            return
        response = await checks.validate_request(Request(scope, receive))
        if response is None and scope["method"] not in ("GET", "HEAD"):
            response = PlainTextResponse("Method Not Allowed", status_code=405, headers={"Allow": "GET"})
        if response is None:
            scraped = await anyio.to_thread.run_sync(generate_latest, metrics.registry)  # reads the store
            response = Response(scraped, media_type=CONTENT_TYPE_LATEST)
        await response(scope, receive, send)

    return app_with_metrics


def read_deadline_protocol(limits: HttpLimits) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request does not arrive in time.

    uvicorn times out idle keep-alive connections but not a request still arriving, so a
    client sending a header or a body a byte at a time (or nothing at all) would hold its
    socket forever. The deadline starts when the connection opens, or when a new request's
    first bytes arrive, and is not moved by later bytes: headers get ``header_timeout``,
    then the body ``body_timeout`` from the end of the headers.
    """

    class ReadDeadlineProtocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _phase: object = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm(h11.IDLE, limits.header_timeout)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            state = self.conn.their_state
            if state is h11.IDLE:
                self._arm(h11.IDLE, limits.header_timeout)
            elif state is h11.SEND_BODY:
                self._arm(h11.SEND_BODY, limits.body_timeout)
            else:  # the whole request is in (or the connection is ending): the app's turn
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self, phase: object, seconds: float) -> None:
            if self._phase is phase:
                return  # a byte more does not buy more time
            self._disarm()
            self._phase = phase
            self._deadline = self.loop.call_later(seconds, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline, self._phase = None, None

        def _expire(self) -> None:
            log.info("closing an HTTP connection whose request did not arrive in time")
            self._deadline, self._phase = None, None
            if not self.transport.is_closing():
                self.transport.close()

    return ReadDeadlineProtocol


async def run_stdio(server: Server[Any]) -> None:
    """Serve ``server`` on this process's stdin/stdout (the SDK's stdio transport) until EOF."""
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def bind_listening(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening, or :class:`ConfigError` naming ``--port``.

    Bound here rather than by uvicorn, so a busy port is one line before anything is served,
    and "listening on" is said only once it is true.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use (another process listens there): "
                "stop it, or choose another port with --port"
            ) from None
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror}); check --host and --port"
        ) from None
    sock.set_inheritable(True)
    return sock


def serve(
    server: Server[Any],
    transport: Transport,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    allowed_hosts: Sequence[str] = (),
    allowed_origins: Sequence[str] = (),
    limits: HttpLimits | None = None,
    oauth: ResourceServer | None = None,
    on_listening: Callable[[], None] | None = None,
) -> None:
    """Run ``server`` on ``transport`` until interrupted; over HTTP, within ``limits``.

    ``on_listening`` runs once the port is bound (over stdio: at once), to say so.
    """
    if install_tracing(OtlpSettings()):
        log.info("exporting traces by OTLP")
    if transport == "stdio":
        if on_listening is not None:
            on_listening()
        anyio.run(run_stdio, server)
        return
    limits = limits or HttpLimits()
    app = http_app(
        server,
        transport,
        host=host,
        port=port,
        token=token,
        allowed_hosts=allowed_hosts,
        allowed_origins=allowed_origins,
        session_idle=limits.session_idle,
        oauth=oauth,
    )
    sock = bind_listening(host, port)
    path = "/sse" if transport == "sse" else "/mcp"
    log.info("rails-mcp %s on http://%s:%d%s", transport, host, port, path)
    if on_listening is not None:
        on_listening()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        server_header=False,
        http=read_deadline_protocol(limits),
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )
    with sock:
        uvicorn.Server(config).run(sockets=[sock])


def open_server(settings: Settings, *, transport: str) -> Server[Any]:
    """The MCP server this deployment runs: the tools plus its controls, approval and audit log.

    A generated approval key is created here (0600, in the state dir) when approval is on and
    ``RAILS_APPROVAL_KEY`` is unset; an allow-list naming an unknown tool stops start-up.
    """
    from rails_mcp.approval import gate_from_settings
    from rails_mcp.audit import audit_from_settings
    from rails_mcp.client import unreachable
    from rails_mcp.controls import Controls
    from rails_mcp.recovery import recover_at_start_up
    from rails_mcp.resources import SEEDED_JOB_EXTERNAL, ResourceHub, install_webhook_receiver
    from rails_mcp.resources.bus import subscription_bus_of
    from rails_mcp.runtime import open_client, open_rails
    from rails_mcp.server import build_server
    from rails_mcp.state import ledger_of
    from rails_mcp.tools import TOOLS

    controls = Controls.from_settings(settings, [tool.name for tool in TOOLS])
    rails = open_rails(settings)
    if settings.base_url is not None and (why := unreachable(rails.client.address)) is not None:
        log.warning("cannot connect to %s (%s); check RAILS_BASE_URL", rails.client.address, why)
    audit = audit_from_settings(settings)
    recover_at_start_up(audit, lambda: open_client(settings))
    # The demo job exists only in the embedded sandbox: a real API's scenario shows seen jobs.
    hub = ResourceHub(
        rails.client,
        seeded_job=SEEDED_JOB_EXTERNAL if settings.base_url is None else None,
        suppliers=rails.suppliers,
        bus=subscription_bus_of(settings),
        store=rails.store,
    )
    server = build_server(
        rails,
        hub=hub,
        controls=controls,
        approval=gate_from_settings(settings),
        audit=audit,
        transport=transport,
        result_token_budget=settings.result_token_budget,
        ledger=ledger_of(settings),
    )
    if settings.webhooks:
        integrations = [settings.repairer().integration_id, settings.supplier().integration_id]
        install_webhook_receiver(server, hub, rails.client, integrations)
    return server
