"""The state store on its own, on SQLite and on Postgres: approvals, intents, approved orders,
the spend ledger, idempotency keys, and migrations that run once."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from rails_mcp.audit import AuditEntry, AuditLog
from rails_mcp.state import (
    IDEMPOTENCY_SECONDS,
    OverBudget,
    Reservation,
    SQLiteStateStore,
)
from rails_mcp.state.migrations import LATEST, MIGRATIONS
from rails_mcp.state.store import SqlStateStore

SECRET = "partly_demo_repairer_3f8a1c0d9e2b4a67b1c2"
Open = Callable[[], SqlStateStore]


def test_an_approval_is_spent_once_across_two_connections_and_forgotten_once_expired(open_store: Open):
    one, two = open_store(), open_store()
    assert one.spend_approval("n1", expires_at=100.0, now=10.0)
    assert two.approval_used("n1", now=20.0)
    assert not two.spend_approval("n1", expires_at=100.0, now=20.0)
    assert not two.approval_used("n1", now=100.0)  # expired: a state past its expiry is refused anyway
    assert two.spend_approval("n2", expires_at=300.0, now=150.0)  # spending prunes the expired ones
    assert one.spend_approval("n1", expires_at=400.0, now=150.0)  # n1 was pruned, so it is new again


def test_an_intent_is_open_until_its_outcome_line_is_written(open_store: Open, tmp_path: Path):
    store, observer = open_store(), open_store()
    audit = AuditLog(tmp_path / "audit.jsonl", known_secrets=[SECRET], store=store)
    args = {"job": {"external": "J-1"}, "api_key": SECRET}
    intent = audit.open_intent(AuditEntry("confirm_procurement", args, "pending", "stdio", "2026-07-28"))
    assert intent is not None
    rows = observer._intent_owners()  # pyright: ignore[reportPrivateUsage]
    assert [r[0] for r in rows] == [intent]
    audit.record(AuditEntry("confirm_procurement", args, "ok", "stdio", "2026-07-28", intent=intent))
    assert observer._intent_owners() == []  # pyright: ignore[reportPrivateUsage]
    text = (tmp_path / "audit.jsonl").read_text()
    assert SECRET not in text
    first, second = (json.loads(line) for line in text.splitlines())
    assert (first["kind"], first["outcome"], first["intent"]) == ("intent", "pending", intent)
    assert (second["kind"], second["outcome"], second["intent"]) == ("call", "ok", intent)


def test_only_the_intents_of_a_process_that_is_gone_are_claimed_and_each_by_one_claimant(
    open_store: Open, state_location: str | Path
):
    code = (
        "import sys; from rails_mcp.state import open_state_store;"
        "open_state_store(sys.argv[1]).open_intent('dead-1', 'place_procurement', {})"
    )
    subprocess.run([sys.executable, "-c", code, str(state_location)], check=True, timeout=60)
    mine = open_store()
    mine.open_intent("alive-1", "confirm_procurement", {})
    rival = open_store()
    assert mine.has_orphans()
    claimed = mine.claim_orphans()
    assert [(i.id, i.tool) for i in claimed] == [("dead-1", "place_procurement")]
    assert rival.claim_orphans() == []  # this process now owns it, and it is alive
    assert not mine.has_orphans()


def test_an_approved_order_is_kept_by_its_procurement_and_read_back_anywhere(open_store: Open):
    one, two = open_store(), open_store()
    assert two.approved_order("p-1") is None
    one.record_approved_order("p-1", {"total": "1099.00", "approved_by": "person"})
    assert two.approved_order("p-1") == {"total": "1099.00", "approved_by": "person"}
    one.record_approved_order("p-1", {"total": "631.00"})
    assert two.approved_order("p-1") == {"total": "631.00"}


def test_migrations_run_once_and_reopening_changes_nothing(open_store: Open):
    first = open_store()
    first.spend_approval("kept", expires_at=1e12, now=1.0)
    again = open_store()  # opens, finds every step applied, applies none
    assert again.migrate() == LATEST
    with again.transaction(write=False) as execute:
        versions = [
            row[0] for row in execute("SELECT version FROM schema_version ORDER BY version", ()).fetchall()
        ]
    assert versions == [version for version, _ in MIGRATIONS]
    assert again.approval_used("kept", now=2.0)


def test_a_state_file_from_before_schema_versions_is_upgraded_in_place(tmp_path: Path):
    path = tmp_path / "state.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE used_approvals (nonce TEXT PRIMARY KEY, expires_at REAL NOT NULL);"
        "CREATE TABLE open_intents (id TEXT PRIMARY KEY, tool TEXT NOT NULL, opened_at REAL NOT NULL,"
        " owner_run TEXT NOT NULL, owner_pid INTEGER NOT NULL, line TEXT NOT NULL);"
        "INSERT INTO used_approvals VALUES ('old', 1e12);"
    )
    old.commit()
    old.close()
    store = SQLiteStateStore(path)
    assert store.approval_used("old", now=1.0)
    assert store.approved_order("none") is None  # the new tables exist


def test_a_budget_reserves_until_the_limit_then_says_what_is_left(open_store: Open):
    one, two = open_store(), open_store()
    limit = Decimal("1500")
    first = one.reserve_budget("t", 0.0, Decimal("1099.00"), limit, None)
    assert isinstance(first, Reservation)
    refused = two.reserve_budget("t", 0.0, Decimal("468.00"), limit, None)
    assert refused == OverBudget(Decimal("401.00"), None)
    assert isinstance(two.reserve_budget("other-tenant", 0.0, Decimal("1099.00"), limit, None), Reservation)
    assert isinstance(
        two.reserve_budget("t", 86400.0, Decimal("1099.00"), limit, None), Reservation
    )  # next day
    one.release_budget(first)  # the placement failed: its money is free again
    second = two.reserve_budget("t", 0.0, Decimal("468.00"), limit, None)
    assert isinstance(second, Reservation)
    assert two.commit_budget(second, "NZD")
    assert one.reserve_budget("t", 0.0, Decimal("1099.00"), limit, None) == OverBudget(
        Decimal("1032.00"), "NZD"
    )


def test_an_order_in_another_currency_is_not_counted(open_store: Open):
    store = open_store()
    limit = Decimal("1000")
    nzd = store.reserve_budget("t", 0.0, Decimal("600"), limit, "NZD")
    aud = store.reserve_budget("t", 0.0, Decimal("300"), limit, "NZD")
    assert isinstance(nzd, Reservation)
    assert isinstance(aud, Reservation)
    assert store.commit_budget(nzd, "NZD")
    assert not store.commit_budget(aud, "AUD")  # refused, not converted: released
    assert store.reserve_budget("t", 0.0, Decimal("500"), limit, "NZD") == OverBudget(Decimal("400"), "NZD")


def test_an_idempotency_key_replays_conflicts_waits_and_expires(open_store: Open):
    one, two = open_store(), open_store()
    assert one.begin_idempotent("t", "k1", "args-a").status == "new"
    assert two.begin_idempotent("t", "k1", "args-a").status == "in_flight"
    assert two.begin_idempotent("t", "k1", "args-b").status == "conflict"
    assert two.begin_idempotent("other-tenant", "k1", "args-b").status == "new"  # keys are per tenant
    one.finish_idempotent("t", "k1", {"structuredContent": {"placed": True}})
    replay = two.begin_idempotent("t", "k1", "args-a")
    assert (replay.status, replay.result) == ("replay", {"structuredContent": {"placed": True}})
    assert two.begin_idempotent("t", "k2", "args-a").status == "new"
    two.abandon_idempotent("t", "k2")  # a refusal is not kept: the same call may run again
    assert one.begin_idempotent("t", "k2", "args-a").status == "new"
    later = one.clock() + IDEMPOTENCY_SECONDS + 1
    two.clock = lambda: later
    assert two.begin_idempotent("t", "k1", "args-b").status == "new"  # kept 24 hours, then forgotten


def test_a_key_held_by_a_lost_call_is_taken_over_after_a_while(open_store: Open):
    one, two = open_store(), open_store()
    assert one.begin_idempotent("t", "k", "a").status == "new"
    later = one.clock() + 901
    two.clock = lambda: later
    assert two.begin_idempotent("t", "k", "a").status == "new"


@pytest.mark.parametrize("bad", ["mysql://x/y", "state.sqlite3"])
def test_a_state_url_that_is_not_postgres_stops_start_up(bad: str):
    from rails_mcp.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="state-url: must be a postgresql"):
        load_settings(state_url=bad)
