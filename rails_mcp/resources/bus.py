"""Resource updates across replicas: the SDK's ``SubscriptionBus`` on Postgres ``LISTEN/NOTIFY``.

Every replica on one Postgres state database shares the channel ``rails_mcp_resources``. A
replica that changes a resource tells its own subscribers at once (the SDK's
:class:`~mcp.server.subscriptions.InMemorySubscriptionBus`) and sends ``NOTIFY`` with the
resource's URI; every other replica hears it on one dedicated ``LISTEN`` connection and tells
its subscribers. The payload is ``<bus tag> <uri>``: the tag lets a bus skip its own
notifications (its subscribers already heard), and nothing else travels, so no secret can.
Delivery is best effort, like the SDK's: a notification sent while a replica is reconnecting
is missed, and a replica that cannot reach Postgres still tells its own subscribers.

psycopg is imported only when this bus is built, so a SQLite deployment never loads it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup, TaskStatus
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated, ServerEvent

from rails_mcp.config import Settings
from rails_mcp.state import is_postgres

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = ["CHANNEL", "PostgresSubscriptionBus", "subscription_bus_of"]

log = logging.getLogger("rails_mcp.resources")

#: The Postgres channel every replica listens on.
CHANNEL = "rails_mcp_resources"
#: Postgres refuses a NOTIFY payload of 8000 bytes or more.
MAX_PAYLOAD_BYTES = 7999
#: How long one NOTIFY may take before the update stays local (the caller is never held up longer).
PUBLISH_TIMEOUT_S = 2.0
#: Reconnecting the listener: the first wait, doubled after each failure up to the last.
RECONNECT_FIRST_S = 0.2
RECONNECT_MAX_S = 10.0

RemoteHandler = Callable[[Sequence[str]], Awaitable[None]]


def subscription_bus_of(settings: Settings) -> PostgresSubscriptionBus | None:
    """The shared bus when ``RAILS_STATE_URL`` names Postgres; ``None``: this process's own bus."""
    url = settings.state_url.get_secret_value() if settings.state_url is not None else ""
    return PostgresSubscriptionBus(url) if is_postgres(url) else None


class PostgresSubscriptionBus:
    """A ``SubscriptionBus`` whose resource updates reach every replica on one Postgres database.

    :meth:`attached` runs the listener while the server runs (entered once per server lifespan;
    concurrent entries share one listener). :meth:`on_remote` adds a coroutine told of URIs that
    arrived from other replicas, for subscribers the bus's own listeners do not reach.
    """

    def __init__(self, url: str, *, channel: str = CHANNEL) -> None:
        self._url = url
        self._channel = channel
        self._tag = secrets.token_hex(8)
        self._local = InMemorySubscriptionBus()
        self._remote: list[RemoteHandler] = []
        self._publisher: AsyncConnection[Any] | None = None
        self._publish_lock = anyio.Lock()
        self._groups: list[TaskGroup] = []
        self._owner: TaskGroup | None = None
        # Made when a listener starts: a CancelScope needs a running event loop, and a bus is built
        # before the server's loop starts.
        self._listener: anyio.CancelScope | None = None

    # --- the SDK's SubscriptionBus ---------------------------------------------------------------

    async def publish(self, event: ServerEvent) -> None:
        """Tell this process's listeners now; a resource update also goes to the other replicas."""
        await self._local.publish(event)
        if isinstance(event, ResourceUpdated):
            await self._notify(event.uri)

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        return self._local.subscribe(listener)

    def on_remote(self, handler: RemoteHandler) -> None:
        self._remote.append(handler)

    # --- publishing ------------------------------------------------------------------------------

    async def _notify(self, uri: str) -> None:
        payload = f"{self._tag} {uri}"
        if len(payload.encode()) > MAX_PAYLOAD_BYTES:
            log.warning(
                "a resource URI too long for NOTIFY (%d bytes) stays on this replica", len(uri.encode())
            )
            return
        async with self._publish_lock:
            sent = False
            with anyio.move_on_after(PUBLISH_TIMEOUT_S):
                try:
                    if self._publisher is None or self._publisher.closed:
                        self._publisher = await self._connect("rails-mcp-notify")
                    await self._publisher.execute("SELECT pg_notify(%s, %s)", (self._channel, payload))
                    sent = True
                except Exception as exc:  # psycopg's or the network's: the write itself stands
                    log.warning("resource update not sent to other replicas (%s)", type(exc).__name__)
            if not sent:  # failed or timed out mid-call: start afresh next time
                await self._close_publisher()

    async def _connect(self, name: str) -> AsyncConnection[Any]:
        import psycopg

        return await psycopg.AsyncConnection.connect(
            self._url, autocommit=True, connect_timeout=10, application_name=name
        )

    async def _close_publisher(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            with anyio.CancelScope(shield=True):
                await publisher.close()

    # --- listening -------------------------------------------------------------------------------

    @asynccontextmanager
    async def attached(self) -> AsyncGenerator[None]:
        """Listen while the server runs; the last one out closes both connections."""
        async with anyio.create_task_group() as group:
            self._groups.append(group)
            if self._owner is None:
                self._owner, self._listener = group, anyio.CancelScope()
                await group.start(self._listen, self._listener)
            try:
                yield
            finally:
                self._groups.remove(group)
                if self._owner is group and self._listener is not None:  # hand the listener on
                    self._listener.cancel()
                    self._owner = None
                    if self._groups:
                        self._owner, self._listener = self._groups[0], anyio.CancelScope()
                        self._owner.start_soon(self._listen, self._listener)
                if not self._groups:
                    await self._close_publisher()

    async def _listen(
        self, scope: anyio.CancelScope, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """One LISTEN connection, reconnected with backoff whenever it drops, until cancelled.

        Start-up waits for the first attempt only (bounded by the connect timeout): listening,
        or failed and retrying in the background.
        """
        wait = RECONNECT_FIRST_S
        with scope:
            connection = await self._open_listener(wait)
            task_status.started()
            while True:
                if connection is not None:
                    wait = RECONNECT_FIRST_S
                    try:
                        async for note in connection.notifies():
                            await self._arrived(note.payload)
                    except Exception as exc:  # the listener must outlive any failure of the database
                        log.warning("lost the other replicas (%s); reconnecting", type(exc).__name__)
                    finally:
                        with anyio.CancelScope(shield=True):
                            await connection.close()
                await anyio.sleep(wait)
                wait = min(wait * 2, RECONNECT_MAX_S)
                connection = await self._open_listener(wait)

    async def _open_listener(self, retry_in: float) -> AsyncConnection[Any] | None:
        """A connection listening on the channel, or ``None`` (logged) when Postgres cannot be reached."""
        from psycopg import sql

        connection: AsyncConnection[Any] | None = None
        listening = False
        try:
            connection = await self._connect("rails-mcp-listen")
            await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            listening = True
            return connection
        except Exception as exc:  # psycopg's or the network's: try again later
            log.warning("not hearing other replicas (%s); retrying in %.1fs", type(exc).__name__, retry_in)
            return None
        finally:
            if connection is not None and not listening:  # failed, or cancelled half-way
                with anyio.CancelScope(shield=True):
                    await connection.close()

    async def _arrived(self, payload: str) -> None:
        """A notification: another replica's update goes to this process's subscribers."""
        tag, _, uri = payload.partition(" ")
        if tag == self._tag or ":" not in uri or len(tag) != len(self._tag):
            return  # this bus's own (already delivered), or not ours to read
        await self._local.publish(ResourceUpdated(uri=uri))
        for handler in self._remote:
            try:
                await handler([uri])
            except Exception:  # one failing handler must not stop the listener
                log.exception("a remote resource update could not be delivered")
