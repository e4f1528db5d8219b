"""The shared backend for replicas: Postgres through psycopg 3 and its connection pool.

Why psycopg 3: it is the maintained PostgreSQL driver (psycopg2 gets fixes only), ships binary
wheels (``psycopg[binary]``, no compiler or libpq on the host), uses server-side parameter
binding, and has the same DB-API shape as :mod:`sqlite3`, so one implementation of the store's
SQL serves both. It is imported only when ``RAILS_STATE_URL`` names Postgres.

A pool of up to ``RAILS_STATE_POOL_SIZE`` connections per process (``psycopg_pool``, threads,
no event loop), each in autocommit mode with explicit transactions: many sessions' calls run at
once instead of queueing on one connection, and a connection is checked as it is taken, so one
dropped by a Postgres restart or ``pg_terminate_backend`` is replaced, not handed out. A
transaction holds one connection throughout: a reservation locks its budget window's row
(``SELECT … FOR UPDATE``) so callers take turns on it, and opening the store takes a
transaction-scoped advisory lock while it migrates.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Generator, Sequence
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from .store import Cursor, Execute, SqlStateStore

__all__ = ["PostgresStateStore"]

#: The advisory lock key held while a replica migrates the schema (any constant will do).
_MIGRATION_LOCK = 7_245_310_018
#: The advisory lock key a transaction forgetting old order histories holds (one at a time).
_FORGET_LOCK = 7_245_310_019
#: How every connection is made (the application name finds them in ``pg_stat_activity``).
_CONNECT: dict[str, Any] = {"autocommit": True, "connect_timeout": 10, "application_name": "rails-mcp"}


class PostgresStateStore(SqlStateStore):
    """The state store on a Postgres database named by a ``postgresql://`` URL."""

    lock_row = " FOR UPDATE"

    def __init__(self, url: str, *, pool_size: int = 4, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        # One plain connection first: a wrong URL fails at once with the driver's own error,
        # where a pool would keep retrying in the background until its timeout.
        psycopg.connect(url, **_CONNECT).close()
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            kwargs=_CONNECT,
            min_size=1,
            max_size=pool_size,
            check=ConnectionPool.check_connection,
            name="rails-mcp-state",
            # A call waits this long for a connection, then fails (and is warned about, never
            # fatal to a tool call): with the database down, nothing waits psycopg's 30 s.
            timeout=5.0,
            open=False,
        )
        self._pool.open()  # worker threads, not tasks: no event loop is needed (or used)
        try:
            self.migrate()
        except BaseException:
            self._pool.close()
            raise

    def close(self) -> None:
        self._pool.close()

    def _may_forget(self, execute: Execute) -> bool:
        return bool(execute("SELECT pg_try_advisory_xact_lock(?)", (_FORGET_LOCK,)).fetchone()[0])

    def _migration_lock(self, execute: Execute) -> None:
        execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))

    @contextlib.contextmanager
    def transaction(self, *, write: bool = True) -> Generator[Execute]:
        with self._pool.connection() as db:

            def execute(sql: str, params: Sequence[Any]) -> Cursor:
                return db.execute(sql.replace("?", "%s"), params)  # pyright: ignore[reportArgumentType]

            with db.transaction():
                yield execute
