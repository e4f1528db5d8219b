"""The audit log on its own: whole JSON lines, appended, never a secret, never a lost result."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from rails_mcp.audit import REDACTED, AuditEntry, AuditLog, redact, touched_ids

SECRETS = [
    "partly_demo_repairer_3f8a1c0d9e2b4a67b1c2",
    "pwh_3f8a1c0d9e2b4a67b1c2d4e6f8a0b2c4",
    "secret_demo_8f3a",
    "Bearer t0ken-for-the-test-0123456789",
    "ac_demo_valid_15m",
]


def entry(tool: str = "list_parts", **kw) -> AuditEntry:
    defaults = {"arguments": {"job": {"external": "CCC-2026-04817"}}, "outcome": "ok"}
    return AuditEntry(tool=tool, transport="stdio", protocol="2025-11-25", **{**defaults, **kw})


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_call_is_one_json_line_with_the_promised_fields(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path)
    assert audit.record(entry(approval="approved", procurement_ids=["p1"]))
    (line,) = lines(path)
    assert line["tool"] == "list_parts"
    assert line["arguments"] == {"job": {"external": "CCC-2026-04817"}}
    assert line["outcome"] == "ok"
    assert line["approval"] == "approved"
    assert line["procurement_ids"] == ["p1"]
    assert line["invoice_ids"] == []
    assert line["transport"] == "stdio"
    assert line["protocol"] == "2025-11-25"
    assert line["time"].endswith("+00:00")


def test_the_log_is_appended_to_across_restarts_and_kept_private(tmp_path: Path):
    path = tmp_path / "state" / "audit.jsonl"
    AuditLog(path).record(entry("list_parts"))
    AuditLog(path).record(entry("place_procurement", outcome="over_spending_limit"))
    assert [line["tool"] for line in lines(path)] == ["list_parts", "place_procurement"]
    assert lines(path)[1]["outcome"] == "over_spending_limit"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_no_secret_reaches_the_log_whatever_key_it_hides_under(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    approval_key = "9" * 64
    audit = AuditLog(path, known_secrets=[approval_key, "my-own-token-value"])
    audit.record(
        entry(
            "open_repair_job",
            arguments={
                "api_key": "anything at all",
                "note": " and ".join(SECRETS),
                "nested": [{"Authorization": "x"}, {"text": f"key={approval_key}"}],
                "claim_number": "my-own-token-value",
                "request_state": "v1.abc",
            },
        )
    )
    text = path.read_text()
    for secret in [*SECRETS, approval_key, "my-own-token-value", "anything at all"]:
        assert secret not in text
    (line,) = lines(path)
    assert line["arguments"]["api_key"] == REDACTED
    assert line["arguments"]["nested"][0]["Authorization"] == REDACTED


def test_ordinary_values_survive_redaction():
    args = {
        "job": {"id": "0d000000-0000-4000-8000-000000000001"},
        "offer_selections": [{"sellable_id": "0f000000-0000-4000-8000-000000000007", "quantity": 1}],
        "dry_run": False,
        "vehicle": {"chassis_number": "JTDBR32E730012345"},
    }
    assert redact(args) == args


def test_a_failing_write_is_a_warning_not_an_exception(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    audit = AuditLog(blocker / "audit.jsonl")
    with caplog.at_level(logging.WARNING, logger="rails_mcp.audit"):
        assert audit.record(entry()) is False
    assert audit.failures == 1
    assert "could not record list_parts" in caplog.text


def test_ids_touched_are_found_in_arguments_and_results():
    procurements, invoices = touched_ids(
        {"procurement_id": "p-arg"},
        {
            "procurement": {"id": "p-res"},
            "invoices": [{"id": "i1"}, {"id": "i2"}],
            "procurements": [{"id": "p-res"}],
        },
    )
    assert procurements == ["p-arg", "p-res"]
    assert invoices == ["i1", "i2"]
