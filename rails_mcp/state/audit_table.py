"""The audit log as a table of the state store: one trail for every replica sharing it.

Each row keeps the exact redacted JSON line the audit file gets (``line``) beside the columns an
export filters and orders on. Rows are only ever inserted, in batches of one transaction; an
export reads them oldest first (by time, then by the order the database took them).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import Execute, StateStore

log = logging.getLogger("rails_mcp.audit")

__all__ = ["AuditRow", "AuditTable", "PendingLine", "TableWriter"]

#: Rows per ``INSERT``: 8 parameters each stays under SQLite's oldest limit (999).
_ROWS_PER_INSERT = 100
#: Rows an export reads per query.
_ROWS_PER_PAGE = 1000


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One audit line and what it is filtered by; ``principal`` is the token's ``sub``."""

    at: str
    at_epoch: float
    tool: str
    kind: str
    outcome: str
    principal: str | None
    tenant: str | None
    line: str


def _values(row: AuditRow) -> tuple[object, ...]:
    return (row.at, row.at_epoch, row.tool, row.kind, row.outcome, row.principal, row.tenant, row.line)


class AuditTable:
    """The ``audit_log`` table's reads and writes: a mixin of a store that supplies transactions."""

    if TYPE_CHECKING:

        def transaction(self, *, write: bool = True) -> AbstractContextManager[Execute]: ...

    def unflushed_transaction(self) -> AbstractContextManager[Execute]:
        """A write transaction whose commit need not wait for the disk (a backend may say so:
        SQLite's fsync would slow the audit file's writes); a batch's lines are in the file."""
        return self.transaction()

    def append_audit(self, rows: Sequence[AuditRow], *, durable: bool = True) -> None:
        """Insert ``rows`` in one transaction (a batch of lines, or one intent line: ``durable``,
        on disk once this returns), a few rows per statement: one round trip each, within every
        dialect's parameter limit."""
        with self.transaction() if durable else self.unflushed_transaction() as execute:
            for start in range(0, len(rows), _ROWS_PER_INSERT):
                chunk = rows[start : start + _ROWS_PER_INSERT]
                execute(
                    "INSERT INTO audit_log (at, at_epoch, tool, kind, outcome, principal, tenant, line) "
                    "VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk)),
                    [value for row in chunk for value in _values(row)],
                )

    def audit_lines(
        self, *, since: float | None = None, tool: str | None = None, limit: int | None = None
    ) -> Iterator[str]:
        """The stored lines, oldest first: from ``since`` (epoch seconds) on, of ``tool`` only,
        the first ``limit`` of them (each filter only when given). Read a page at a time (by the
        time-and-sequence index), so a year of lines is never held in memory at once."""
        after: tuple[float, int] | None = None
        left = limit
        while left is None or left > 0:
            where: list[str] = []
            params: list[object] = []
            if since is not None:
                where.append("at_epoch >= ?")
                params.append(since)
            if tool is not None:
                where.append("tool = ?")
                params.append(tool)
            if after is not None:
                where.append("(at_epoch, seq) > (?, ?)")
                params.extend(after)
            size = _ROWS_PER_PAGE if left is None else min(_ROWS_PER_PAGE, left)
            sql = "SELECT at_epoch, seq, line FROM audit_log"
            if where:
                sql += " WHERE " + " AND ".join(where)
            with self.transaction(write=False) as execute:
                rows = execute(sql + " ORDER BY at_epoch, seq LIMIT ?", [*params, size]).fetchall()
            yield from (str(row[2]) for row in rows)
            if len(rows) < size:
                return
            after = (float(rows[-1][0]), int(rows[-1][1]))
            left = None if left is None else left - len(rows)


#: A line waiting for the table: time, tool, kind, outcome, principal sub, tenant, the line.
PendingLine = tuple[str, str, str, str, str | None, str | None, str]


class TableWriter:
    """Copies audit lines into the state store's table, off the request path.

    ``put`` only appends to a bounded in-memory queue (no lock, no thread woken): a daemon
    thread takes what is queued every ``batch_seconds``, or as soon as ``batch_lines`` are
    waiting, and writes it in one transaction; it stops once idle and the next line starts it
    again. When the store is down or slow, lines are dropped from the table (never from the
    file), counted in ``dropped``, with one server-log warning per outage.
    """

    def __init__(
        self,
        store: StateStore,
        *,
        batch_lines: int = 200,
        batch_seconds: float = 0.1,
        capacity: int = 10_000,
        idle_seconds: float = 2.0,
    ) -> None:
        self.store = store
        self.batch_lines, self.batch_seconds, self.idle_seconds = batch_lines, batch_seconds, idle_seconds
        self.capacity = capacity
        self._queue: deque[PendingLine] = deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._outage = False
        #: Lines the table never got (the store failed, or the queue was full).
        self.dropped = 0

    def put(self, pending: PendingLine) -> None:
        """Queue a line for the next batch; never blocks."""
        if len(self._queue) >= self.capacity:
            self._lost(1, "the queue is full")
            return
        self._queue.append(pending)
        if self._thread is None:
            self._start()
        elif len(self._queue) >= self.batch_lines:
            self._wake.set()

    def write_now(self, pending: PendingLine) -> None:
        """Write one line at once, in the caller's thread (an intent: durable before the wire)."""
        self._write([pending], durable=True)

    def close(self, timeout: float = 5.0) -> None:
        """Write the queued lines and stop the batcher, within ``timeout`` in all: at the first
        batch the store refuses, or at the deadline, what is left is counted as dropped (the
        file has it), so a store that is down never holds up an exit."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._closed = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout)
            with self._lock:
                self._thread = None
        while self._queue and time.monotonic() < deadline and self._write(self._take()):
            pass
        if left := len(self._queue):
            self._queue.clear()
            self._lost(left, "closing before the store took them")

    def _start(self) -> None:
        with self._lock:
            closed = self._closed
            if not closed and self._thread is None:
                self._thread = threading.Thread(target=self._run, name="rails-mcp-audit-table", daemon=True)
                self._thread.start()
        if closed:  # a line after close (at shutdown): written at once, in the caller's thread
            self._write(self._take())

    def _take(self) -> list[PendingLine]:
        batch: list[PendingLine] = []
        with contextlib.suppress(IndexError):
            while len(batch) < self.batch_lines:
                batch.append(self._queue.popleft())
        return batch

    def _run(self) -> None:
        idle_since = time.monotonic()
        while not self._closed:
            self._wake.wait(self.batch_seconds)
            self._wake.clear()
            if self._queue:
                while self._queue and not self._closed:
                    self._write(self._take())
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= self.idle_seconds and self._stop_when_idle():
                return

    def _stop_when_idle(self) -> bool:
        """Stop unless a line arrived meanwhile (``put`` starts a new batcher once this is gone)."""
        with self._lock:
            self._thread = None
            if not self._queue:
                return True
            self._thread = threading.current_thread()
            return False

    def _write(self, batch: list[PendingLine], *, durable: bool = False) -> bool:
        """One batch in one transaction; False (counted and warned once) if the store refused it."""
        if not batch:
            return True
        try:
            self.store.append_audit([_row(pending) for pending in batch], durable=durable)
        except Exception as exc:  # sqlite3, psycopg or OS errors alike: the file has the lines
            self._lost(len(batch), type(exc).__name__)
            return False
        if self._outage:
            self._outage = False
            log.warning("audit table: the state store takes lines again (%d dropped in all)", self.dropped)
        return True

    def _lost(self, lines: int, reason: str) -> None:
        with self._lock:
            self.dropped += lines
            first, self._outage = not self._outage, True
        if first:
            log.warning(
                "audit table: %d line(s) not written to the state store (%s); the audit file has them, "
                "and further losses are only counted until the store takes lines again",
                lines,
                reason,
            )


def _row(pending: PendingLine) -> AuditRow:
    at, tool, kind, outcome, principal, tenant, line = pending
    try:
        at_epoch = datetime.fromisoformat(at).timestamp()
    except ValueError:
        at_epoch = time.time()
    return AuditRow(at, at_epoch, tool, kind, outcome, principal, tenant, line)
