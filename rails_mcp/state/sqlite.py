"""The default backend: one SQLite file (WAL) in ``$RAILS_STATE_DIR``.

WAL mode with ``synchronous=FULL``: a commit is on disk when the call returns, readers never
wait on the writer, and processes on one host may share the file. A write transaction starts
with ``BEGIN IMMEDIATE``, taking the file's one write lock before it reads, which is what makes
a budget reservation atomic between processes.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path

from .store import Execute, SqlStateStore

__all__ = ["SQLiteStateStore"]


class SQLiteStateStore(SqlStateStore):
    """One connection to the state file; ``":memory:"`` keeps it in this process only."""

    identity_key = "INTEGER PRIMARY KEY"

    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.path = path
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        if isinstance(path, Path):
            with contextlib.suppress(OSError):
                path.chmod(0o600)
        self.migrate()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def transaction(self, *, write: bool = True) -> Generator[Execute]:
        with self._lock:
            yield from self._begun(write)

    @contextlib.contextmanager
    def unflushed_transaction(self) -> Generator[Execute]:
        """A write whose commit skips the fsync (``synchronous=NORMAL``, for this one commit):
        it survives a crash of the process and reaches the disk at the next checkpoint. An fsync
        ten times a second would slow every other write to the disk (the audit file's too)."""
        with self._lock:
            self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                yield from self._begun(True)
            finally:
                self._db.execute("PRAGMA synchronous=FULL")

    def _begun(self, write: bool) -> Generator[Execute]:
        self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield self._db.execute
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
