"""The audit log as a table of the state store, on SQLite and on Postgres: one trail for every
replica, intents in it before the wire, nothing secret, lines kept across shutdown, a dead store
costing no call, and `rails-mcp audit export`."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rails_mcp.audit import AuditEntry, AuditLog
from rails_mcp.state.audit_table import AuditRow, TableWriter
from rails_mcp.state.store import SqlStateStore
from tests.support.process_support import clean_env, rails_mcp_command

SECRET = "partly_demo_repairer_3f8a1c0d9e2b4a67b1c2"
Open = Callable[[], SqlStateStore]


def entry(tool: str = "get_repair_job", time: str | None = None) -> AuditEntry:
    made = AuditEntry(tool, {"job": {"external": "J-1"}}, "ok", "streamable-http", "2025-11-25")
    if time is not None:
        made.time = time
    return made


def file_lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_two_replicas_write_one_trail_ordered_by_time(open_store: Open, tmp_path: Path):
    one = AuditLog(tmp_path / "one.jsonl", store=open_store(), tenant="shop")
    two = AuditLog(tmp_path / "two.jsonl", store=open_store(), tenant="shop")
    for second, audit in enumerate([one, two, one, two]):
        audit.record(entry(f"tool_{second}", time=f"2026-12-01T09:00:0{second}.000+00:00"))
    two.close()  # the second replica's batch reaches the database first
    one.close()
    exported = list(open_store().audit_lines())
    assert [json.loads(line)["tool"] for line in exported] == ["tool_0", "tool_1", "tool_2", "tool_3"]
    assert sorted(exported) == sorted(file_lines(tmp_path / "one.jsonl") + file_lines(tmp_path / "two.jsonl"))


def test_an_intent_line_is_in_the_table_when_open_intent_returns(open_store: Open, tmp_path: Path):
    store, observer = open_store(), open_store()
    audit = AuditLog(tmp_path / "audit.jsonl", store=store)
    audit.table = TableWriter(store, batch_seconds=3600)
    audit.record(entry("get_repair_job"))  # queued: not on the request path
    intent = audit.open_intent(entry("place_procurement"))
    stored = [json.loads(line) for line in observer.audit_lines()]
    assert [(line["kind"], line.get("intent")) for line in stored] == [("intent", intent)]
    audit.close()


def test_the_table_holds_no_secret_and_the_same_line_as_the_file(open_store: Open, tmp_path: Path):
    store = open_store()
    audit = AuditLog(tmp_path / "audit.jsonl", known_secrets=[SECRET], store=store)
    args = {"job": {"external": "J-1"}, "api_key": SECRET, "note": f"key {SECRET} here"}
    intent = audit.open_intent(AuditEntry("place_procurement", args, "pending", "stdio", "2026-07-28"))
    audit.record(AuditEntry("place_procurement", args, "ok", "stdio", "2026-07-28", intent=intent))
    audit.close()
    with store.transaction(write=False) as execute:
        rows = execute("SELECT * FROM audit_log", ()).fetchall()
    assert len(rows) == 2
    assert all(SECRET not in str(value) for row in rows for value in row)
    assert list(store.audit_lines()) == file_lines(tmp_path / "audit.jsonl")


def test_closing_the_log_writes_the_lines_still_queued(open_store: Open, tmp_path: Path):
    store, observer = open_store(), open_store()
    audit = AuditLog(tmp_path / "audit.jsonl", store=store)
    audit.table = TableWriter(store, batch_seconds=3600)
    for _ in range(3):
        audit.record(entry())
    assert list(observer.audit_lines()) == []
    audit.close()
    assert len(list(observer.audit_lines())) == 3
    audit.record(entry())  # a line after close (another exit handler's) is not left queued
    assert len(list(observer.audit_lines())) == 4


def test_lines_reach_the_table_in_the_background_also_after_the_batcher_went_idle(
    open_store: Open, tmp_path: Path
):
    store, observer = open_store(), open_store()
    audit = AuditLog(tmp_path / "audit.jsonl", store=store)
    audit.table = TableWriter(store, batch_seconds=0.01, idle_seconds=0.05)

    def stored_soon(count: int) -> bool:
        deadline = time.monotonic() + 5
        while len(list(observer.audit_lines())) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return len(list(observer.audit_lines())) == count

    audit.record(entry())
    assert stored_soon(1)
    time.sleep(0.3)  # idle: the batcher has stopped
    audit.record(entry())
    assert stored_soon(2)
    audit.close()


def test_a_store_that_cannot_take_lines_costs_no_call_and_warns_once(
    open_store: Open, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    store, observer = open_store(), open_store()
    with observer.transaction() as execute:
        execute("DROP TABLE audit_log", ())
    audit = AuditLog(tmp_path / "audit.jsonl", store=store)
    with caplog.at_level(logging.WARNING, logger="rails_mcp.audit"):
        assert all(audit.record(entry()) for _ in range(3))
        assert audit.open_intent(entry("place_procurement")) is not None
        audit.close()
    assert len(file_lines(tmp_path / "audit.jsonl")) == 4
    assert audit.table is not None
    assert audit.table.dropped == 4
    assert len([r for r in caplog.records if "audit table" in r.getMessage()]) == 1


#: Writes two lines through the deployment's own log and exits (the table gets them at exit).
WRITER = """
from rails_mcp.audit import AuditEntry, audit_from_settings
from rails_mcp.config import load_settings
audit = audit_from_settings(load_settings())
for tool, hour in (("get_repair_job", "08"), ("list_parts", "10")):
    e = AuditEntry(tool, {"job": {"external": "J-1"}}, "ok", "stdio", "2025-11-25")
    e.time = f"2026-12-01T{hour}:00:00.000+00:00"
    audit.record(e)
"""


@pytest.mark.subprocess
def test_audit_export_prints_what_every_process_wrote_and_filters_it(
    state_location: str | Path, tmp_path: Path
):
    # The SQLite store is state.sqlite3 in tmp_path, the state dir; Postgres is named by its URL.
    where = {"RAILS_STATE_URL": state_location} if isinstance(state_location, str) else {}
    env = clean_env(tmp_path, RAILS_CONFIG_DIR=str(tmp_path / "config"), **where)
    subprocess.run([sys.executable, "-c", WRITER], env=env, check=True, timeout=60)

    def exported_tools(*args: str) -> list[str]:
        done = subprocess.run(
            rails_mcp_command("audit", "export", *args), env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return [json.loads(line)["tool"] for line in done.stdout.splitlines()]

    assert exported_tools() == ["get_repair_job", "list_parts"]
    assert exported_tools("--tool", "list_parts") == ["list_parts"]
    assert exported_tools("--since", "2026-12-01T10:30:00+01:00") == ["list_parts"]  # 09:30 UTC
    assert exported_tools("--limit", "1") == ["get_repair_job"]
    bad = subprocess.run(
        rails_mcp_command("audit", "export", "--since", "yesterday"),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert len(bad.stderr.splitlines()) == 1
    assert "'--since'" in bad.stderr


def test_audit_export_from_a_state_dir_with_no_store_says_so_and_creates_none(tmp_path: Path):
    mistyped = tmp_path / "no-such-state"
    env = clean_env(mistyped, RAILS_CONFIG_DIR=str(tmp_path / "config"))
    done = subprocess.run(
        rails_mcp_command("audit", "export"), env=env, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert len(done.stderr.splitlines()) == 1
    assert "no state store at" in done.stderr
    assert not (mistyped / "state.sqlite3").exists()


def test_an_export_pages_through_more_lines_than_one_read_and_keeps_the_limit(open_store: Open):
    store = open_store()
    rows = [
        AuditRow(f"t{i}", 1000.0 + i // 3, "get_repair_job", "call", "ok", None, None, f'{{"n":{i}}}')
        for i in range(2300)
    ]
    store.append_audit(rows)
    assert [json.loads(line)["n"] for line in store.audit_lines()] == list(range(2300))
    assert [json.loads(line)["n"] for line in store.audit_lines(limit=1500)] == list(range(1500))
    assert [json.loads(line)["n"] for line in store.audit_lines(since=1700.0)] == list(range(2100, 2300))


def test_closing_with_the_store_down_ends_within_its_time_counting_what_was_dropped(tmp_path: Path):
    class DownStore:
        calls = 0

        def append_audit(self, rows: object, *, durable: bool = True) -> None:
            DownStore.calls += 1
            time.sleep(0.3)  # as a pool waiting for a connection, then giving up
            raise OSError("the database is down")

    writer = TableWriter(DownStore(), batch_seconds=3600, batch_lines=10)  # type: ignore[arg-type]
    for _ in range(45):
        writer.put(("2026-12-01T09:00:00+00:00", "t", "call", "ok", None, None, "{}"))
    started = time.monotonic()
    writer.close(timeout=1.0)
    assert time.monotonic() - started < 2.0
    assert (writer.dropped, DownStore.calls) == (45, 1)  # the first refused batch ends the drain


def test_a_line_the_file_could_not_take_is_not_in_the_table_either(open_store: Open, tmp_path: Path):
    store = open_store()
    (tmp_path / "audit.jsonl").mkdir()  # the log's path is a directory: every append fails
    audit = AuditLog(tmp_path / "audit.jsonl", store=store)
    assert not audit.record(entry())
    audit.close()
    assert list(store.audit_lines()) == []


def test_a_store_migrated_past_version_3_without_it_still_gets_the_audit_table(open_store: Open):
    # A store a later step reached first (version 4 applied before 3 was merged in).
    with open_store().transaction() as execute:
        execute("DROP TABLE audit_log", ())
        execute("DELETE FROM schema_version WHERE version = 3", ())
    reopened = open_store()
    reopened.append_audit(
        [AuditRow("2026-12-01T09:00:00.000+00:00", 1764579600.0, "t", "call", "ok", None, None, "{}")]
    )
    assert list(reopened.audit_lines()) == ["{}"]
