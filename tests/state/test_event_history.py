"""Order event history on the shared store, on both backends: what one replica records another
shows, a delivery two replicas both receive is one event delivered twice, the bounds hold, a
restart forgets nothing, and a failing store costs only the history, never a tool call."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from mcp import Client

from rails_mcp.resources.events import EventLog, ProcurementEvent
from rails_mcp.runtime import open_client
from rails_mcp.server import build_server
from rails_mcp.state.store import SqlStateStore
from rails_mcp.tools.context import Rails
from tests.support.mcp_support import QUICKSTART, settings_for

Open = Callable[[], SqlStateStore]
SCOPE = "https://rails.example|shop"
WRITERS = 24


def written(n: int, action: str = "placed") -> ProcurementEvent:
    return ProcurementEvent(at=f"t{n}", source="server_write", action=action, verification="server_write")


def delivered(event_id: str) -> ProcurementEvent:
    return ProcurementEvent(
        at="t",
        source="webhook",
        action="repairer.procurements",
        status="order_confirmed",
        verification="verified",
        event_id=event_id,
    )


def log_on(store: SqlStateStore, **bounds: int) -> EventLog:
    return EventLog(store=store, scope=SCOPE, **bounds)


def test_what_one_replica_records_the_other_shows_in_order(open_store: Open):
    one, two = log_on(open_store()), log_on(open_store())
    pid = uuid4()
    assert one.record(pid, written(1, "placed"))
    assert two.record(pid, written(2, "confirmed"))
    assert one.record(pid, delivered("evt-1"))
    for replica in (one, two):
        kept = replica.history(pid)
        assert [e.action for e in kept.events] == ["placed", "confirmed", "repairer.procurements"]
        assert kept.truncated == 0
    assert two.history(pid).events[2].status == "order_confirmed"
    assert two.history(uuid4()).events == []
    other_tenant = EventLog(store=open_store(), scope="https://rails.example|other")
    assert other_tenant.history(pid).events == []


def test_one_delivery_received_by_two_replicas_is_one_event_delivered_twice(open_store: Open):
    one, two = log_on(open_store()), log_on(open_store())
    pid = uuid4()
    assert one.record(pid, delivered("evt-7"))
    assert not two.record(pid, delivered("evt-7"))
    (event,) = one.history(pid).events
    assert (event.event_id, event.deliveries) == ("evt-7", 2)
    assert two.redelivered(pid, "evt-7")  # a replica that saw it itself counts the repeat
    assert not two.redelivered(pid, "evt-unknown")
    assert one.history(pid).events[0].deliveries == 3


def test_replicas_recording_one_delivery_at_once_keep_one_row_counting_every_delivery(open_store: Open):
    logs = [log_on(open_store()) for _ in range(4)]
    pid = uuid4()

    def deliver(n: int) -> bool:
        return logs[n % 4].record(pid, delivered("evt-race"))

    with ThreadPoolExecutor(max_workers=4) as pool:
        new = list(pool.map(deliver, range(40)))
    (event,) = logs[0].history(pid).events
    assert (new.count(True), event.deliveries) == (1, 40)


def test_the_oldest_events_are_dropped_past_the_count_or_bytes_and_counted(open_store: Open):
    pid = uuid4()
    by_count = log_on(open_store(), max_events=3)
    for n in range(5):
        by_count.record(pid, written(n))
    kept = log_on(open_store()).history(pid)
    assert ([e.at for e in kept.events], kept.truncated) == (["t2", "t3", "t4"], 2)

    other, size = uuid4(), len(written(0, action="a" * 300).model_dump_json())
    assert 1000 // 3 < size <= 1000 // 2  # two fit in 1000 bytes, three do not
    by_bytes = log_on(open_store(), max_bytes=1000)
    for n in range(10):
        by_bytes.record(other, written(n, action="a" * 300))
    kept = by_bytes.history(other)
    assert ([e.at for e in kept.events], kept.truncated) == (["t8", "t9"], 8)
    huge = written(10, action="a" * 2000)  # over the byte bound alone: the newest always stays
    by_bytes.record(other, huge)
    assert (by_bytes.history(other).events, by_bytes.history(other).truncated) == ([huge], 10)


def test_an_event_dropped_from_the_history_is_recorded_again_when_redelivered(open_store: Open):
    pid = uuid4()
    log = log_on(open_store(), max_events=2)
    log.record(pid, delivered("evt-old"))
    log.record(pid, written(1))
    log.record(pid, written(2))  # evt-old is dropped
    assert not log.redelivered(pid, "evt-old")
    assert log.record(pid, delivered("evt-old"))
    kept = log.history(pid)
    assert ([e.event_id for e in kept.events], kept.truncated) == ([None, "evt-old"], 2)


def test_the_least_recently_changed_procurements_are_forgotten_past_the_cap(open_store: Open):
    log = log_on(open_store(), max_procurements=3)
    first, second, *later = [uuid4() for _ in range(4)]
    log.record(first, written(1))
    log.record(second, written(1))
    log.record(later[0], written(1))
    log.record(first, written(2, "confirmed"))  # first changed again: second is now the oldest
    log.record(later[1], written(1))
    assert log.history(second).events == []
    assert [e.action for e in log.history(first).events] == ["placed", "confirmed"]
    assert all(len(log.history(pid).events) == 1 for pid in later)
    with open_store().transaction(write=False) as execute:
        counted = execute("SELECT count(DISTINCT procurement_id) FROM procurement_events", ()).fetchone()
    assert counted[0] == 3


def test_replicas_writing_while_old_orders_are_forgotten_never_deadlock_or_strand_events(open_store: Open):
    """Three connections, twenty-four writers, a cap of 20: every write lands, no event is left without
    its order's trail, the cap holds (give or take the orders other writers were starting at that
    moment), and an order forgotten meanwhile can be written again."""
    logs = [log_on(open_store(), max_events=3, max_procurements=20) for _ in range(3)]
    orders = [uuid4() for _ in range(80)]

    def write(worker: int) -> list[bool]:
        log = logs[worker % 3]
        return [log.record(orders[(worker * 7 + i) % 80], written(i)) for i in range(40)]

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        results = [ok for batch in pool.map(write, range(WRITERS)) for ok in batch]
    assert results == [True] * (WRITERS * 40)  # a failed write logs a warning and returns False
    with open_store().transaction(write=False) as execute:
        stranded = execute(
            "SELECT count(*) FROM procurement_events e WHERE NOT EXISTS (SELECT 1 FROM "
            "procurement_trails t WHERE t.scope = e.scope AND t.procurement_id = e.procurement_id)",
            (),
        ).fetchone()[0]
        trails = execute("SELECT count(*) FROM procurement_trails WHERE scope = ?", (SCOPE,)).fetchone()[0]
    assert stranded == 0
    assert 20 <= trails <= 20 + WRITERS  # the cap, give or take an order per writer busy at that moment
    assert all(logs[0].record(pid, written(99)) for pid in orders)


def test_one_tenants_orders_never_push_out_anothers_history(open_store: Open):
    store = open_store()
    quiet = EventLog(store=store, scope="https://rails.example|quiet", max_procurements=2)
    busy = log_on(store, max_procurements=2)
    kept = uuid4()
    quiet.record(kept, written(1))
    for _ in range(5):
        busy.record(uuid4(), written(1))
    assert [e.action for e in quiet.history(kept).events] == ["placed"]


def test_the_history_survives_a_restart(open_store: Open):
    before = open_store()
    pid = uuid4()
    log_on(before).record(pid, written(1))
    log_on(before, max_events=1).record(pid, delivered("evt-1"))
    before.close()
    kept = log_on(open_store()).history(pid)  # a new process on the same store
    assert ([e.event_id for e in kept.events], kept.truncated) == (["evt-1"], 1)


def test_a_failing_store_costs_the_history_and_says_so_in_the_server_log(
    open_store: Open, caplog: pytest.LogCaptureFixture
):
    store = open_store()
    log = log_on(store)
    pid = uuid4()
    log.record(pid, written(1))
    with store.transaction() as execute:
        execute("DROP TABLE procurement_events", ())
    with caplog.at_level(logging.WARNING, logger="rails_mcp.resources"):
        assert not log.record(pid, written(2))
        assert not log.redelivered(pid, "evt-1")
        assert log.history(pid).events == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert all("order event history" in w and "state store failed" in w for w in warnings)


async def call(client: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(name, args)
    assert not result.is_error, result.structured_content
    return result.structured_content or {}


@pytest.mark.anyio
async def test_an_order_placed_and_confirmed_on_one_server_shows_its_events_on_another(
    open_store: Open, tmp_path: Path
):
    """Two servers over one wire, each with its own connection to the one state store."""
    settings = settings_for(tmp_path, tenant="events", order_approval="off")
    one = build_server(Rails(open_client(settings), open_store()))
    two_store = open_store()
    two = build_server(Rails(open_client(settings), two_store))
    async with Client(one) as a, Client(two) as b:
        pid = (await call(a, "place_procurement", QUICKSTART))["procurement"]["id"]
        await call(a, "confirm_procurement", {"procurement_id": pid})
        tracked = await call(b, "track_procurement", {"procurement_id": pid})
        with two_store.transaction() as execute:
            execute("DROP TABLE procurement_events", ())
        from_the_wire = await call(b, "track_procurement", {"procurement_id": pid})
    assert [(e["action"], e["status"]) for e in tracked["events"]] == [
        ("placed", "order_requested"),
        ("confirmed", "order_confirmed"),
    ]
    assert {e["source"] for e in tracked["events"]} == {"server_write"}
    assert UUID(tracked["procurement"]["id"]) == UUID(pid)
    # The store failed: the history is gone from the answer, the order is still read from the wire.
    assert (from_the_wire["procurement"]["status"], from_the_wire["events"]) == ("order_confirmed", [])
