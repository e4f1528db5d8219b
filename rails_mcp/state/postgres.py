"""The shared backend for replicas: Postgres through psycopg 3.

Why psycopg 3: it is the maintained PostgreSQL driver (psycopg2 gets fixes only), ships binary
wheels (``psycopg[binary]``, no compiler or libpq on the host), uses server-side parameter
binding, and has the same DB-API shape as :mod:`sqlite3`, so one implementation of the store's
SQL serves both. It is imported only when ``RAILS_STATE_URL`` names Postgres.

One connection per store, in autocommit mode with explicit transactions; a reservation locks
its budget window's row (``SELECT … FOR UPDATE``) so replicas take turns on it, and opening
the store takes a transaction-scoped advisory lock while it migrates.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Generator, Sequence
from typing import Any

import psycopg

from .store import Cursor, Execute, SqlStateStore

__all__ = ["PostgresStateStore"]

#: The advisory lock key held while a replica migrates the schema (any constant will do).
_MIGRATION_LOCK = 7_245_310_018


class PostgresStateStore(SqlStateStore):
    """The state store on a Postgres database named by a ``postgresql://`` URL."""

    lock_row = " FOR UPDATE"

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self._url = url
        self._lock = threading.Lock()
        self._db = self._connect()
        self.migrate()

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self._url, autocommit=True, connect_timeout=10, application_name="rails-mcp")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _migration_lock(self, execute: Execute) -> None:
        execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))

    @contextlib.contextmanager
    def transaction(self, *, write: bool = True) -> Generator[Execute]:
        with self._lock:
            if self._db.closed:  # dropped by the server or the network: a new connection
                self._db = self._connect()
            db = self._db

            def execute(sql: str, params: Sequence[Any]) -> Cursor:
                return db.execute(sql.replace("?", "%s"), params)  # pyright: ignore[reportArgumentType]

            with db.transaction():
                yield execute
