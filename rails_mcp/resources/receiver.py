"""A loopback webhook receiver the MCP server can run, and the call that subscribes it.

When the server talks to a Rails sandbox over HTTP (``RAILS_BASE_URL`` set to a local
``rails-mcp sandbox``), it can listen on ``127.0.0.1:<free port>`` and subscribe that URL
with ``POST {base}/__webhooks/subscribe``; every delivery then goes through
:meth:`ResourceHub.receive_webhook` (signature and replay window checked with
:func:`rails_mcp.webhooks.verify`). A deliberately tiny HTTP/1.1 server on anyio: one POST,
size-capped, loopback only, so the MCP server needs no web framework for it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, cast

import anyio
import anyio.abc
import httpx2
from mcp.server import Server

from rails_mcp.client import RailsClient
from rails_mcp.resources.hub import ResourceHub
from rails_mcp.wire.webhooks import SIGNATURE_HEADER

__all__ = ["MAX_BODY", "WebhookReceiver", "WebhookSetupError", "install_webhook_receiver", "receive_webhooks"]

log = logging.getLogger("rails_mcp.resources")

MAX_BODY = 256 * 1024
MAX_HEAD = 16 * 1024
READ_TIMEOUT_S = 10.0


class WebhookReceiver:
    """Serves ``POST /webhooks`` on a loopback port, handing each delivery to the hub."""

    def __init__(self, hub: ResourceHub, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.hub = hub
        self.host = host
        self.port = port
        self.deliveries = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/webhooks"

    async def serve(self, *, task_status: anyio.abc.TaskStatus[str] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen until cancelled; ``task_status.started`` gets the URL once bound."""
        listener = await anyio.create_tcp_listener(local_host=self.host, local_port=self.port)
        async with listener:
            self.port = int(listener.extra(anyio.abc.SocketAttribute.local_port))  # noqa: S610
            task_status.started(self.url)
            await listener.serve(self._handle)

    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        async with stream:
            try:
                with anyio.fail_after(READ_TIMEOUT_S):
                    status, body = await self._exchange(stream)
            except (TimeoutError, anyio.EndOfStream, anyio.BrokenResourceError, OSError, ValueError):
                return
            reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 413: "Too Large"}
            head = (
                f"HTTP/1.1 {status} {reason.get(status, 'OK')}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            try:
                await stream.send(head.encode() + body)
            except (anyio.BrokenResourceError, OSError):
                return

    async def _exchange(self, stream: anyio.abc.SocketStream) -> tuple[int, bytes]:
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            if len(buffer) > MAX_HEAD:
                return 413, b'{"ok":false,"reason":"head_too_large"}'
            buffer += await stream.receive()
        head, _, rest = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, *_ = lines[0].split(" ")
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        if method != "POST" or path.split("?")[0] != "/webhooks":
            return 404, b'{"ok":false,"reason":"not_found"}'
        length = int(headers.get("content-length", "0"))
        if length > MAX_BODY:
            return 413, b'{"ok":false,"reason":"body_too_large"}'
        while len(rest) < length:
            rest += await stream.receive()
        receipt = await self.hub.receive_webhook(rest[:length], headers.get(SIGNATURE_HEADER))
        self.deliveries += 1
        if not receipt.verified:
            return 401, f'{{"ok":false,"reason":"{receipt.reason}"}}'.encode()
        return 200, b'{"ok":true,"duplicate":true}' if receipt.duplicate else b'{"ok":true}'


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
