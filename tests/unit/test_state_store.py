"""The state store on its own: used approvals and open intents, shared by processes, pruned."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from rails_mcp.audit import AuditEntry, AuditLog
from rails_mcp.state_store import StateStore

SECRET = "partly_demo_repairer_3f8a1c0d9e2b4a67b1c2"


def test_an_approval_is_spent_once_across_two_connections_and_forgotten_once_expired(tmp_path: Path):
    one, two = StateStore(tmp_path / "state.sqlite3"), StateStore(tmp_path / "state.sqlite3")
    assert one.spend_approval("n1", expires_at=100.0, now=10.0)
    assert two.approval_used("n1", now=20.0)
    assert not two.spend_approval("n1", expires_at=100.0, now=20.0)
    assert not two.approval_used("n1", now=100.0)  # expired: a state past its expiry is refused anyway
    assert two.spend_approval("n2", expires_at=300.0, now=150.0)  # spending prunes the expired ones
    with one._lock:  # pyright: ignore[reportPrivateUsage]
        left = one._db.execute("SELECT nonce FROM used_approvals").fetchall()  # pyright: ignore[reportPrivateUsage]
    assert left == [("n2",)]


def test_an_intent_is_open_until_its_outcome_line_is_written(tmp_path: Path):
    store = StateStore(tmp_path / "state.sqlite3")
    audit = AuditLog(tmp_path / "audit.jsonl", known_secrets=[SECRET], store=store)
    args = {"job": {"external": "J-1"}, "api_key": SECRET}
    intent = audit.open_intent(AuditEntry("confirm_procurement", args, "pending", "stdio", "2026-07-28"))
    assert intent is not None
    with store._lock:  # pyright: ignore[reportPrivateUsage]
        assert store._db.execute("SELECT count(*) FROM open_intents").fetchone() == (1,)  # pyright: ignore[reportPrivateUsage]
    audit.record(AuditEntry("confirm_procurement", args, "ok", "stdio", "2026-07-28", intent=intent))
    with store._lock:  # pyright: ignore[reportPrivateUsage]
        assert store._db.execute("SELECT count(*) FROM open_intents").fetchone() == (0,)  # pyright: ignore[reportPrivateUsage]
    text = (tmp_path / "audit.jsonl").read_text()
    assert SECRET not in text
    first, second = (json.loads(line) for line in text.splitlines())
    assert (first["kind"], first["outcome"], first["intent"]) == ("intent", "pending", intent)
    assert (second["kind"], second["outcome"], second["intent"]) == ("call", "ok", intent)


def test_only_the_intents_of_a_process_that_is_gone_are_claimed_and_each_by_one_claimant(tmp_path: Path):
    path = tmp_path / "state.sqlite3"
    code = (
        "import sys; from pathlib import Path; from rails_mcp.state_store import StateStore;"
        "StateStore(Path(sys.argv[1])).open_intent('dead-1', 'place_procurement', {})"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=60)
    mine = StateStore(path)
    mine.open_intent("alive-1", "confirm_procurement", {})
    rival = StateStore(path)
    assert mine.has_orphans()
    claimed = mine.claim_orphans()
    assert [(i.id, i.tool) for i in claimed] == [("dead-1", "place_procurement")]
    assert rival.claim_orphans() == []  # this process now owns it, and it is alive
    assert not mine.has_orphans()
