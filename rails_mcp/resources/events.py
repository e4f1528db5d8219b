"""What happened to each procurement, as this server learned it: the history track_procurement shows.

Two sources feed it: the server's own writes (``place_procurement``, ``confirm_procurement``)
and webhook deliveries from the wire, each recorded with when it arrived and whether its
signature and timestamp verified. Bounded in memory: the wire stays the truth, this is the
trail of how the server heard about it.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from rails_mcp.wire.webhooks import rfc3339

__all__ = ["MAX_EVENTS_PER_PROCUREMENT", "MAX_PROCUREMENTS", "EventLog", "ProcurementEvent"]

#: Events kept per procurement (oldest dropped first).
MAX_EVENTS_PER_PROCUREMENT = 50
#: Procurements with a history kept at once (least recently changed dropped first).
MAX_PROCUREMENTS = 1000

Source = Literal["server_write", "webhook"]
Verification = Literal["server_write", "verified", "unverified"]


class ProcurementEvent(BaseModel):
    """One change to a procurement as this server learned of it."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    at: str = Field(description="When this server recorded the change (RFC 3339, UTC).")
    source: Source = Field(
        description='"server_write": this server made the call itself; "webhook": a signed delivery '
        "from the Rails API arrived."
    )
    action: str = Field(
        description='What happened: "placed" or "confirmed" for server writes; the webhook event type '
        '("repairer.procurements" or "supplier.procurements") for deliveries.'
    )
    status: str | None = Field(
        default=None,
        description="The procurement status the change reported (order_requested, order_confirmed, "
        "cancelled), when known.",
    )
    verification: Verification = Field(
        description='"server_write" for the server\'s own calls; for webhooks "verified" (signature '
        'and 5-minute timestamp window checked) or "unverified" (rejected, see reason; not acted on).'
    )
    reason: str | None = Field(
        default=None,
        description="Why an unverified delivery failed (bad_signature, timestamp_too_old, ...); null "
        "otherwise.",
    )
    event_id: str | None = Field(
        default=None, description="The webhook envelope's event id (for dedup); null for server writes."
    )
    sent_at: str | None = Field(
        default=None, description="The webhook envelope's own timestamp; null for server writes."
    )
    deliveries: int = Field(
        default=1,
        description="How many times this event arrived (webhooks are at-least-once; repeats of one "
        "event id are counted here, not listed again).",
    )

    @model_serializer(mode="wrap")
    def _omit_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A field that does not apply is left out, never null (as the tools' output schemas say)."""
        dumped: dict[str, Any] = handler(self)
        return {k: v for k, v in dumped.items() if v is not None}


def now_rfc3339(moment: datetime | None = None) -> str:
    return rfc3339(moment or datetime.now(UTC))


class EventLog:
    """Per-procurement, bounded, de-duplicated by webhook event id."""

    def __init__(self) -> None:
        self._by_procurement: OrderedDict[UUID, list[ProcurementEvent]] = OrderedDict()

    def record(self, procurement_id: UUID, event: ProcurementEvent) -> bool:
        """Append ``event``; a repeat of a known event id only bumps its count. True if new."""
        events = self._by_procurement.pop(procurement_id, [])
        self._by_procurement[procurement_id] = events
        if event.event_id is not None:
            for i, seen in enumerate(events):
                if seen.event_id == event.event_id and seen.verification == event.verification:
                    events[i] = seen.model_copy(update={"deliveries": seen.deliveries + 1})
                    return False
        events.append(event)
        del events[:-MAX_EVENTS_PER_PROCUREMENT]
        while len(self._by_procurement) > MAX_PROCUREMENTS:
            self._by_procurement.popitem(last=False)
        return True

    def history(self, procurement_id: UUID) -> list[ProcurementEvent]:
        return list(self._by_procurement.get(procurement_id, ()))
