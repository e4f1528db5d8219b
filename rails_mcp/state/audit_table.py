"""The audit log as a table of the state store: one trail for every replica sharing it.

Each row keeps the exact redacted JSON line the audit file gets (``line``) beside the columns an
export filters and orders on. Rows are only ever inserted, in batches of one transaction; an
export reads them oldest first (by time, then by the order the database took them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import Execute

__all__ = ["AuditRow", "AuditTable"]

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
