"""Who subscribed to what, and telling them when a resource changes.

Two eras side by side: 2026-07-28 ``subscriptions/listen`` streams (the SDK's
:class:`~mcp.server.subscriptions.ListenHandler` over an in-memory bus) and 2025-11-25
``resources/subscribe`` sessions, kept here per URI and per client connection. Both are
bounded, so a client cannot grow them without end, and a slow subscriber is skipped rather
than waited for. A shared bus (one per replica set, e.g. on Postgres) also carries updates
to and from the other replicas.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import anyio
from mcp import MCPError
from mcp.server import Server, ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    ResourceUpdated,
    SubscriptionBus,
)
from mcp_types import (
    INTERNAL_ERROR,
    EmptyResult,
    SubscribeRequestParams,
    SubscriptionsListenRequestParams,
    UnsubscribeRequestParams,
)

__all__ = [
    "MAX_SUBSCRIBED_URIS",
    "MAX_SUBSCRIBERS_PER_URI",
    "SEND_TIMEOUT_S",
    "SharedBus",
    "Subscriptions",
]

log = logging.getLogger("rails_mcp.resources")

#: How long one notification send may take before the subscriber is skipped this time.
SEND_TIMEOUT_S = 2.0
MAX_SUBSCRIBERS_PER_URI = 256
MAX_SUBSCRIBED_URIS = 4096


def _connection_key(session: ServerSession) -> int:
    """One key per client connection: the per-connection ``initialize`` params object, when there is one.

    ``ServerSession`` is built per request, so the session object itself would make every
    repeated subscribe a new subscriber; the handshake params live as long as the connection.
    """
    params = session.client_params
    return id(params) if params is not None else id(session)


class SharedBus(SubscriptionBus, Protocol):
    """A bus that also reaches other replicas: it listens while the server runs, and hands the
    URIs it hears from them to :meth:`on_remote`'s handler (for the 2025-11-25 sessions)."""

    def attached(self) -> AbstractAsyncContextManager[None]: ...

    def on_remote(self, handler: Callable[[Sequence[str]], Awaitable[None]]) -> None: ...


class Subscriptions:
    """Listen streams and legacy subscribers, and :meth:`publish` to reach them all."""

    def __init__(self, bus: SharedBus | None = None) -> None:
        self._shared = bus
        self._bus: SubscriptionBus = bus if bus is not None else InMemorySubscriptionBus()
        self._listen = ListenHandler(self._bus)
        self._legacy: dict[str, dict[int, ServerSession]] = {}
        if bus is not None:
            bus.on_remote(self._tell_sessions)

    def running(self) -> AbstractAsyncContextManager[object]:
        """Held while the server runs: a shared bus hears the other replicas meanwhile."""
        return self._shared.attached() if self._shared is not None else contextlib.nullcontext()

    async def publish(self, uris: Sequence[str]) -> None:
        """Tell every subscriber of ``uris``: 2026-07-28 listen streams and 2025-11-25 sessions."""
        unique = list(dict.fromkeys(uris))
        for uri in unique:
            await self._bus.publish(ResourceUpdated(uri=uri))
        await self._tell_sessions(unique)

    async def _tell_sessions(self, uris: Sequence[str]) -> None:
        """The 2025-11-25 half: each subscribed session of ``uris``, concurrently, each bounded."""
        sends = [(uri, key, s) for uri in uris for key, s in self._legacy.get(uri, {}).items()]
        if not sends:
            return
        async with anyio.create_task_group() as tg:
            for uri, key, session in sends:
                tg.start_soon(self._send, uri, key, session)

    async def _send(self, uri: str, key: int, session: ServerSession) -> None:
        delivered = False
        with anyio.move_on_after(SEND_TIMEOUT_S):
            try:
                await session.send_resource_updated(uri)
                delivered = True
            except Exception:  # a closed connection: forget the subscriber
                log.debug("dropping a resource subscriber of %s: its connection is gone", uri)
                self._legacy.get(uri, {}).pop(key, None)
        if not delivered:
            log.debug("resource update for %s not delivered within %ss", uri, SEND_TIMEOUT_S)

    async def subscribe(self, ctx: ServerRequestContext[Any], params: SubscribeRequestParams) -> EmptyResult:
        # Any URI is honoured, as the SDK's listen handler does on 2026-07-28: one that names
        # no resource simply never fires (bounded, so a client cannot grow this without end).
        if params.uri not in self._legacy and len(self._legacy) >= MAX_SUBSCRIBED_URIS:
            raise MCPError(INTERNAL_ERROR, "Too many subscribed resources; unsubscribe some first.")
        subscribers = self._legacy.setdefault(params.uri, {})
        if len(subscribers) >= MAX_SUBSCRIBERS_PER_URI:
            raise MCPError(INTERNAL_ERROR, "Too many subscribers to this resource; retry later.")
        subscribers[_connection_key(ctx.session)] = ctx.session
        return EmptyResult()

    async def unsubscribe(
        self, ctx: ServerRequestContext[Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        subscribers = self._legacy.get(params.uri, {})
        subscribers.pop(_connection_key(ctx.session), None)
        if not subscribers:
            self._legacy.pop(params.uri, None)
        return EmptyResult()

    def register(self, server: Server[Any]) -> None:
        """Add the subscribe, unsubscribe and listen handlers to ``server`` (public SDK API)."""
        server.add_request_handler("resources/subscribe", SubscribeRequestParams, self.subscribe)
        server.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, self.unsubscribe)
        server.add_request_handler("subscriptions/listen", SubscriptionsListenRequestParams, self._listen)

    def close(self) -> None:
        """End every open listen stream gracefully: each sends its final result, then stops."""
        self._listen.close()
