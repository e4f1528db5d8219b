"""A loopback webhook receiver the MCP server can run, and the call that subscribes it.

When the server talks to a Rails sandbox (embedded, or ``RAILS_BASE_URL`` set to a local
``rails-mcp sandbox``), it can listen on ``127.0.0.1:<free port>`` and subscribe that URL
with ``POST {base}/__webhooks/subscribe``; every delivery then goes through
:meth:`ResourceHub.receive_webhook` (signature and replay window checked with
:func:`rails_mcp.webhooks.verify`, then what it names re-read from the wire). One Starlette
route served by uvicorn (h11): a head over 16 KiB is refused (h11 stops one still arriving,
the route one that came in a single read), a non-numeric ``Content-Length`` is answered 400
by h11, and bodies are capped and read under a deadline here.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, cast

import anyio
import anyio.abc
import httpx2
import uvicorn
from mcp.server import Server
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from rails_mcp.client import RailsClient
from rails_mcp.resources.hub import ResourceHub
from rails_mcp.wire.webhooks import SIGNATURE_HEADER

__all__ = [
    "MAX_BODY",
    "MAX_HEAD",
    "WebhookReceiver",
    "WebhookSetupError",
    "install_webhook_receiver",
    "receive_webhooks",
]

log = logging.getLogger("rails_mcp.resources")

#: A delivery is a small envelope of identifiers; anything larger is refused unread.
MAX_BODY = 256 * 1024
#: The request line and headers together (h11's incomplete-event limit).
MAX_HEAD = 16 * 1024
#: A body must arrive within this long (a sender that trickles is cut off).
READ_TIMEOUT_S = 10.0
#: How long a stopping receiver waits for a delivery in flight.
SHUTDOWN_GRACE_S = 2


def _refuse(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"ok": False, "reason": reason}, status_code=status)


def _head_size(request: Request) -> int:
    """The request line and headers as sent, near enough (h11 stops only a head still arriving)."""
    line = len(request.method) + len(request.url.path) + len(request.url.query) + 12
    return line + sum(len(name) + len(value) + 4 for name, value in request.headers.raw)


async def _body(request: Request) -> bytes | JSONResponse:
    """The raw body, or the answer refusing it (too large, too slow)."""
    declared = request.headers.get("content-length")
    if declared is not None and int(declared) > MAX_BODY:  # h11 has already refused a non-number
        return _refuse(413, "body_too_large")
    body = bytearray()
    with anyio.move_on_after(READ_TIMEOUT_S) as deadline:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return _refuse(413, "body_too_large")
    if deadline.cancelled_caught:
        return _refuse(408, "body_timeout")
    return bytes(body)


class WebhookReceiver:
    """Serves ``POST /webhooks`` on a loopback port, handing each delivery to the hub."""

    def __init__(self, hub: ResourceHub, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.hub = hub
        self.host = host
        self.port = port
        self.app = Starlette(routes=[Route("/webhooks", self._deliver, methods=["POST"])])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/webhooks"

    async def _deliver(self, request: Request) -> JSONResponse:
        if _head_size(request) > MAX_HEAD:
            return _refuse(431, "head_too_large")
        try:
            body = await _body(request)
        except ClientDisconnect:
            return _refuse(400, "disconnected")
        if isinstance(body, JSONResponse):
            return body
        receipt = await self.hub.receive_webhook(body, request.headers.get(SIGNATURE_HEADER))
        if not receipt.verified:
            return _refuse(401, receipt.reason or "unverified")
        if receipt.retry:
            return _refuse(503, receipt.reason or "retry")
        return JSONResponse({"ok": True, "duplicate": True} if receipt.duplicate else {"ok": True})

    def _config(self) -> uvicorn.Config:
        return uvicorn.Config(
            self.app,
            http="h11",
            lifespan="off",
            log_level="warning",
            access_log=False,
            server_header=False,
            date_header=False,
            h11_max_incomplete_event_size=MAX_HEAD,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
            limit_concurrency=64,
        )

    async def serve(self, *, task_status: anyio.abc.TaskStatus[str] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen until cancelled; ``task_status.started`` gets the URL once bound.

        uvicorn's public ``startup``/``main_loop``/``shutdown`` steps, not ``serve``: the
        receiver runs inside the MCP server, whose process owns the signal handlers.
        """
        config = self._config()
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        with sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            self.port = int(sock.getsockname()[1])
            await server.startup(sockets=[sock])
            try:
                task_status.started(self.url)
                await server.main_loop()
            finally:
                server.should_exit = True
                with anyio.CancelScope(shield=True):
                    await server.shutdown(sockets=[sock])


class WebhookSetupError(Exception):
    """The wire refused to hand out a secret or to subscribe the receiver (the reason code only)."""


async def _dev(client: RailsClient, path: str, body: Mapping[str, str]) -> dict[str, object]:
    response = await client.dev_post(path, body)
    try:
        parsed: object = response.json()
    except ValueError:
        parsed = None
    answer = (
        {str(k): v for k, v in cast("dict[object, object]", parsed).items()}
        if isinstance(parsed, dict)
        else {}
    )
    if answer.get("ok") is not True:
        reason = answer.get("reason") or "no reason"
        raise WebhookSetupError(f"{path} answered {response.status_code} ({reason})")
    return answer


@asynccontextmanager
async def receive_webhooks(
    hub: ResourceHub,
    client: RailsClient,
    integration_ids: Sequence[str],
    *,
    secrets: Mapping[str, str] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> AsyncGenerator[WebhookReceiver]:
    """Run a loopback receiver and subscribe it for ``integration_ids``; stop it on exit.

    Secrets not given in ``secrets`` are asked of ``POST /__webhooks/secret`` (answered to
    loopback callers only) and kept inside the hub, never logged. Subscribing replaces any
    URL the integration had (the sandbox keeps one per integration), so this is opt-in.
    Works with a ``rails-mcp sandbox`` on loopback and with the embedded one, whose
    delivery thread POSTs to the receiver's socket like any other.
    """
    receiver = WebhookReceiver(hub, host=host, port=port)
    known = dict(secrets or {})
    failure: Exception | None = None
    try:
        async with anyio.create_task_group() as tg:
            url: str = await tg.start(receiver.serve)
            try:
                for integration_id in integration_ids:
                    if integration_id not in known:
                        answer = await _dev(client, "/__webhooks/secret", {"integration_id": integration_id})
                        known[integration_id] = str(answer.get("secret", ""))
                hub.set_webhook_secrets(list(known.values()))
                for integration_id in integration_ids:
                    await _dev(
                        client, "/__webhooks/subscribe", {"integration_id": integration_id, "url": url}
                    )
            except (WebhookSetupError, httpx2.HTTPError) as exc:
                failure = exc  # raised below, outside the task group, as itself
                tg.cancel_scope.cancel()
            else:
                log.info("webhook receiver on %s subscribed for %d integration(s)", url, len(integration_ids))
                try:
                    yield receiver
                finally:
                    tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:  # the server's own error, thrown in at the yield
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    if failure is not None:
        raise failure


def install_webhook_receiver(
    server: Server[Any],
    hub: ResourceHub,
    client: RailsClient,
    integration_ids: Sequence[str],
    *,
    secrets: Mapping[str, str] | None = None,
) -> None:
    """Run :func:`receive_webhooks` for as long as ``server`` runs (wrapping its lifespan).

    Opt-in. If the wire has no webhook dev routes (a deployed API, a sandbox elsewhere), the
    server still starts: it logs that and carries on with its own writes as the only signal.
    """
    inner = server.lifespan

    @asynccontextmanager
    async def lifespan(s: Server[Any]) -> AsyncGenerator[Any]:
        async with AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(
                    receive_webhooks(hub, client, integration_ids, secrets=secrets)
                )
            except (WebhookSetupError, httpx2.HTTPError, OSError) as exc:
                log.info("webhooks unavailable (%s); subscribers hear of this server's own writes only", exc)
            async with inner(s) as state:
                yield state

    server.lifespan = lifespan
