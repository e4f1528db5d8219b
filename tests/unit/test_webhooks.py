"""The public receiver-side verifier, ``rails_mcp.webhooks.verify`` (and ``sign``)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from rails_mcp import webhooks
from rails_mcp.wire import webhooks as wire_webhooks

SECRET = "pwh_3f8a1c0d9e2b4a67b1c2d4e6f8a0b2c4"
SENT = datetime(2026, 1, 12, 21, 30, tzinfo=UTC)


def body(timestamp: object = "2026-01-12T21:30:00.000Z", **extra: object) -> bytes:
    event = {
        "id": "5f0c1d5e-8a0b-4f59-9d5e-0c0e8b1a2f3c",
        "type": "repairer.procurements",
        "timestamp": timestamp,
        "integration_id": "0c000000-0000-4000-8000-000000000001",
        "data": {"procurement_id": "10000000-0000-4000-8000-000000000001", "status": "order_confirmed"},
        **extra,
    }
    return json.dumps(event).encode()


def test_the_public_module_re_exports_the_one_implementation_the_sandbox_uses():
    assert webhooks.verify is wire_webhooks.verify
    assert webhooks.sign is wire_webhooks.sign
    assert webhooks.SIGNATURE_HEADER == "partly-hmac-sha256"


def test_the_signature_is_base64_of_the_hmac_sha256_of_the_raw_body():
    raw = body()
    import hashlib
    import hmac

    expected = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    assert webhooks.sign(raw, SECRET) == expected


def test_a_fresh_signed_delivery_verifies_and_hands_back_the_event():
    raw = body()
    result = webhooks.verify(raw, webhooks.sign(raw, SECRET), SECRET, now=SENT + timedelta(seconds=3))
    assert result.ok
    assert bool(result)
    assert result.reason is None
    assert result.event is not None
    assert result.event["data"]["status"] == "order_confirmed"


@pytest.mark.parametrize(
    ("age", "ok", "reason"),
    [
        (timedelta(minutes=4, seconds=59), True, None),
        (timedelta(minutes=6), False, "timestamp_too_old"),
        (timedelta(minutes=-4), True, None),
        (timedelta(minutes=-6), False, "timestamp_in_future"),
    ],
)
def test_the_timestamp_must_be_within_five_minutes_either_way(age: timedelta, ok: bool, reason: str | None):
    raw = body()
    result = webhooks.verify(raw, webhooks.sign(raw, SECRET), SECRET, now=SENT + age)
    assert (result.ok, result.reason) == (ok, reason)


def test_a_naive_now_is_read_as_utc():
    raw = body()
    naive = SENT.replace(tzinfo=None) + timedelta(minutes=6)
    assert webhooks.verify(raw, webhooks.sign(raw, SECRET), SECRET, now=naive).reason == "timestamp_too_old"


def test_an_offset_timestamp_is_compared_in_utc():
    raw = body("2026-01-13T10:30:00+13:00")  # the same instant as SENT, NZDT
    assert webhooks.verify(raw, webhooks.sign(raw, SECRET), SECRET, now=SENT).ok


@pytest.mark.parametrize(
    ("header", "reason"),
    [(None, "missing_signature"), ("", "missing_signature"), ("not base64!", "bad_signature")],
)
def test_a_missing_or_malformed_header_fails(header: str | None, reason: str):
    assert webhooks.verify(body(), header, SECRET, now=SENT).reason == reason


def test_a_wrong_secret_or_a_changed_byte_fails_as_bad_signature():
    raw = body()
    signature = webhooks.sign(raw, SECRET)
    assert webhooks.verify(raw, signature, "pwh_" + "0" * 32, now=SENT).reason == "bad_signature"
    assert webhooks.verify(raw.replace(b"confirmed", b"requested"), signature, SECRET, now=SENT).reason == (
        "bad_signature"
    )


def test_re_serialised_json_does_not_verify_so_receivers_must_keep_the_raw_bytes():
    raw = body()
    signature = webhooks.sign(raw, SECRET)
    reserialised = json.dumps(json.loads(raw), separators=(",", ":")).encode()
    assert reserialised != raw
    assert webhooks.verify(reserialised, signature, SECRET, now=SENT).reason == "bad_signature"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "bad_body"),
        (b"[1, 2]", "bad_body"),
        (json.dumps({"id": "x"}).encode(), "missing_timestamp"),
        (body("yesterday"), "bad_timestamp"),
        (body("2026-01-12T21:30:00"), "bad_timestamp"),
        (body(1768253400), "bad_timestamp"),
    ],
)
def test_a_signed_body_without_a_usable_rfc3339_timestamp_fails(raw: bytes, reason: str):
    result = webhooks.verify(raw, webhooks.sign(raw, SECRET), SECRET, now=SENT)
    assert (result.ok, result.reason, result.event) == (False, reason, None)


def test_the_stamp_the_sandbox_writes_is_rfc3339_utc_with_milliseconds():
    assert wire_webhooks.rfc3339(SENT + timedelta(microseconds=123456)) == "2026-01-12T21:30:00.123Z"
