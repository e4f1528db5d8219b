"""Transports: stdio, legacy SSE and streamable HTTP, with the HTTP safety rules.

HTTP binds loopback by default and validates Host (421) and Origin (403) against the
bound address (DNS-rebinding protection, done by the SDK's transport security). Binding
beyond loopback is refused unless a bearer token is configured; then every request must
carry it (401 otherwise) and the Host/Origin validation stays on.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Sequence
from typing import Any, Literal

import anyio
import uvicorn
from mcp.server import Server
from mcp.server.sse import SseServerTransport
from mcp.server.stdio import stdio_server
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from rails_mcp.config import ConfigError

__all__ = [
    "BearerTokenMiddleware",
    "Transport",
    "http_app",
    "is_loopback",
    "refuse_open_bind",
    "security_settings",
    "serve",
]

log = logging.getLogger("rails_mcp.hosting")

Transport = Literal["stdio", "sse", "streamable-http"]

#: Largest MCP request body accepted over HTTP (a tools/call is a few KiB at most).
MAX_REQUEST_BODY = 1024 * 1024


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refuse_open_bind(host: str, token: str | None, *, what: str = "MCP over HTTP") -> None:
    """:class:`ConfigError` when ``host`` is beyond loopback and no token guards it."""
    if not is_loopback(host) and not token:
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
) -> ASGIApp:
    """The ASGI app for an HTTP transport, with the safety rules applied. Refuses unsafe binds."""
    refuse_open_bind(host, token)
    security = security_settings(host, port, allowed_hosts, allowed_origins)
    if transport == "sse":
        app: ASGIApp = sse_app(server, security)
    else:
        app = server.streamable_http_app(
            max_request_body_size=MAX_REQUEST_BODY, transport_security=security, host=host
        )
    return BearerTokenMiddleware(app, token) if token else app


async def run_stdio(server: Server[Any]) -> None:
    """Serve ``server`` on this process's stdin/stdout (the SDK's stdio transport) until EOF."""
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def serve(
    server: Server[Any],
    transport: Transport,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    allowed_hosts: Sequence[str] = (),
    allowed_origins: Sequence[str] = (),
) -> None:
    """Run ``server`` on ``transport`` until interrupted."""
    if transport == "stdio":
        anyio.run(run_stdio, server)
        return
    app = http_app(
        server,
        transport,
        host=host,
        port=port,
        token=token,
        allowed_hosts=allowed_hosts,
        allowed_origins=allowed_origins,
    )
    path = "/sse" if transport == "sse" else "/mcp"
    log.info("rails-mcp %s on http://%s:%d%s", transport, host, port, path)
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)
