"""Each procurement's event history in the shared store, so every replica shows the same trail.

Two tables (migration 4): ``procurement_trails``, one row per procurement (its next sequence
number, how many old events were dropped, when it last changed), and ``procurement_events``,
one row per kept event, ordered by that per-procurement sequence. The trail row is what a
write takes first: its upsert locks it (Postgres row lock; SQLite's ``BEGIN IMMEDIATE``
already holds the one write lock), so replicas recording for one procurement take turns, a
sequence number is never handed out twice, and a webhook event id already kept is counted
(``deliveries`` + 1), never inserted again. ``UNIQUE (scope, procurement_id, event_id)``
backs that up: NULL ids (server writes) are distinct in both dialects.

Every call is one short transaction of a few indexed statements; still, a database may wait on
a lock or the network, so the server calls these from a worker thread
(:meth:`rails_mcp.resources.events.EventLog.off_loop`), never on its event loop.

Lock order, everywhere: a procurement's trail row, then its events. Forgetting old
procurements deletes their trail rows first (``RETURNING`` which), then exactly their events, so
it never deadlocks with a write, and a write racing it either keeps its procurement (its
``changed_at`` moved past the cut) or waits and starts a fresh trail after the events are gone.
One transaction forgets at a time (Postgres: a transaction-level try-lock; one that does not get
it skips forgetting), since two forgetters each holding the other's next row would deadlock.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import Execute

__all__ = ["EventBounds", "ProcurementEventsTable", "StoredEvent", "StoredHistory"]


@dataclass(frozen=True, slots=True)
class EventBounds:
    """What one procurement keeps (newest first, the newest always), and how many are kept."""

    max_events: int
    max_bytes: int
    max_procurements: int


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One kept event: its JSON as recorded, and how many times it was delivered."""

    body: str
    deliveries: int


@dataclass(frozen=True, slots=True)
class StoredHistory:
    """One procurement's kept events, oldest first, and how many older ones were dropped."""

    events: tuple[StoredEvent, ...] = ()
    dropped: int = 0


class ProcurementEventsTable:
    """The event-history methods of :class:`~rails_mcp.state.store.SqlStateStore` (a mixin)."""

    clock: Callable[[], float]

    def transaction(self, *, write: bool = True) -> AbstractContextManager[Execute]:
        raise NotImplementedError  # the store's backend supplies it

    def _may_forget(self, execute: Execute) -> bool:
        """Whether this transaction may forget old procurements now: one writer at a time does
        (Postgres overrides this with a try-lock; SQLite has one writer anyway)."""
        return True

    def record_procurement_event(
        self, scope: str, procurement_id: str, event_id: str | None, body: str, bounds: EventBounds
    ) -> bool:
        """Append an event (one delivery so far); a kept ``event_id`` is counted instead. True if new.

        Then the oldest events past ``bounds`` are dropped (and counted), and when this is a
        procurement the store did not have, the least recently changed ones past
        ``bounds.max_procurements`` are forgotten whole.
        """
        key = (scope, procurement_id)
        with self.transaction() as execute:
            now = self.clock()  # once the transaction holds its lock: the newest write is the latest
            seq: int = execute(
                "INSERT INTO procurement_trails (scope, procurement_id, next_seq, dropped, changed_at) "
                "VALUES (?, ?, 1, 0, ?) ON CONFLICT (scope, procurement_id) DO UPDATE SET "
                "next_seq = procurement_trails.next_seq + 1, changed_at = excluded.changed_at "
                "RETURNING next_seq",
                (*key, now),
            ).fetchone()[0]
            if event_id is not None and _count_delivery(execute, scope, procurement_id, event_id):
                return False
            execute(
                "INSERT INTO procurement_events "
                "(scope, procurement_id, seq, event_id, deliveries, body, size, recorded_at) "
                "VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
                (*key, seq, event_id, body, len(body), now),
            )
            _trim(execute, key, bounds)
            if seq == 1 and self._may_forget(execute):  # busy: the next new procurement forgets
                _forget_beyond(execute, key, bounds.max_procurements)
        return True

    def count_redelivery(self, scope: str, procurement_id: str, event_id: str) -> bool:
        """One more delivery of a kept event (one atomic ``UPDATE``); False if it is not kept."""
        with self.transaction() as execute:
            return _count_delivery(execute, scope, procurement_id, event_id)

    def procurement_history(self, scope: str, procurement_id: str) -> StoredHistory:
        """The kept events, oldest first, and how many older ones were dropped."""
        key = (scope, procurement_id)
        with self.transaction(write=False) as execute:
            trail = execute(
                "SELECT dropped FROM procurement_trails WHERE scope = ? AND procurement_id = ?", key
            ).fetchone()
            rows = execute(
                "SELECT body, deliveries FROM procurement_events "
                "WHERE scope = ? AND procurement_id = ? ORDER BY seq",
                key,
            ).fetchall()
        if trail is None:
            return StoredHistory()
        return StoredHistory(tuple(StoredEvent(body, int(n)) for body, n in rows), int(trail[0]))


def _count_delivery(execute: Execute, scope: str, procurement_id: str, event_id: str) -> bool:
    return (
        execute(
            "UPDATE procurement_events SET deliveries = deliveries + 1 "
            "WHERE scope = ? AND procurement_id = ? AND event_id = ?",
            (scope, procurement_id, event_id),
        ).rowcount
        == 1
    )


def _trim(execute: Execute, key: tuple[str, str], bounds: EventBounds) -> None:
    """Drop the oldest events until both bounds hold (the newest always stays); count them."""
    rows = execute(
        "SELECT seq, size FROM procurement_events WHERE scope = ? AND procurement_id = ? ORDER BY seq DESC",
        key,
    ).fetchall()
    total = 0
    for kept, (seq, size) in enumerate(rows):
        if kept and (kept + 1 > bounds.max_events or total + size > bounds.max_bytes):
            dropped = execute(
                "DELETE FROM procurement_events WHERE scope = ? AND procurement_id = ? AND seq <= ?",
                (*key, seq),
            ).rowcount
            execute(
                "UPDATE procurement_trails SET dropped = dropped + ? WHERE scope = ? AND procurement_id = ?",
                (dropped, *key),
            )
            return
        total += size


def _forget_beyond(execute: Execute, key: tuple[str, str], max_procurements: int) -> None:
    """Forget the scope's least recently changed procurements past the cap (never ``key``, just
    written): their trail rows first, then the events of exactly those (the order writes lock in)."""
    scope, procurement_id = key
    edge = execute(
        "SELECT changed_at, procurement_id FROM procurement_trails WHERE scope = ? "
        "ORDER BY changed_at DESC, procurement_id DESC LIMIT 1 OFFSET ?",
        (scope, max_procurements),
    ).fetchone()
    if edge is None:
        return
    forgotten = execute(
        "DELETE FROM procurement_trails WHERE scope = ? AND (changed_at, procurement_id) <= (?, ?) "
        "AND procurement_id <> ? RETURNING procurement_id",
        (scope, *edge, procurement_id),
    ).fetchall()
    for (gone,) in forgotten:
        execute("DELETE FROM procurement_events WHERE scope = ? AND procurement_id = ?", (scope, gone))
