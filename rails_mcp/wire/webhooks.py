"""Webhook signatures and the event envelope: one implementation for every side.

The sandbox signs its deliveries and its reference sink verifies them with these functions,
and :mod:`rails_mcp.webhooks` re-exports them for anyone writing a receiver, so a signature
the sandbox makes is exactly the one a consumer checks.

The scheme (the vendor's documented one): header ``partly-hmac-sha256`` carries
``base64(HMAC-SHA256(webhook_secret, raw_body))``; the body is JSON whose ``timestamp``
(RFC 3339) says when it was sent, and a receiver rejects one older than five minutes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, cast
from uuid import UUID

from pydantic import BaseModel, ConfigDict

__all__ = [
    "MAX_FUTURE_SKEW",
    "REPLAY_WINDOW",
    "SIGNATURE_HEADER",
    "EventType",
    "Verification",
    "WebhookEvent",
    "parse_rfc3339",
    "rfc3339",
    "sign",
    "verify",
]

#: The header a delivery's signature travels in (lower case, as sent).
SIGNATURE_HEADER = "partly-hmac-sha256"
#: A delivery older than this is refused (a replay, or a receiver that was down too long).
REPLAY_WINDOW = timedelta(minutes=5)
#: A delivery stamped further ahead than this is refused too (a forged or badly skewed clock).
MAX_FUTURE_SKEW = timedelta(minutes=5)


class EventType(StrEnum):
    REPAIRER_JOBS = "repairer.jobs"
    REPAIRER_PROCUREMENTS = "repairer.procurements"
    SUPPLIER_PROCUREMENTS = "supplier.procurements"


class WebhookEvent(BaseModel):
    """The envelope: identifiers, not records (consumers re-fetch). ``id`` is for dedup."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    id: UUID
    type: EventType
    timestamp: str
    integration_id: UUID
    #: ``job_id`` and ``change_action`` for ``repairer.jobs``; ``procurement_id``, ``job_id``
    #: and ``status`` for the two procurement events.
    data: dict[str, Any]


def rfc3339(moment: datetime) -> str:
    """UTC, millisecond precision, ``Z`` suffix: ``2026-01-12T21:30:00.123Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sign(raw_body: bytes, secret: str) -> str:
    """The ``partly-hmac-sha256`` header value for ``raw_body``: base64 of the HMAC-SHA256."""
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


Reason = Literal[
    "missing_signature",
    "bad_signature",
    "bad_body",
    "missing_timestamp",
    "bad_timestamp",
    "timestamp_too_old",
    "timestamp_in_future",
]


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of :func:`verify`: ``ok``, else the first failed check in ``reason``.

    ``event`` is the parsed body, set only when ``ok`` (never act on an unverified body).
    Truthy exactly when ``ok``, so ``if verify(...):`` reads naturally.
    """

    ok: bool
    reason: Reason | None = None
    event: dict[str, Any] | None = None

    def __bool__(self) -> bool:
        return self.ok


def parse_rfc3339(text: str) -> datetime | None:
    """An RFC 3339 time (``Z`` or an offset required), or None when ``text`` is not one."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:  # RFC 3339 always carries an offset
        return None
    return moment


def verify(
    raw_body: bytes,
    header: str | None,
    secret: str,
    now: datetime | None = None,
    *,
    window: timedelta = REPLAY_WINDOW,
    max_future: timedelta = MAX_FUTURE_SKEW,
) -> Verification:
    """Check a delivery: signature over the exact raw bytes, then the timestamp window.

    Never raises for anything a sender controls; returns ``Verification(ok=False, reason=…)``
    with one of: ``missing_signature``, ``bad_signature``, ``bad_body`` (not a JSON object),
    ``missing_timestamp``, ``bad_timestamp`` (not RFC 3339), ``timestamp_too_old`` (older
    than ``window``, five minutes) or ``timestamp_in_future`` (more than ``max_future`` ahead).
    The signature is checked first and in constant time, so an unsigned body is never parsed.
    Pass the bytes exactly as received: re-serialised JSON will not verify.
    """
    if not header or not header.strip():
        return Verification(False, "missing_signature")
    try:
        presented = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        return Verification(False, "bad_signature")
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
    if not hmac.compare_digest(presented, expected):
        return Verification(False, "bad_signature")
    try:
        body: object = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        return Verification(False, "bad_body")
    if not isinstance(body, dict):
        return Verification(False, "bad_body")
    event: dict[str, Any] = {str(k): v for k, v in cast("dict[Any, Any]", body).items()}
    stamp = event.get("timestamp")
    if stamp is None:
        return Verification(False, "missing_timestamp")
    sent = parse_rfc3339(stamp) if isinstance(stamp, str) else None
    if sent is None:
        return Verification(False, "bad_timestamp")
    current = now if now is not None else datetime.now(UTC)
    if current.tzinfo is None:
        current = current.replace(tzinfo=UTC)
    if current - sent > window:
        return Verification(False, "timestamp_too_old")
    if sent - current > max_future:
        return Verification(False, "timestamp_in_future")
    return Verification(True, None, event)
