"""A placement's blocking writes (its audit intent, the order a person approved, the line that
closes the intent) run beside the event loop: a slow state store holds up no other session, and
the order of things still holds: the intent is on disk and in the store before the order reaches
the wire, and the approved order is kept before the placement is answered."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp_types import ElicitRequestParams, ElicitResult

from rails_mcp.approval import ApprovalGate
from rails_mcp.audit import AuditLog
from rails_mcp.runtime import open_client
from rails_mcp.server import build_server
from rails_mcp.state import SQLiteStateStore
from rails_mcp.state.events_table import StoredHistory
from rails_mcp.tools import Rails
from tests.support.mcp_support import JOB, PR1, QUICKSTART, QUICKSTART_TOTAL, lossy_rails, settings_for

pytestmark = pytest.mark.anyio

KEY = b"approval-key-for-the-tests-0123456789abcdef"
INSERT = "repairer.procurements.insert"


async def approve(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="accept", content={"decision": "approve"})


class SlowStore(SQLiteStateStore):
    """A store whose intent, approved-order and intent-closing writes each wait (up to 3 s) for
    another session to be answered meanwhile, and remember whether one was."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writing = threading.Event()
        self.others_answered = 0
        self.waited: list[tuple[str, bool]] = []

    def _stall(self, what: str) -> None:
        before, deadline = self.others_answered, time.monotonic() + 3
        self.writing.set()
        while self.others_answered == before and time.monotonic() < deadline:
            time.sleep(0.01)
        self.writing.clear()
        self.waited.append((what, self.others_answered > before))

    def open_intent(self, intent_id: str, tool: str, line: Mapping[str, Any]) -> None:
        self._stall("intent")
        super().open_intent(intent_id, tool, line)

    def record_approved_order(self, procurement_id: str, order: Mapping[str, Any]) -> None:
        self._stall("approved order")
        super().record_approved_order(procurement_id, order)

    def close_intent(self, intent_id: str) -> None:
        self._stall("intent closed")
        super().close_intent(intent_id)

    def procurement_history(self, scope: str, procurement_id: str) -> StoredHistory:
        self._stall("history read")
        return super().procurement_history(scope, procurement_id)


async def answer_meanwhile(store: SlowStore, other: Client) -> None:
    """Whenever the store stalls, another session reads a job (and the test counts it answered)."""
    while True:
        if store.writing.is_set():
            assert not (await other.call_tool("get_repair_job", {"job": JOB})).is_error
            store.others_answered += 1
        await anyio.sleep(0.01)


async def beside_reads(
    store: SlowStore, calling: Client, other: Client, tool: str, arguments: dict[str, Any]
) -> dict[str, Any]:
    """``tool``'s structured result, while ``other`` reads a job whenever the store stalls."""
    done: dict[str, Any] = {}
    async with anyio.create_task_group() as tg:

        async def call() -> None:
            done.update((await calling.call_tool(tool, arguments)).structured_content or {})
            tg.cancel_scope.cancel()

        tg.start_soon(call)
        tg.start_soon(answer_meanwhile, store, other)
    return done


async def test_a_slow_state_store_holds_up_no_other_session(tmp_path: Path):
    settings = settings_for(tmp_path)
    store = SlowStore(tmp_path / "state.sqlite3")
    rails = Rails(open_client(settings), store)
    gate = ApprovalGate("ask", KEY, audience="rails-mcp/approval|tests")
    server = build_server(rails, approval=gate, audit=AuditLog(tmp_path / "audit.jsonl", store=store))
    placed: dict[str, Any] = {}
    try:
        async with Client(server, elicitation_callback=approve) as placing, Client(server) as other:
            placed = await beside_reads(store, placing, other, "place_procurement", QUICKSTART)
    finally:
        await rails.client.aclose()
        store.close()
    assert placed["approval"] == "approved"
    assert store.waited == [("intent", True), ("approved order", True), ("intent closed", True)]


async def test_the_intent_is_kept_before_the_wire_and_the_approved_order_before_the_answer(tmp_path: Path):
    store = SQLiteStateStore(tmp_path / "state.sqlite3")
    wired, lossy = lossy_rails(tmp_path)
    rails = Rails(wired.client, store)
    audit = AuditLog(tmp_path / "audit.jsonl", store=store)
    gate = ApprovalGate("ask", KEY, audience="rails-mcp/approval|tests")
    at_the_wire: list[tuple[list[str], list[str]]] = []

    async def look() -> None:
        lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
        with closing(sqlite3.connect(tmp_path / "state.sqlite3")) as db:
            open_intents = [row[0] for row in db.execute("SELECT tool FROM open_intents")]
        at_the_wire.append(([line["kind"] for line in lines], open_intents))

    lossy.before[INSERT] = look
    try:
        async with Client(build_server(rails, approval=gate, audit=audit), elicitation_callback=approve) as c:
            result = await c.call_tool("place_procurement", QUICKSTART)
            structured = result.structured_content or {}
            kept = store.approved_order(structured["procurement"]["id"])  # as soon as it is answered
    finally:
        await rails.client.aclose()
        store.close()
    # the first round's line (the person was asked), then the approved order's intent: on disk
    # and open in the store by the time the order reaches the wire
    assert at_the_wire == [(["call", "intent"], ["place_procurement"])]
    assert kept is not None
    assert kept["total"] == QUICKSTART_TOTAL


async def test_reading_an_orders_history_from_a_slow_store_holds_up_no_other_session(tmp_path: Path):
    store = SlowStore(tmp_path / "state.sqlite3")
    rails = Rails(open_client(settings_for(tmp_path)), store)
    server = build_server(rails, audit=AuditLog(tmp_path / "audit.jsonl", store=store))
    tracked: dict[str, Any] = {}
    try:
        async with Client(server) as tracking, Client(server) as other:
            tracked = await beside_reads(store, tracking, other, "track_procurement", {"procurement_id": PR1})
    finally:
        await rails.client.aclose()
        store.close()
    assert tracked["procurement"]["id"] == PR1
    assert store.waited == [("history read", True)]
