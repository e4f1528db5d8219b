"""Wire the configured pieces together: settings → wire client (remote or embedded) → tools.

With no ``RAILS_BASE_URL`` the embedded sandbox answers in-process through
``httpx2.ASGITransport``: no socket, no network, state kept in ``$RAILS_STATE_DIR``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import httpx2

from rails_mcp.client import Credentials, RailsClient
from rails_mcp.config import ConfigError, Settings
from rails_mcp.state import state_store_of
from rails_mcp.tools import Rails

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["EMBEDDED_BASE_URL", "EmbeddedSandbox", "check_sandbox_database", "open_client", "open_rails"]

log = logging.getLogger("rails_mcp")

#: The base URL the in-process sandbox answers on (never resolved: no socket is opened).
EMBEDDED_BASE_URL = "http://embedded-sandbox.invalid"


class EmbeddedSandbox:
    """The in-process sandbox, imported and opened by the first request that reaches it.

    A host starting the server, initializing and listing tools never pays for the sandbox
    (about a tenth of a cold start); the first tool call does, once, on a worker thread (the
    database may wait on another process's write lock, and the event loop must not). What
    would stop it opening (a directory that cannot be made or written, a file that is not a
    database) is checked here, up front, so start-up still fails with one clear line.
    Webhook deliveries left pending in the file resume when it opens (at once when the server
    receives webhooks itself: subscribing is its first request).
    """

    def __init__(self, db: Path, *, idle_reset_seconds: float | None) -> None:
        self.db = db
        self.idle_reset_seconds = idle_reset_seconds
        self._app: ASGIApp | None = None
        self._opening = threading.Lock()
        if str(db) != ":memory:":
            check_sandbox_database(db)

    def _open(self) -> ASGIApp:
        with self._opening:  # concurrent first calls: one opens, the others wait (off the loop)
            if self._app is None:
                from rails_mcp.sandbox import create_app

                self._app = create_app(self.db, idle_reset_seconds=self.idle_reset_seconds)
            return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._app or await anyio.to_thread.run_sync(self._open)
        await app(scope, receive, send)


def check_sandbox_database(db: Path) -> None:
    """Fail start-up, naming the setting, if the sandbox could not open its database."""
    fix = "set RAILS_STATE_DIR or RAILS_SANDBOX_DB to a writable place"
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create {db.parent} for the sandbox database ({exc.strerror}); {fix}"
        ) from None
    # WAL keeps two files beside the database: the directory must take new files too.
    if not os.access(db.parent, os.W_OK) or (db.exists() and not os.access(db, os.R_OK | os.W_OK)):
        raise ConfigError(f"the sandbox database {db} is not writable; {fix}")
    if not db.exists():
        return
    try:  # a read never waits on a writer in WAL mode, so this is quick even while one writes
        with contextlib.closing(sqlite3.connect(db, timeout=1.0)) as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise ConfigError(
            f"the sandbox database {db} cannot be opened ({exc}); move it aside (a new one is made), or {fix}"
        ) from None


def open_client(settings: Settings, *, with_supplier: bool = True) -> RailsClient:
    repairer = settings.repairer()
    supplier = settings.supplier() if with_supplier else None
    transport: httpx2.AsyncBaseTransport | None = None
    if settings.base_url is None:
        db = settings.sandbox_db()
        # The in-process caller is this machine: the sandbox's loopback-only dev routes
        # (webhook subscribe/secret) treat it as such.
        transport = httpx2.ASGITransport(
            app=EmbeddedSandbox(db, idle_reset_seconds=settings.sandbox_idle_reset_seconds),
            client=("127.0.0.1", 0),
        )
        base_url = EMBEDDED_BASE_URL
    else:
        base_url = str(settings.base_url)
    log.info(
        "rails wire: %s, tenant %s, repairer credential from %s",
        settings.target,
        settings.tenant or "(default)",
        repairer.source,
    )
    return RailsClient(
        base_url=base_url,
        repairer=Credentials(repairer.api_key, repairer.integration_id),
        supplier=Credentials(supplier.api_key, supplier.integration_id) if supplier else None,
        tenant=settings.tenant,
        transport=transport,
        timeout=settings.timeout_seconds,
    )


def open_rails(settings: Settings) -> Rails:
    return Rails(open_client(settings), state_store_of(settings))
