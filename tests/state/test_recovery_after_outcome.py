"""A process killed after writing a call's line but before the store forgot its intent: at the next
start-up the intent is closed, and the call never gets a second outcome line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rails_mcp.audit import AuditEntry, AuditLog
from rails_mcp.recovery import recover_intents
from rails_mcp.runtime import open_client
from rails_mcp.state.store import SqlStateStore
from tests.support.mcp_support import settings_for

pytestmark = pytest.mark.anyio

Open = Callable[[], SqlStateStore]


def placement(outcome: str, intent: str | None = None) -> AuditEntry:
    args = {"job": {"external": "J-KILLED"}, "offer_selections": [{"sellable_id": "s-1"}]}
    return AuditEntry("place_procurement", args, outcome, "stdio", "2026-07-28", intent=intent)


async def test_an_intent_whose_outcome_line_was_written_is_closed_without_a_second_one(
    open_store: Open, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    store = open_store()
    audit = AuditLog(tmp_path / "audit.jsonl", store=store)
    intent = audit.open_intent(placement("pending"))

    def killed_before_closing(intent_id: str) -> None:
        raise OSError("the process died here")

    monkeypatch.setattr(store, "close_intent", killed_before_closing)
    audit.record(placement("ok", intent))  # the outcome line is in the file; the intent stays open
    monkeypatch.undo()
    with store.transaction() as execute:  # as the killed process left it: its run is gone
        execute("UPDATE open_intents SET owner_run = ?", ("a-run-that-was-killed",))
    orphans = open_store().claim_orphans()  # the next start-up, on its own connection
    assert [o.id for o in orphans] == [intent]
    async with open_client(settings_for(tmp_path)) as client:
        closed = await recover_intents(audit, client, orphans)
    audit.close()
    lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert closed == 1
    assert [(line["kind"], line["outcome"]) for line in lines] == [("intent", "pending"), ("call", "ok")]
    assert not open_store().has_orphans()
