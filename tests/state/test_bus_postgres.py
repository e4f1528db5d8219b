"""Resource updates across replicas on Postgres LISTEN/NOTIFY: a confirm served by one server
reaches a subscriber of another within 2 s, in both protocol eras, after the listening
connection is dropped too, and a server's own subscribers hear each change once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import psycopg
import pytest
from mcp import Client
from mcp.client.session import IncomingMessage
from mcp_types import ResourceUpdatedNotification

from rails_mcp.hosting import open_server
from tests.support.mcp_support import QUICKSTART, settings_for
from tests.support.postgres import fresh_database

pytestmark = [
    pytest.mark.anyio,
    # The 2025-11-25 subscribe verbs are what a legacy client uses; the SDK flags them as removed in 2026.
    pytest.mark.filterwarnings("ignore:resources/(un)?subscribe is removed"),
]

ERAS = ("legacy", "2026-07-28")


@dataclass
class Heard:
    """The resource updates one client was sent, in order."""

    uris: list[str] = field(default_factory=list[str])
    changed: anyio.Event = field(default_factory=anyio.Event)

    async def handle(self, message: IncomingMessage) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            self.uris.append(message.params.uri)
            self.changed.set()

    async def wait_for(self, uri: str, seconds: float = 2.0) -> None:
        with anyio.fail_after(seconds):
            while uri not in self.uris:
                await self.changed.wait()
                self.changed = anyio.Event()


@dataclass
class Replicas:
    one: Client
    two: Client
    heard_one: Heard
    heard_two: Heard
    database: str

    async def place(self) -> str:
        result = await self.one.call_tool("place_procurement", QUICKSTART)
        assert not result.is_error, result.structured_content
        return str((result.structured_content or {})["procurement"]["id"])

    async def confirm(self, pid: str) -> None:
        result = await self.one.call_tool("confirm_procurement", {"procurement_id": pid})
        assert not result.is_error, result.structured_content


@asynccontextmanager
async def replicas(tmp_path: Path, postgres_url: str, era: str) -> AsyncIterator[Replicas]:
    """Two servers on one wire (the embedded sandbox's file) and one Postgres state database."""
    database = fresh_database(postgres_url)
    settings = settings_for(tmp_path, tenant="bus", order_approval="off", state_url=database)
    heard_one, heard_two = Heard(), Heard()
    async with AsyncExitStack() as stack:
        one = await stack.enter_async_context(
            Client(open_server(settings, transport="in-memory"), mode=era, message_handler=heard_one.handle)
        )
        two = await stack.enter_async_context(
            Client(open_server(settings, transport="in-memory"), mode=era, message_handler=heard_two.handle)
        )
        yield Replicas(one, two, heard_one, heard_two, database)


async def listeners(database: str, *names: str) -> set[int]:
    """The backend pids of the servers' LISTEN connections (or those with other ``names``)."""

    def query() -> set[int]:
        with psycopg.connect(database, autocommit=True) as db:
            rows = db.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = ANY(%s) "
                "AND datname = current_database()",
                (list(names or ("rails-mcp-listen",)),),
            ).fetchall()
        return {row[0] for row in rows}

    return await anyio.to_thread.run_sync(query)


async def settled(database: str, done: Callable[[set[int]], bool], *names: str) -> set[int]:
    """Poll the connection pids (as :func:`listeners`) until ``done`` holds; fail after 10 s."""
    pids: set[int] = set()
    for _ in range(200):
        pids = await listeners(database, *names)
        if done(pids):
            return pids
        await anyio.sleep(0.05)
    raise AssertionError(f"connections never settled: {sorted(pids)}")


async def hears_confirm_on_the_other_server(r: Replicas, era: str) -> None:
    """Server two's subscriber is told of the confirm served by server one within 2 s."""
    pid = await r.place()
    uri = f"rails://procurements/{pid}"
    if era == "legacy":
        await r.two.subscribe_resource(uri)
        await r.confirm(pid)
        await r.heard_two.wait_for(uri)
        return
    async with r.two.listen(resource_subscriptions=[uri]) as stream:
        await r.confirm(pid)
        with anyio.fail_after(2):
            event = await anext(stream)
    assert getattr(event, "uri", None) == uri


@pytest.mark.parametrize("era", ERAS)
async def test_a_confirm_on_one_server_reaches_a_subscriber_of_another_within_two_seconds(
    tmp_path: Path, postgres_url: str, era: str
):
    async with replicas(tmp_path, postgres_url, era) as r:
        await hears_confirm_on_the_other_server(r, era)
    # Shut down: neither server leaves a listening or notifying connection behind.
    await settled(r.database, lambda pids: not pids, "rails-mcp-listen", "rails-mcp-notify")


async def test_after_the_listening_connection_is_dropped_updates_still_arrive(
    tmp_path: Path, postgres_url: str
):
    async with replicas(tmp_path, postgres_url, "legacy") as r:
        before = await listeners(r.database)
        assert len(before) == 2  # one LISTEN connection per server

        def terminate() -> None:
            with psycopg.connect(r.database, autocommit=True) as db:
                db.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (list(before),))

        await anyio.to_thread.run_sync(terminate)
        # Both reconnect on their own (backoff starts at 0.2 s).
        await settled(r.database, lambda pids: len(pids) == 2 and not pids & before)
        await hears_confirm_on_the_other_server(r, "legacy")


async def test_a_servers_own_subscriber_hears_each_change_once_and_the_other_hears_it_too(
    tmp_path: Path, postgres_url: str
):
    async with replicas(tmp_path, postgres_url, "legacy") as r:
        pid = await r.place()
        uri = f"rails://procurements/{pid}"
        await r.one.subscribe_resource(uri)
        await r.two.subscribe_resource(uri)
        await r.confirm(pid)
        await r.heard_two.wait_for(uri)
        # Server one's own NOTIFY comes back to it no later than it reached server two; allow more.
        await anyio.sleep(0.5)
        assert r.heard_one.uris.count(uri) == 1
        assert r.heard_two.uris.count(uri) == 1


async def test_when_the_first_of_two_connections_to_a_server_ends_the_other_still_hears_updates(
    tmp_path: Path, postgres_url: str
):
    """In-memory and stdio servers run one lifespan per connection: the listener moves on."""
    async with replicas(tmp_path, postgres_url, "legacy") as r:
        settings = settings_for(tmp_path, tenant="bus", order_approval="off", state_url=r.database)
        three = open_server(settings, transport="in-memory")
        heard = Heard()
        connected, leave = anyio.Event(), anyio.Event()

        async def first_connection() -> None:
            async with Client(three, mode="legacy") as first:
                await first.list_tools()
                connected.set()
                await leave.wait()

        async with anyio.create_task_group() as group:
            group.start_soon(first_connection)
            await connected.wait()  # this connection's lifespan started the listener
            async with Client(three, mode="legacy", message_handler=heard.handle) as second:
                before = await listeners(r.database)
                assert len(before) == 3  # one per server: the second connection shares the first's
                leave.set()  # ...and now the first ends, while the second stays
                # The listener moved on to the running connection.
                await settled(r.database, lambda pids: len(pids) == 3 and pids != before)
                pid = await r.place()
                uri = f"rails://procurements/{pid}"
                await second.subscribe_resource(uri)
                await r.confirm(pid)
                await heard.wait_for(uri)
