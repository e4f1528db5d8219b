"""What happened to each procurement, as this server learned it: the history track_procurement shows.

Two sources feed it: the server's own writes (``place_procurement``, ``confirm_procurement``)
and verified webhook deliveries, each re-read from the wire before it is recorded, so every
status here is one the wire stated. Bounded per order by count and by bytes: the wire stays
the truth, this is the trail of how the server heard about it.

A server built from settings keeps it in the shared state store (:mod:`rails_mcp.state`), so
every replica shows one trail and a restart forgets nothing; a server built over a bare client
(tests, schema export) keeps it in this process. A store that fails costs only the history:
the failure is logged and the tools answer from the wire.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, TypeVarTuple
from uuid import UUID

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from rails_mcp.state import StateStore, state_errors
from rails_mcp.state.events_table import EventBounds
from rails_mcp.wire.webhooks import rfc3339

__all__ = [
    "MAX_BYTES_PER_PROCUREMENT",
    "MAX_EVENTS_PER_PROCUREMENT",
    "MAX_PROCUREMENTS",
    "MAX_STORED_PROCUREMENTS",
    "EventLog",
    "History",
    "ProcurementEvent",
]

#: Events kept per procurement, oldest dropped first. An order's whole life (placed,
#: confirmed, invoiced, each announced at least once to two integrations) is about a dozen
#: events, so fifty keeps several lifetimes of redeliveries and still reads at a glance.
MAX_EVENTS_PER_PROCUREMENT = 50
#: Serialized bytes kept per procurement, oldest dropped first: a track_procurement result
#: stays a few thousand tokens at most, whatever was delivered. A recorded event is a few
#: hundred bytes, so the count bound usually bites first; this one holds if that changes.
MAX_BYTES_PER_PROCUREMENT = 32 * 1024
#: Procurements with a history kept at once (least recently changed dropped first): with the
#: byte bound, the whole log stays under 32 MiB.
MAX_PROCUREMENTS = 1000
#: Procurements with a history kept in the shared store per wire and tenant, the least recently
#: changed forgotten first. A cap, not an age: an order's history is wanted for as long as the order is being
#: worked, however long that is, and a cap bounds the store whatever the traffic, where an age
#: lets a busy week grow it without limit. An order's whole life is about 4 KiB, so this is
#: about 40 MiB per tenant in practice (320 MiB at the byte bound), shared by every replica: enough for a
#: shop's open and recent orders; an older one's history is gone, its state still on the wire.
MAX_STORED_PROCUREMENTS = 10_000

log = logging.getLogger("rails_mcp.resources")

R = TypeVar("R")
Args = TypeVarTuple("Args")

Source = Literal["server_write", "webhook"]
Verification = Literal["server_write", "verified"]


class ProcurementEvent(BaseModel):
    """One change to a procurement as this server learned of it."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    at: str = Field(description="When this server recorded the change (RFC 3339, UTC).")
    source: Source = Field(
        description='"server_write": this server made the call itself; "webhook": a signed delivery '
        "from the Rails API arrived and the order was re-read from the API."
    )
    action: str = Field(
        description='What happened: "placed" or "confirmed" for server writes; the webhook event type '
        '("repairer.procurements" or "supplier.procurements") for deliveries.'
    )
    status: str | None = Field(
        default=None,
        description="The procurement status the Rails API stated for this change (order_requested, "
        "order_confirmed, cancelled): the write's answer, or the order re-read after a delivery. "
        "Absent when the API could not be read.",
    )
    verification: Verification = Field(
        description='"server_write" for the server\'s own calls; "verified" for a webhook whose '
        "signature and 5-minute timestamp window checked. Deliveries that fail either check are "
        "refused and never recorded."
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


@dataclass(frozen=True, slots=True)
class History:
    """One procurement's kept events, oldest first, and how many older ones were dropped."""

    events: list[ProcurementEvent] = field(default_factory=list[ProcurementEvent])
    truncated: int = 0


@dataclass(slots=True)
class _Trail:
    events: list[ProcurementEvent] = field(default_factory=list[ProcurementEvent])
    sizes: list[int] = field(default_factory=list[int])
    dropped: int = 0

    def trim(self, max_events: int, max_bytes: int) -> None:
        """Drop the oldest events until both bounds hold (the newest one always stays)."""
        total = sum(self.sizes)
        while len(self.events) > 1 and (len(self.events) > max_events or total > max_bytes):
            total -= self.sizes.pop(0)
            self.events.pop(0)
            self.dropped += 1


class EventLog:
    """Per-procurement, bounded by count and bytes, de-duplicated by webhook event id.

    With a ``store``, kept there under ``scope`` (the wire and tenant the server talks to),
    shared by every server on that store; without, in this process.
    """

    def __init__(
        self,
        *,
        store: StateStore | None = None,
        scope: str = "",
        max_events: int = MAX_EVENTS_PER_PROCUREMENT,
        max_bytes: int = MAX_BYTES_PER_PROCUREMENT,
        max_procurements: int | None = None,
    ) -> None:
        self._store = store
        self._scope = scope
        self._by_procurement: OrderedDict[UUID, _Trail] = OrderedDict()
        self._max_events = max_events
        self._max_bytes = max_bytes
        self._max_procurements = max_procurements or (
            MAX_PROCUREMENTS if store is None else MAX_STORED_PROCUREMENTS
        )

    async def off_loop(self, call: Callable[[*Args], R], *args: *Args) -> R:
        """``call(*args)`` (one of this log's methods) in a worker thread when a store backs the
        log, since a database may wait on a lock or the network; in memory, right here."""
        if self._store is None:
            return call(*args)
        return await anyio.to_thread.run_sync(call, *args)

    def record(self, procurement_id: UUID, event: ProcurementEvent) -> bool:
        """Append ``event``; a repeat of a known event id only bumps its count. True if new."""
        if self._store is None:
            return self._record_here(procurement_id, event)
        bounds = EventBounds(self._max_events, self._max_bytes, self._max_procurements)
        try:
            return self._store.record_procurement_event(
                self._scope, str(procurement_id), event.event_id, event.model_dump_json(), bounds
            )
        except state_errors() as exc:
            _unavailable("not recorded", exc)
            return False

    def redelivered(self, procurement_id: UUID, event_id: str) -> bool:
        """Count one more delivery of a recorded event; False if it is not (or no longer) kept."""
        if self._store is None:
            return self._redelivered_here(procurement_id, event_id)
        try:
            return self._store.count_redelivery(self._scope, str(procurement_id), event_id)
        except state_errors() as exc:
            _unavailable("not counted", exc)
            return False

    def history(self, procurement_id: UUID) -> History:
        """The kept events, oldest first, and how many were dropped (empty if the store fails)."""
        if self._store is None:
            trail = self._by_procurement.get(procurement_id)
            return History() if trail is None else History(list(trail.events), trail.dropped)
        try:
            stored = self._store.procurement_history(self._scope, str(procurement_id))
            events = [
                ProcurementEvent.model_validate_json(kept.body).model_copy(
                    update={"deliveries": kept.deliveries}
                )
                for kept in stored.events
            ]
        except (*state_errors(), ValueError) as exc:  # ValueError: a row this version cannot read
            _unavailable("not read", exc)
            return History()
        return History(events, stored.dropped)

    def _record_here(self, procurement_id: UUID, event: ProcurementEvent) -> bool:
        trail = self._by_procurement.pop(procurement_id, None) or _Trail()
        self._by_procurement[procurement_id] = trail
        if event.event_id is not None and self._redelivered_here(procurement_id, event.event_id):
            return False
        trail.events.append(event)
        trail.sizes.append(len(event.model_dump_json()))
        trail.trim(self._max_events, self._max_bytes)
        while len(self._by_procurement) > self._max_procurements:
            self._by_procurement.popitem(last=False)
        return True

    def _redelivered_here(self, procurement_id: UUID, event_id: str) -> bool:
        events = trail.events if (trail := self._by_procurement.get(procurement_id)) else []
        for i, known in enumerate(events):
            if known.event_id == event_id:
                events[i] = known.model_copy(update={"deliveries": known.deliveries + 1})
                return True
        return False


def _unavailable(what: str, exc: Exception) -> None:
    """The store failed: the history is incomplete, the call it served carries on from the wire."""
    log.warning("order event history %s: the state store failed (%s)", what, type(exc).__name__)
