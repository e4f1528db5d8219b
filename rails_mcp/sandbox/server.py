"""``rails-mcp sandbox``: the embedded sandbox served over HTTP by uvicorn."""

from __future__ import annotations

import hmac
import logging
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from rails_mcp.sandbox.app import create_app, error_response
from rails_mcp.wire import errors as e

__all__ = ["TOKEN_HEADER", "SandboxTokenGate", "serve"]

log = logging.getLogger(__name__)

#: Where a sandbox served beyond loopback wants its token: ``Authorization`` already carries
#: the integration's api_key, which is the wire's business, not the host's.
TOKEN_HEADER = "x-sandbox-token"  # noqa: S105 - a header name, not a secret


class SandboxTokenGate:
    """Every request but ``/healthz`` must carry the token (constant-time check), else 401."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") != "/healthz":
            given = next((v for k, v in scope.get("headers", []) if k == TOKEN_HEADER.encode()), b"")
            if not hmac.compare_digest(given, self._expected):
                await error_response(e.Unauthorized(), bare=False)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8787,
    db_path: str | Path,
    idle_reset_seconds: float | None = 3600.0,
    access_log: bool = False,
    token: str | None = None,
) -> None:
    """Serve the sandbox until interrupted; with ``token``, every request but /healthz needs it.

    The access log is off by default: the sandbox is a local development server, and a log
    line per call would cost more than answering a read.
    """
    app = create_app(db_path, idle_reset_seconds=idle_reset_seconds)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    idle = "never" if idle_reset_seconds is None else f"after {idle_reset_seconds:g}s idle"
    log.info("Rails sandbox (2026-01) — db %s — tenants reset %s", db_path, idle)
    uvicorn.run(
        SandboxTokenGate(app, token) if token else app,
        host=host,
        port=port,
        access_log=access_log,
        log_level="info",
        server_header=False,
    )
