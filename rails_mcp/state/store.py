"""What the state store keeps and how, written once for both SQL dialects.

:class:`StateStore` is the interface its users see. :class:`SqlStateStore` implements it over
a backend that supplies only a connection's transaction (``?`` placeholders, rows as tuples):
SQLite (:mod:`rails_mcp.state.sqlite`) and Postgres (:mod:`rails_mcp.state.postgres`). Every
method is one short transaction and blocking: call it from a worker thread
(``anyio.to_thread``) when on the event loop.
"""

from __future__ import annotations

import json
import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol

from .audit_table import AuditRow, AuditTable
from .events_table import EventBounds, ProcurementEventsTable, StoredHistory
from .migrations import IDENTITY, LATEST, MIGRATIONS

__all__ = [
    "IDEMPOTENCY_SECONDS",
    "IN_FLIGHT_SECONDS",
    "RUN_ID",
    "Idempotency",
    "OpenIntent",
    "OverBudget",
    "Reservation",
    "SqlStateStore",
    "StateStore",
    "StateVersionError",
]

#: This process's identity as an owner of open intents (a pid alone may be reused).
RUN_ID = uuid.uuid4().hex
#: How long an idempotency key and the result it stands for are kept.
IDEMPOTENCY_SECONDS = 24 * 3600.0
#: A call holding a key or a budget reservation longer than this was lost with its process:
#: longer than an approval may wait (5 minutes) plus the wire's retries.
IN_FLIGHT_SECONDS = 900.0


class StateVersionError(Exception):
    """The store was migrated by a newer rails-mcp than this one."""


@dataclass(frozen=True, slots=True)
class OpenIntent:
    """An announced write with no outcome yet; ``line`` is its (redacted) audit line."""

    id: str
    tool: str
    opened_at: float
    line: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Reservation:
    """Money set aside for one placement until it is committed or released."""

    id: str
    scope: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class OverBudget:
    """Why a reservation was refused: what is left in the window, in the window's currency."""

    remaining: Decimal
    currency: str | None


@dataclass(frozen=True, slots=True)
class Idempotency:
    """What a key says about a call: run it (``new``), replay ``result``, or refuse."""

    status: Literal["new", "replay", "conflict", "in_flight"]
    result: Mapping[str, Any] | None = None


class StateStore(Protocol):
    """What must outlive a process and be shared by replicas."""

    def close(self) -> None: ...

    # used approvals
    def approval_used(self, nonce: str, now: float | None = None) -> bool: ...
    def spend_approval(self, nonce: str, expires_at: float, now: float | None = None) -> bool: ...

    # open write intents
    def open_intent(self, intent_id: str, tool: str, line: Mapping[str, Any]) -> None: ...
    def close_intent(self, intent_id: str) -> None: ...
    def has_orphans(self) -> bool: ...
    def claim_orphans(self) -> list[OpenIntent]: ...

    # approved orders
    def record_approved_order(self, procurement_id: str, order: Mapping[str, Any]) -> None: ...
    def approved_order(self, procurement_id: str) -> dict[str, Any] | None: ...

    # the spend ledger
    def reserve_budget(
        self, scope: str, window_start: float, amount: Decimal, limit: Decimal, currency: str | None
    ) -> Reservation | OverBudget: ...
    def release_budget(self, reservation: Reservation) -> None: ...
    def commit_budget(self, reservation: Reservation, currency: str | None) -> bool: ...
    def budget_used(self, scope: str, window_start: float) -> tuple[Decimal, str | None]: ...

    # idempotency keys
    def begin_idempotent(self, scope: str, key: str, digest: str) -> Idempotency: ...
    def finish_idempotent(self, scope: str, key: str, result: Mapping[str, Any]) -> None: ...
    def abandon_idempotent(self, scope: str, key: str) -> None: ...

    # order event history (rails_mcp.state.events_table)
    def record_procurement_event(
        self, scope: str, procurement_id: str, event_id: str | None, body: str, bounds: EventBounds
    ) -> bool: ...
    def count_redelivery(self, scope: str, procurement_id: str, event_id: str) -> bool: ...
    def procurement_history(self, scope: str, procurement_id: str) -> StoredHistory: ...

    # the audit log (a table; the JSONL file is written beside it)
    def append_audit(self, rows: Sequence[AuditRow], *, durable: bool = True) -> None: ...
    def audit_lines(
        self, *, since: float | None = None, tool: str | None = None, limit: int | None = None
    ) -> Iterator[str]: ...


class Cursor(Protocol):
    """The part of a DB-API cursor both drivers share."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


#: Run one statement (``?`` placeholders) inside the current transaction.
Execute = Callable[[str, Sequence[Any]], Cursor]


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own pid, reused after a restart (a container's pid 1): not a live owner
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SqlStateStore(ABC, ProcurementEventsTable, AuditTable):
    """The store's logic over one backend; each method is one transaction."""

    #: Appended to the ``SELECT`` that locks a budget window or key row (Postgres: ``FOR UPDATE``;
    #: SQLite needs none: ``BEGIN IMMEDIATE`` already holds the one write lock).
    lock_row = ""
    #: The column a migration writes as ``IDENTITY``: a key the database assigns (SQL's
    #: identity column; SQLite spells it ``INTEGER PRIMARY KEY``).
    identity_key = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock

    @abstractmethod
    def transaction(self, *, write: bool = True) -> AbstractContextManager[Execute]:
        """One transaction; ``write`` takes the write lock at its start (SQLite)."""

    @abstractmethod
    def close(self) -> None: ...

    def _locking(self, select: str) -> str:
        """``select`` taking its rows' lock until the transaction ends."""
        return select + self.lock_row

    def _migration_lock(self, execute: Execute) -> None:  # a hook: SQLite's BEGIN IMMEDIATE suffices
        """Serialise replicas opening the store at once (Postgres: an advisory lock)."""

    def migrate(self) -> int:
        """Apply the steps this store lacks, in one transaction; the version it is at."""
        with self.transaction() as execute:
            self._migration_lock(execute)
            execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)",
                (),
            )
            applied = {row[0] for row in execute("SELECT version FROM schema_version", ()).fetchall()}
            current = max(applied, default=0)
            if current > LATEST:
                raise StateVersionError(
                    f"the state store is at schema version {current}, newer than this rails-mcp "
                    f"knows ({LATEST}); run the newer rails-mcp, or point RAILS_STATE_URL elsewhere"
                )
            for version, statements in MIGRATIONS:
                if version not in applied:  # also a step merged after a later one was applied
                    for statement in statements:
                        execute(statement.replace(IDENTITY, self.identity_key), ())
                    execute(
                        "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                        (version, self.clock()),
                    )
        return max(current, LATEST)

    # --- used approvals -------------------------------------------------------------------

    def approval_used(self, nonce: str, now: float | None = None) -> bool:
        """Whether this approval state was already answered (and has not expired since)."""
        now = self.clock() if now is None else now
        with self.transaction(write=False) as execute:
            row = execute(
                "SELECT 1 FROM used_approvals WHERE nonce = ? AND expires_at > ?", (nonce, now)
            ).fetchone()
        return row is not None

    def spend_approval(self, nonce: str, expires_at: float, now: float | None = None) -> bool:
        """Mark a state used; False when some process used it first. Expired entries are pruned."""
        now = self.clock() if now is None else now
        with self.transaction() as execute:
            execute("DELETE FROM used_approvals WHERE expires_at <= ?", (now,))
            added = execute(
                "INSERT INTO used_approvals (nonce, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (nonce, expires_at),
            ).rowcount
        return added == 1

    # --- open write intents ---------------------------------------------------------------

    def open_intent(self, intent_id: str, tool: str, line: Mapping[str, Any]) -> None:
        """Record a write this process is about to make (before its audit line and the wire)."""
        with self.transaction() as execute:
            execute(
                "INSERT INTO open_intents (id, tool, opened_at, owner_run, owner_pid, line) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (intent_id, tool, self.clock(), RUN_ID, os.getpid(), json.dumps(line)),
            )

    def close_intent(self, intent_id: str) -> None:
        """The intent's outcome is in the audit log: forget it here."""
        with self.transaction() as execute:
            execute("DELETE FROM open_intents WHERE id = ?", (intent_id,))

    def _intent_owners(self) -> list[Any]:
        with self.transaction(write=False) as execute:
            return execute(
                "SELECT id, tool, opened_at, owner_run, owner_pid, line FROM open_intents", ()
            ).fetchall()

    def has_orphans(self) -> bool:
        """Whether any open intent belongs to a process that is gone (cheap: no claim).

        A process on another host looks gone here; that is why a shared (Postgres) store is
        recovered by the replica that restarts, and each claim is taken by one process only.
        """
        return any(
            run != RUN_ID and not _process_alive(pid) for _, _, _, run, pid, _ in self._intent_owners()
        )

    def claim_orphans(self) -> list[OpenIntent]:
        """Take over the open intents of processes that are gone; each is claimed by one process."""
        claimed: list[OpenIntent] = []
        for ident, tool, opened_at, run, pid, line in self._intent_owners():
            if run == RUN_ID or _process_alive(pid):
                continue
            with self.transaction() as execute:
                taken = execute(
                    "UPDATE open_intents SET owner_run = ?, owner_pid = ? WHERE id = ? AND owner_run = ?",
                    (RUN_ID, os.getpid(), ident, run),
                ).rowcount
            if taken == 1:
                claimed.append(OpenIntent(ident, tool, float(opened_at), json.loads(line)))
        return claimed

    # --- approved orders ------------------------------------------------------------------

    def record_approved_order(self, procurement_id: str, order: Mapping[str, Any]) -> None:
        """Keep the order a person approved, by the procurement it became (last write wins)."""
        with self.transaction() as execute:
            execute(
                "INSERT INTO approved_orders (procurement_id, body, recorded_at) VALUES (?, ?, ?) "
                "ON CONFLICT (procurement_id) DO UPDATE SET body = excluded.body, "
                "recorded_at = excluded.recorded_at",
                (procurement_id, json.dumps(dict(order), sort_keys=True), self.clock()),
            )

    def approved_order(self, procurement_id: str) -> dict[str, Any] | None:
        with self.transaction(write=False) as execute:
            row = execute(
                "SELECT body FROM approved_orders WHERE procurement_id = ?", (procurement_id,)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    # --- the spend ledger -----------------------------------------------------------------

    def reserve_budget(
        self, scope: str, window_start: float, amount: Decimal, limit: Decimal, currency: str | None
    ) -> Reservation | OverBudget:
        """Set ``amount`` aside in the window unless it would take the window past ``limit``.

        Atomic across processes: the window's row is locked (Postgres ``FOR UPDATE``; SQLite
        ``BEGIN IMMEDIATE``) while the committed and live reservations are summed and the new
        one added, so two replicas can never both take the last of a budget.
        """
        now = self.clock()
        with self.transaction() as execute:
            execute(
                "INSERT INTO budget_windows (scope, window_start, currency) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (scope, window_start, currency),
            )
            counted_in = execute(
                self._locking("SELECT currency FROM budget_windows WHERE scope = ? AND window_start = ?"),
                (scope, window_start),
            ).fetchone()[0]
            # Only under the lock just taken: reservations of other windows are other
            # transactions' rows, and deleting those could deadlock two reservations.
            execute(
                "DELETE FROM budget_reservations WHERE scope = ? AND window_start = ? "
                "AND state = 'held' AND created_at <= ?",
                (scope, window_start, now - IN_FLIGHT_SECONDS),
            )
            rows = execute(
                "SELECT amount FROM budget_reservations WHERE scope = ? AND window_start = ?",
                (scope, window_start),
            ).fetchall()
            used = sum((Decimal(row[0]) for row in rows), Decimal(0))
            if used + amount > limit:
                return OverBudget(max(limit - used, Decimal(0)), counted_in)
            reservation = Reservation(uuid.uuid4().hex, scope, amount)
            execute(
                "INSERT INTO budget_reservations (id, scope, window_start, amount, state, created_at) "
                "VALUES (?, ?, ?, ?, 'held', ?)",
                (reservation.id, scope, window_start, str(amount), now),
            )
        return reservation

    def release_budget(self, reservation: Reservation) -> None:
        """The placement failed or was declined: its money is free again."""
        with self.transaction() as execute:
            execute("DELETE FROM budget_reservations WHERE id = ? AND state = 'held'", (reservation.id,))

    def commit_budget(self, reservation: Reservation, currency: str | None) -> bool:
        """The order was placed: count it for good; False (released, not counted) when its
        currency is not the window's. A window with no currency yet takes the first order's."""
        with self.transaction() as execute:
            row = execute(
                self._locking(
                    "SELECT w.currency, w.scope, w.window_start FROM budget_windows w "
                    "JOIN budget_reservations r ON r.scope = w.scope AND r.window_start = w.window_start "
                    "WHERE r.id = ?"
                ),
                (reservation.id,),
            ).fetchone()
            if row is None:
                return False
            counted_in, scope, window_start = row
            if counted_in is not None and currency is not None and currency != counted_in:
                execute("DELETE FROM budget_reservations WHERE id = ?", (reservation.id,))
                return False
            if counted_in is None and currency is not None:
                execute(
                    "UPDATE budget_windows SET currency = ? WHERE scope = ? AND window_start = ?",
                    (currency, scope, window_start),
                )
            execute("UPDATE budget_reservations SET state = 'committed' WHERE id = ?", (reservation.id,))
        return True

    def budget_used(self, scope: str, window_start: float) -> tuple[Decimal, str | None]:
        """What the window has committed or holds for a live call, and its currency: read only,
        one indexed ``SELECT`` (a held reservation older than a lost call's is not counted,
        as the next reservation would delete it)."""
        with self.transaction(write=False) as execute:
            rows = execute(
                "SELECT w.currency, r.amount FROM budget_windows w LEFT JOIN budget_reservations r "
                "ON r.scope = w.scope AND r.window_start = w.window_start "
                "AND (r.state = 'committed' OR r.created_at > ?) "
                "WHERE w.scope = ? AND w.window_start = ?",
                (self.clock() - IN_FLIGHT_SECONDS, scope, window_start),
            ).fetchall()
        used = sum((Decimal(row[1]) for row in rows if row[1] is not None), Decimal(0))
        return used, rows[0][0] if rows else None

    # --- idempotency keys -----------------------------------------------------------------

    def begin_idempotent(self, scope: str, key: str, digest: str) -> Idempotency:
        """Claim ``key`` for a call with these arguments, or say what it already stands for."""
        now = self.clock()
        with self.transaction() as execute:
            execute("DELETE FROM idempotency_keys WHERE created_at <= ?", (now - IDEMPOTENCY_SECONDS,))
            claimed = execute(
                "INSERT INTO idempotency_keys (scope, key, digest, state, result, created_at) "
                "VALUES (?, ?, ?, 'in_flight', NULL, ?) ON CONFLICT DO NOTHING",
                (scope, key, digest, now),
            ).rowcount
            if claimed == 1:
                return Idempotency("new")
            kept, state, result, created_at = execute(
                self._locking(
                    "SELECT digest, state, result, created_at FROM idempotency_keys "
                    "WHERE scope = ? AND key = ?"
                ),
                (scope, key),
            ).fetchone()
            if kept != digest:
                return Idempotency("conflict")
            if state == "done":
                return Idempotency("replay", json.loads(result))
            if created_at > now - IN_FLIGHT_SECONDS:
                return Idempotency("in_flight")
            execute(  # its call was lost with its process: this one takes the key over
                "UPDATE idempotency_keys SET created_at = ? WHERE scope = ? AND key = ?", (now, scope, key)
            )
        return Idempotency("new")

    def finish_idempotent(self, scope: str, key: str, result: Mapping[str, Any]) -> None:
        """The call ended with ``result``: a retry with the same key gets it back."""
        with self.transaction() as execute:
            execute(
                "UPDATE idempotency_keys SET state = 'done', result = ? WHERE scope = ? AND key = ?",
                (json.dumps(dict(result)), scope, key),
            )

    def abandon_idempotent(self, scope: str, key: str) -> None:
        """The call ended with nothing worth replaying (a refusal, a retryable failure)."""
        with self.transaction() as execute:
            execute(
                "DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND state = 'in_flight'",
                (scope, key),
            )
