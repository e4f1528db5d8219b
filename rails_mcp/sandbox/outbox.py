"""The webhook outbox and its deliverer: events saved with the write, POSTed after it.

1. A write rule appends :class:`~rails_mcp.sandbox.world.Emit` records to its call.
2. :func:`enqueue` runs inside the same SQLite transaction as the write and turns each into
   one ``webhook_events`` row per subscribed integration of the organization concerned
   (the outbox pattern: the event exists exactly when the change does, and survives a
   restart). Events for an integration with no subscription at that moment are not kept.
3. :class:`Deliverer`, a daemon thread woken after each such write (and on app start, and
   on subscribe), POSTs due events with httpx2, signing a freshly stamped body each attempt
   (the ``timestamp`` says when it was *sent*, so a retried event is not stale on arrival).
   Failures are retried on a bounded, injectable backoff schedule; every attempt is
   recorded. The API call that produced the event never waits for any of this.
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx2

from rails_mcp.sandbox.store import Store
from rails_mcp.sandbox.world import Emit, World, credential_of
from rails_mcp.wire.webhooks import SIGNATURE_HEADER, rfc3339, sign

__all__ = ["DEFAULT_BACKOFF", "Deliverer", "enqueue", "has_pending"]

log = logging.getLogger(__name__)

#: Seconds to wait after attempt n fails before attempt n+1: 8 attempts over ~2 minutes.
DEFAULT_BACKOFF: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
#: A claimed event is retried by anyone after this long if its deliverer vanished mid-POST.
_LEASE_SECONDS = 60.0
_BATCH = 20


# --- the outbox (runs inside the write transaction) --------------------------------------------


def enqueue(conn: sqlite3.Connection, tenant: str, world: World, emits: Sequence[Emit], now: float) -> int:
    """Write the events of one change, for each subscribed integration; returns how many."""
    if not emits:
        return 0
    subscribed = {
        str(row[0])
        for row in conn.execute(
            "SELECT integration_id FROM webhook_subscriptions WHERE tenant = ?", (tenant,)
        ).fetchall()
    }
    if not subscribed:
        return 0
    seq = int(conn.execute("SELECT coalesce(max(seq), 0) FROM webhook_events").fetchone()[0])
    written = 0
    for emit in emits:
        for credential in world.credentials.values():
            integration = str(credential.integration_id)
            if credential.organization_id != emit.organization_id or integration not in subscribed:
                continue
            seq += 1
            conn.execute(
                "INSERT INTO webhook_events (id, tenant, integration_id, type, data, created, state, "
                "attempts, next_attempt, seq) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
                (str(uuid4()), tenant, integration, emit.type.value, json.dumps(emit.data), now, now, seq),
            )
            written += 1
    return written


# --- delivery ---------------------------------------------------------------------------------


class Deliverer:
    """One daemon thread that POSTs due events; woken by :meth:`kick`, never awaited.

    Started lazily by the first kick, so an app driven in-process through
    ``httpx2.ASGITransport`` (which runs no lifespan) delivers too. ``backoff`` is the wait
    after each failed attempt; its length + 1 is the number of attempts.
    """

    def __init__(
        self,
        store: Store,
        *,
        backoff: Sequence[float] = DEFAULT_BACKOFF,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.backoff = tuple(backoff)
        self.max_attempts = len(self.backoff) + 1
        self.timeout = timeout
        self.clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def kick(self) -> None:
        """Deliver whatever is due now; returns at once."""
        if self._stop.is_set():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="rails-webhooks", daemon=True)
                self._thread.start()
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        with self._lock:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        with httpx2.Client(timeout=self.timeout, follow_redirects=False, trust_env=False) as client:
            while not self._stop.is_set() and not self.store.closed:
                self._wake.clear()
                try:
                    next_due = self.deliver_due(client)
                except Exception:
                    if self.store.closed or self._stop.is_set():
                        return
                    log.exception("webhook delivery loop failed; retrying shortly")
                    next_due = self.clock() + 1.0
                wait = 30.0 if next_due is None else min(30.0, max(0.01, next_due - self.clock()))
                self._wake.wait(wait)

    def deliver_due(self, client: httpx2.Client) -> float | None:
        """Attempt every due event once; the time the next one falls due, if any."""
        while True:
            batch = self.store.write(functools.partial(self._claim, now=self.clock()))
            if not batch:
                break
            for row in batch:
                if self._stop.is_set():
                    return None
                self._attempt(client, row)
        return self.store.read(
            lambda conn: conn.execute(
                "SELECT min(next_attempt) FROM webhook_events WHERE state = 'pending'"
            ).fetchone()[0]
        )

    @staticmethod
    def _claim(conn: sqlite3.Connection, *, now: float) -> list[tuple[Any, ...]]:
        rows = conn.execute(
            "SELECT id, tenant, integration_id, type, data, attempts FROM webhook_events "
            "WHERE state = 'pending' AND next_attempt <= ? ORDER BY seq LIMIT ?",
            (now, _BATCH),
        ).fetchall()
        for row in rows:
            conn.execute(
                "UPDATE webhook_events SET next_attempt = ? WHERE id = ?", (now + _LEASE_SECONDS, row[0])
            )
        return [tuple(r) for r in rows]

    def _secret_and_url(self, tenant: str, integration_id: str) -> tuple[str | None, str | None]:
        url_row = self.store.read(
            lambda conn: conn.execute(
                "SELECT url FROM webhook_subscriptions WHERE tenant = ? AND integration_id = ?",
                (tenant, integration_id),
            ).fetchone()
        )
        state = self.store.peek(tenant)
        if state is None:
            return None, None
        credential = credential_of(self.store.world(tenant, state.version), integration_id)
        secret = None if credential is None else credential.webhook_secret
        return secret, None if url_row is None else str(url_row[0])

    def _attempt(self, client: httpx2.Client, row: tuple[Any, ...]) -> None:
        event_id, tenant, integration_id, event_type, data, attempts = row
        secret, url = self._secret_and_url(tenant, integration_id)
        if secret is None or url is None:  # unsubscribed, or the integration is gone (reset)
            self.store.write(
                lambda conn: conn.execute(
                    "UPDATE webhook_events SET state = 'dropped' WHERE id = ?", (event_id,)
                )
            )
            return
        sent_at = self.clock()
        body = json.dumps(
            {
                "id": event_id,
                "type": event_type,
                "timestamp": rfc3339(datetime.fromtimestamp(sent_at, UTC)),
                "integration_id": integration_id,
                "data": json.loads(data),
            },
            separators=(",", ":"),
        ).encode()
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: sign(body, secret),
            "user-agent": "rails-sandbox-webhooks/2026-01",
        }
        if tenant:
            headers["x-partifact-tenant"] = tenant
        status: int | None = None
        error: str | None = None
        try:
            response = client.post(url, content=body, headers=headers)
            status = response.status_code
            ok = 200 <= status < 300
            if not ok:
                error = f"receiver answered HTTP {status}"
        except httpx2.HTTPError as exc:
            ok = False
            error = f"{type(exc).__name__}: could not deliver to the receiver"
        attempt = int(attempts) + 1
        done_at = self.clock()
        if ok:
            state, next_attempt = "delivered", done_at
        elif attempt >= self.max_attempts:
            state, next_attempt = "failed", done_at
        else:
            state, next_attempt = "pending", done_at + self.backoff[attempt - 1]

        def record(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE webhook_events SET state = ?, attempts = ?, next_attempt = ? WHERE id = ?",
                (state, attempt, next_attempt, event_id),
            )
            conn.execute(
                "INSERT OR REPLACE INTO webhook_attempts (event_id, tenant, attempt, at, url, "
                "status_code, error, ok) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (event_id, tenant, attempt, sent_at, url, status, error, int(ok)),
            )

        self.store.write(record)


def has_pending(store: Store) -> bool:
    return bool(
        store.read(
            lambda conn: conn.execute(
                "SELECT 1 FROM webhook_events WHERE state = 'pending' LIMIT 1"
            ).fetchone()
        )
    )
