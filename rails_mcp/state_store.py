"""The server's own durable state: one SQLite file (WAL) in ``$RAILS_STATE_DIR``.

Three tables so far, each holding only what must outlive a process:

- ``used_approvals``: the approval states already answered (approved or declined), kept until
  they expire, so a state is single-use across restarts and across processes sharing the dir.
- ``open_intents``: writes the server announced in the audit log and has not yet closed with
  an outcome. A process killed between the wire write and its outcome line leaves its intents
  here; the next start-up asks the wire what happened and closes them.
- ``approved_orders``: what a person approved for each order placed after their approval (its
  lines, quantities, unit prices and total), so an invoice is compared with it after a restart.

WAL mode with ``synchronous=FULL``: a commit is on disk when the call returns, readers never
wait on the writer, and replicas on one host may share the file. Every call is one short
transaction behind a lock, so it is safe from the event loop and from worker threads.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from rails_mcp.config import ConfigError, Settings

__all__ = ["RUN_ID", "STATE_FILE_NAME", "OpenIntent", "StateStore", "state_store_of"]

#: The file inside ``RAILS_STATE_DIR``.
STATE_FILE_NAME = "state.sqlite3"
#: This process's identity as an owner of open intents (a pid alone may be reused).
RUN_ID = uuid.uuid4().hex

_SCHEMA = """
CREATE TABLE IF NOT EXISTS used_approvals (
    nonce TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS open_intents (
    id TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    opened_at REAL NOT NULL,
    owner_run TEXT NOT NULL,
    owner_pid INTEGER NOT NULL,
    line TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS approved_orders (
    procurement_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    recorded_at REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class OpenIntent:
    """An announced write with no outcome yet; ``line`` is its (redacted) audit line."""

    id: str
    tool: str
    opened_at: float
    line: Mapping[str, Any]


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


class StateStore:
    """One connection to the state file; ``":memory:"`` keeps it in this process only."""

    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        if isinstance(path, Path):
            with contextlib.suppress(OSError):
                path.chmod(0o600)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        with self._lock:
            return self._db.execute(sql, params).rowcount

    # --- used approvals -------------------------------------------------------------------

    def approval_used(self, nonce: str, now: float | None = None) -> bool:
        """Whether this approval state was already answered (and has not expired since)."""
        now = self.clock() if now is None else now
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM used_approvals WHERE nonce = ? AND expires_at > ?", (nonce, now)
            ).fetchone()
        return row is not None

    def spend_approval(self, nonce: str, expires_at: float, now: float | None = None) -> bool:
        """Mark a state used; False when some process used it first. Expired entries are pruned."""
        now = self.clock() if now is None else now
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM used_approvals WHERE expires_at <= ?", (now,))
                added = self._db.execute(
                    "INSERT OR IGNORE INTO used_approvals (nonce, expires_at) VALUES (?, ?)",
                    (nonce, expires_at),
                ).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return added == 1

    # --- open write intents ---------------------------------------------------------------

    def open_intent(self, intent_id: str, tool: str, line: Mapping[str, Any]) -> None:
        """Record a write this process is about to make (before its audit line and the wire)."""
        self._write(
            "INSERT INTO open_intents (id, tool, opened_at, owner_run, owner_pid, line) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (intent_id, tool, self.clock(), RUN_ID, os.getpid(), json.dumps(line)),
        )

    def close_intent(self, intent_id: str) -> None:
        """The intent's outcome is in the audit log: forget it here."""
        self._write("DELETE FROM open_intents WHERE id = ?", (intent_id,))

    def has_orphans(self) -> bool:
        """Whether any open intent belongs to a process that is gone (cheap: no claim)."""
        with self._lock:
            rows = self._db.execute("SELECT owner_run, owner_pid FROM open_intents").fetchall()
        return any(run != RUN_ID and not _process_alive(pid) for run, pid in rows)

    def claim_orphans(self) -> list[OpenIntent]:
        """Take over the open intents of processes that are gone; each is claimed by one process."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, tool, opened_at, owner_run, owner_pid, line FROM open_intents"
            ).fetchall()
        claimed: list[OpenIntent] = []
        for ident, tool, opened_at, run, pid, line in rows:
            if run == RUN_ID or _process_alive(pid):
                continue
            taken = self._write(
                "UPDATE open_intents SET owner_run = ?, owner_pid = ? WHERE id = ? AND owner_run = ?",
                (RUN_ID, os.getpid(), ident, run),
            )
            if taken == 1:
                claimed.append(OpenIntent(ident, tool, float(opened_at), json.loads(line)))
        return claimed

    # --- approved orders ------------------------------------------------------------------

    def record_approved_order(self, procurement_id: str, order: Mapping[str, Any]) -> None:
        """Keep what a person approved for this order (a second record replaces the first)."""
        self._write(
            "INSERT OR REPLACE INTO approved_orders (procurement_id, body, recorded_at) VALUES (?, ?, ?)",
            (procurement_id, json.dumps(order), self.clock()),
        )

    def approved_order(self, procurement_id: str) -> dict[str, Any] | None:
        """What a person approved for this order, or None when it was placed without an approval."""
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM approved_orders WHERE procurement_id = ?", (procurement_id,)
            ).fetchone()
        if row is None:
            return None
        body: object = json.loads(row[0])
        return cast("dict[str, Any]", body) if isinstance(body, dict) else None


def state_store_of(settings: Settings) -> StateStore:
    """The deployment's state store, ``$RAILS_STATE_DIR/state.sqlite3`` (one per process)."""
    path = settings.resolved_state_dir().expanduser() / STATE_FILE_NAME
    store = _STORES.get(path)
    if store is None:
        try:
            store = _STORES[path] = StateStore(path)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the state store {path} ({exc}); set RAILS_STATE_DIR to a writable place"
            ) from None
    return store


_STORES: dict[Path, StateStore] = {}
