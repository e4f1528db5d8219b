"""SQLite persistence: one JSON world per tenant, every write one ``BEGIN IMMEDIATE``.

Why one document per tenant: the rules (``rules.py``) stay pure, and a write (a placement
flipping parts, a confirmation creating its invoice) is atomic by construction, because it
loads, changes and saves the whole world inside a single write transaction. SQLite's write
lock serialises writers across threads and processes alike, so two simultaneous confirms
see each other's result and produce one invoice.

Reads never write: each tenant row carries a ``version`` bumped by every change, and a
process keeps the parsed world of the last version it saw, so a read costs one indexed
``SELECT`` of two numbers. ``last_active`` drives the idle reset and is refreshed at most
every few seconds by :meth:`Store.touch`.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import anyio.to_thread

from rails_mcp.sandbox.world import World, seed_world
from rails_mcp.wire import limits

__all__ = [
    "DEFAULT_TENANT",
    "TENANT_PATTERN",
    "Store",
    "TenantState",
    "is_valid_tenant",
    "reset_tenant",
]

T = TypeVar("T")

#: The shared world of calls without ``x-partifact-tenant``: no valid name is empty.
DEFAULT_TENANT = ""
TENANT_PATTERN = re.compile(limits.TENANT_PATTERN)

_BUSY_TIMEOUT_MS = 30_000
#: How many tenants' parsed worlds a process keeps; the rest are re-read on demand.
CACHED_WORLDS = 256
_SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (
    name        TEXT PRIMARY KEY,
    world       TEXT NOT NULL,
    version     INTEGER NOT NULL,
    last_active REAL NOT NULL
);
-- Sandbox-wide values that must survive restarts (the key that signs upload URLs).
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
-- One loopback URL per (tenant, integration): where that integration's events are POSTed.
CREATE TABLE IF NOT EXISTS webhook_subscriptions (
    tenant         TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    url            TEXT NOT NULL,
    created        REAL NOT NULL,
    PRIMARY KEY (tenant, integration_id)
);
-- The outbox: events written in the same transaction as the change that produced them.
-- state: pending (due at next_attempt) | delivered | failed (retries exhausted) | dropped.
CREATE TABLE IF NOT EXISTS webhook_events (
    id             TEXT PRIMARY KEY,
    tenant         TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    type           TEXT NOT NULL,
    data           TEXT NOT NULL,
    created        REAL NOT NULL,
    state          TEXT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    next_attempt   REAL NOT NULL,
    seq            INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_events_due ON webhook_events (state, next_attempt);
CREATE INDEX IF NOT EXISTS webhook_events_tenant ON webhook_events (tenant, seq);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    event_id    TEXT NOT NULL,
    tenant      TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    at          REAL NOT NULL,
    url         TEXT NOT NULL,
    status_code INTEGER,
    error       TEXT,
    ok          INTEGER NOT NULL,
    PRIMARY KEY (event_id, attempt)
);
-- What the reference sink received (bounded per tenant).
CREATE TABLE IF NOT EXISTS webhook_sink (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant         TEXT NOT NULL,
    received_at    REAL NOT NULL,
    event_id       TEXT,
    type           TEXT,
    integration_id TEXT,
    verified       INTEGER NOT NULL,
    reason         TEXT,
    duplicate      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_sink_tenant ON webhook_sink (tenant, seq);
-- Bytes PUT to a pre-signed upload URL.
CREATE TABLE IF NOT EXISTS uploads (
    id           TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    content      BLOB NOT NULL,
    stored_at    REAL NOT NULL
);
"""


def is_valid_tenant(name: str) -> bool:
    return TENANT_PATTERN.fullmatch(name) is not None


@functools.cache
def _seed_json() -> str:
    return seed_world().model_dump_json()


@dataclass(frozen=True, slots=True)
class TenantState:
    version: int
    last_active: float


class Store:
    """Every tenant's world in one SQLite file (or in memory, for tests).

    Writes go through one connection guarded by a lock and are meant to run in a worker
    thread (they may wait on another process's write lock); reads use a second connection
    and are quick enough for the event loop, since WAL readers never wait for writers.
    """

    def __init__(self, db_path: str | Path) -> None:
        memory = str(db_path) == ":memory:"
        if not memory:
            Path(db_path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        target = ":memory:" if memory else str(Path(db_path).expanduser())
        self._write_conn = self._connect(target, wal=not memory)
        self._write_lock = threading.Lock()
        if memory:  # a second :memory: connection would be a second, empty database
            self._read_conn, self._read_lock = self._write_conn, self._write_lock
        else:
            self._read_conn, self._read_lock = self._connect(target, wal=True), threading.Lock()
        with self._write_lock:
            # One transaction for the whole schema: one sync to disk, not one per statement.
            self._write_conn.executescript(
                f"BEGIN IMMEDIATE;\n{_SCHEMA}\n"
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('upload_key', randomblob(32));\n"
                "COMMIT;"
            )
            row = self._write_conn.execute("SELECT value FROM meta WHERE key = 'upload_key'").fetchone()
        #: Signs upload URLs; one per database file, so every process serving it agrees.
        self.upload_key: bytes = bytes(row[0])
        self.closed = False
        #: Parsed worlds by tenant, least recently used first; bounded, since any caller
        #: can conjure a tenant by naming it.
        self._cache: OrderedDict[str, tuple[int, World]] = OrderedDict()
        self._cache_lock = threading.Lock()

    @staticmethod
    def _connect(target: str, *, wal: bool) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; we BEGIN and COMMIT ourselves, and
        # a lone SELECT never leaves a read snapshot open behind it.
        conn = sqlite3.connect(
            target,
            isolation_level=None,
            check_same_thread=False,
            timeout=_BUSY_TIMEOUT_MS / 1000,
        )
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        if wal:
            conn.execute("PRAGMA journal_mode = WAL").fetchall()
            conn.execute("PRAGMA synchronous = FULL")
        return conn

    def close(self) -> None:
        self.closed = True
        with self._write_lock:
            self._write_conn.close()
        if self._read_conn is not self._write_conn:
            with self._read_lock:
                self._read_conn.close()

    # --- reads (safe on the event loop) -------------------------------------------------------

    def peek(self, tenant: str) -> TenantState | None:
        with self._read_lock:
            rows = self._read_conn.execute(
                "SELECT version, last_active FROM tenants WHERE name = ?", (tenant,)
            ).fetchall()
        if not rows:
            return None
        version, last_active = rows[0]
        return TenantState(int(version), float(last_active))

    def world(self, tenant: str, version: int) -> World:
        """The tenant's world at ``version`` or later; parsed only when it changed.

        The returned world is shared: callers must treat it as read-only.
        """
        with self._cache_lock:
            cached = self._cache.get(tenant)
            if cached is not None and cached[0] >= version:
                self._cache.move_to_end(tenant)
                return cached[1]
        with self._read_lock:
            rows = self._read_conn.execute(
                "SELECT world, version FROM tenants WHERE name = ?", (tenant,)
            ).fetchall()
        if not rows:
            raise LookupError(f"tenant {tenant!r} has no world yet")
        text, loaded_version = rows[0]
        world = World.model_validate_json(text)
        self._remember(tenant, int(loaded_version), world)
        return world

    def _remember(self, tenant: str, version: int, world: World) -> None:
        with self._cache_lock:
            cached = self._cache.get(tenant)
            if cached is None or cached[0] < version:
                self._cache[tenant] = (version, world)
            self._cache.move_to_end(tenant)
            while len(self._cache) > CACHED_WORLDS:
                self._cache.popitem(last=False)

    def read(self, action: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``action`` on the read connection (quick selects only)."""
        with self._read_lock:
            return action(self._read_conn)

    # --- writes (run them in a worker thread) ---------------------------------------------------

    def write(self, action: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``action`` in one ``BEGIN IMMEDIATE`` transaction: all or nothing."""
        return self._write(action)

    async def execute(self, sql: str, params: Sequence[object]) -> None:
        """One statement in its own write transaction, run off the event loop."""

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(sql, params)

        await anyio.to_thread.run_sync(self.write, run)

    def _write(self, action: Callable[[sqlite3.Connection], T]) -> T:
        with self._write_lock:
            conn = self._write_conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = action(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

    def ensure_fresh(self, tenant: str, now: float, idle_reset_seconds: float | None) -> None:
        """Seed the tenant on first use; reset it to the seed if it has been idle too long.

        The idle test is repeated inside the transaction, so concurrent first calls after a
        long pause reset the world once, not once each.
        """

        def action(conn: sqlite3.Connection) -> None:
            rows = conn.execute("SELECT last_active FROM tenants WHERE name = ?", (tenant,)).fetchall()
            if not rows:
                conn.execute(
                    "INSERT INTO tenants (name, world, version, last_active) VALUES (?, ?, 1, ?)",
                    (tenant, _seed_json(), now),
                )
            elif idle_reset_seconds is not None and now - float(rows[0][0]) >= idle_reset_seconds:
                conn.execute(
                    "UPDATE tenants SET world = ?, version = version + 1, last_active = ? WHERE name = ?",
                    (_seed_json(), now, tenant),
                )

        self._write(action)

    def touch(self, tenant: str, now: float) -> None:
        """Record activity without changing the world (no version bump)."""
        with self._write_lock:
            self._write_conn.execute(
                "UPDATE tenants SET last_active = max(last_active, ?) WHERE name = ?",
                (now, tenant),
            )

    def transact(
        self,
        tenant: str,
        now: float,
        change: Callable[[World], T],
        then: Callable[[sqlite3.Connection, World], None] | None = None,
    ) -> T:
        """Run ``change`` on the tenant's current world and save it, all or nothing.

        ``change`` mutates the world it is given; if it raises, nothing is saved. The world
        is parsed from the database inside the transaction, never taken from the cache, so
        it is always the latest one, whichever process wrote it. ``then`` runs in the same
        transaction after the save (the webhook outbox is written there).
        """
        saved: list[tuple[int, World]] = []

        def action(conn: sqlite3.Connection) -> T:
            rows = conn.execute("SELECT world, version FROM tenants WHERE name = ?", (tenant,)).fetchall()
            world = World.model_validate_json(rows[0][0] if rows else _seed_json())
            version = int(rows[0][1]) + 1 if rows else 1
            result = change(world)
            conn.execute(
                "INSERT INTO tenants (name, world, version, last_active) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET world = excluded.world, "
                "version = excluded.version, last_active = excluded.last_active",
                (tenant, world.model_dump_json(), version, now),
            )
            if then is not None:
                then(conn, world)
            saved.append((version, world))
            return result

        result = self._write(action)
        self._remember(tenant, *saved[0])
        return result

    def reset(self, tenant: str, now: float) -> None:
        """Put the tenant back to the seed now (its credentials and orders are gone)."""

        def action(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO tenants (name, world, version, last_active) VALUES (?, ?, 1, ?) "
                "ON CONFLICT (name) DO UPDATE SET world = excluded.world, "
                "version = tenants.version + 1, last_active = excluded.last_active",
                (tenant, _seed_json(), now),
            )

        self._write(action)


def reset_tenant(db_path: str | Path, tenant: str) -> None:
    """Reset one tenant of the sandbox database to the seed ("" is the shared default world).

    Safe while a sandbox is serving the same file: the version bump makes every process
    drop its cached copy on the tenant's next call.
    """
    if tenant != DEFAULT_TENANT and not is_valid_tenant(tenant):
        raise ValueError(f"tenant names are {limits.TENANT_RULE}; got {tenant!r}")
    store = Store(db_path)
    try:
        store.reset(tenant, time.time())
    finally:
        store.close()
