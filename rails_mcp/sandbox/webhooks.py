"""Signed webhooks: outbox, background delivery with retries, and the dev routes.

How an event travels:

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

Dev routes (loopback plumbing, out of contract, tenant-scoped by ``x-partifact-tenant``):
``POST /__webhooks/subscribe``, ``POST /__webhooks/secret``, ``POST|GET /__webhooks/sink``
and ``GET /__webhooks/attempts`` (the attempt log). An integration manages only its own
webhook: subscribe, secret and attempts want its credentials, and every dev route refuses a
request a reverse proxy forwarded (behind one, every caller looks like loopback).
"""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID, uuid4

import anyio.to_thread
import httpx2
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rails_mcp.sandbox.dev_access import LOOPBACK_HOSTS, is_loopback_client, is_loopback_url, is_proxied
from rails_mcp.sandbox.store import Store
from rails_mcp.sandbox.world import Credential, Emit, World, authenticate
from rails_mcp.wire.errors import RailsAPIError
from rails_mcp.wire.webhooks import SIGNATURE_HEADER, rfc3339, sign, verify

__all__ = [
    "DEFAULT_BACKOFF",
    "LOOPBACK_HOSTS",
    "Deliverer",
    "WebhookRoutes",
    "enqueue",
    "has_pending",
    "is_loopback_url",
]

log = logging.getLogger(__name__)

#: Seconds to wait after attempt n fails before attempt n+1: 8 attempts over ~2 minutes.
DEFAULT_BACKOFF: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
#: A claimed event is retried by anyone after this long if its deliverer vanished mid-POST.
_LEASE_SECONDS = 60.0
_BATCH = 20
_SINK_KEEP = 200
_LIST_LIMIT = 100
_MAX_DEV_BODY = 65_536
_MAX_SINK_BODY = 1_048_576


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


def _credential(world: World, integration_id: str) -> Credential | None:
    try:
        wanted = UUID(integration_id)
    except ValueError:
        return None
    return next((c for c in world.credentials.values() if c.integration_id == wanted), None)


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
        credential = _credential(self.store.world(tenant, state.version), integration_id)
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


# --- the dev routes ---------------------------------------------------------------------------


def _reply(body: dict[str, Any], status: int = 200) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json"
    )


def _refuse(reason: str, status: int = 400) -> Response:
    return _reply({"ok": False, "reason": reason}, status)


def _stamp(seconds: float) -> str:
    return rfc3339(datetime.fromtimestamp(seconds, UTC))


class _Refused(Exception):
    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def _unproxied(
    endpoint: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Refuse (403) a request a reverse proxy forwarded: behind one, every caller looks local."""

    async def guarded(request: Request) -> Response:
        if is_proxied(request):
            return _refuse("proxied_request", 403)
        return await endpoint(request)

    return guarded


async def _read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused (413) as soon as it grows past ``limit``."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise _Refused("bad_body", 413)
    return raw


def _json_object(raw: bytes) -> dict[str, Any] | None:
    """``raw`` as a JSON object with string keys, or None when it is anything else."""
    try:
        body: object = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    return {str(k): v for k, v in cast("dict[Any, Any]", body).items()}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class _SinkEntry:
    """One delivery the reference sink received, as it is recorded."""

    tenant: str
    received_at: float
    event_id: str | None
    type: str | None
    integration_id: str | None
    verified: bool
    #: Why verification failed; None for a verified delivery.
    reason: str | None


def _record_sink(conn: sqlite3.Connection, *, entry: _SinkEntry) -> bool:
    """Record a delivery, keeping the latest few; a verified repeat of an event is a duplicate."""
    duplicate = bool(
        entry.verified
        and entry.event_id is not None
        and conn.execute(
            "SELECT 1 FROM webhook_sink WHERE tenant = ? AND event_id = ? AND verified = 1",
            (entry.tenant, entry.event_id),
        ).fetchone()
    )
    conn.execute(
        "INSERT INTO webhook_sink (tenant, received_at, event_id, type, integration_id, verified, "
        "reason, duplicate) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            entry.tenant,
            entry.received_at,
            entry.event_id,
            entry.type,
            entry.integration_id,
            int(entry.verified),
            entry.reason,
            int(duplicate),
        ),
    )
    conn.execute(
        "DELETE FROM webhook_sink WHERE tenant = ? AND seq <= "
        "(SELECT seq FROM webhook_sink WHERE tenant = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
        (entry.tenant, entry.tenant, _SINK_KEEP),
    )
    return duplicate


@dataclass(eq=False)
class WebhookRoutes:
    """The ``/__webhooks/*`` endpoints, bound to one sandbox's store and deliverer."""

    store: Store
    deliverer: Deliverer
    _: KW_ONLY
    tenant_of: Callable[[Request], str]
    world_of: Callable[[str], Awaitable[World]]
    clock: Callable[[], float]

    async def _read_json(self, request: Request, limit: int = _MAX_DEV_BODY) -> dict[str, Any]:
        body = _json_object(await _read_body(request, limit))
        if body is None:
            raise _Refused("bad_body")
        return body

    def routes(self) -> list[Route]:
        """The dev routes, each refusing a proxied request before anything else."""
        table: list[tuple[str, Callable[[Request], Awaitable[Response]], str]] = [
            ("/__webhooks/subscribe", self.subscribe, "POST"),
            ("/__webhooks/secret", self.secret, "POST"),
            ("/__webhooks/sink", self.sink_receive, "POST"),
            ("/__webhooks/sink", self.sink_list, "GET"),
            ("/__webhooks/attempts", self.attempts, "GET"),
        ]
        return [Route(path, _unproxied(endpoint), methods=[method]) for path, endpoint, method in table]

    async def _caller(self, request: Request) -> tuple[str, Credential]:
        """The tenant and the integration whose credentials the request carries."""
        try:
            tenant = self.tenant_of(request)
        except Exception:
            raise _Refused("bad_tenant") from None
        world = await self.world_of(tenant)
        try:
            credential = authenticate(
                world,
                request.headers.get("authorization"),
                request.headers.get("partly-integration-id"),
                "any",
            )
        except RailsAPIError:
            raise _Refused("unauthorized", 401) from None
        if credential is None:  # pragma: no cover - scope "any" always names a credential
            raise _Refused("unauthorized", 401)
        return tenant, credential

    async def _own_integration(self, request: Request) -> tuple[str, dict[str, Any], Credential]:
        """Credentials first, then the body, whose ``integration_id`` must be the caller's own."""
        tenant, credential = await self._caller(request)
        body = await self._read_json(request)
        integration_id = body.get("integration_id")
        if integration_id is None:
            raise _Refused("missing_field")
        if not isinstance(integration_id, str):
            raise _Refused("bad_body")
        try:
            own = UUID(integration_id) == credential.integration_id
        except ValueError:
            own = False
        if not own:
            raise _Refused("forbidden", 403)
        return tenant, body, credential

    async def subscribe(self, request: Request) -> Response:
        """``{"integration_id", "url"}`` → that integration's events go to ``url`` (replacing).

        Only the integration itself (its api_key and id in the headers) may re-point its webhook.
        """
        try:
            tenant, body, credential = await self._own_integration(request)
        except _Refused as refused:
            return _refuse(refused.reason, refused.status)
        url = body.get("url")
        if url is None:
            return _refuse("missing_field")
        if not isinstance(url, str):
            return _refuse("bad_body")
        if not is_loopback_url(url):
            return _refuse("url_not_loopback")
        integration = str(credential.integration_id)
        now = self.clock()

        await self.store.execute(
            "INSERT INTO webhook_subscriptions (tenant, integration_id, url, created) "
            "VALUES (?, ?, ?, ?) "
            "ON CONFLICT (tenant, integration_id) DO UPDATE SET url = excluded.url",
            (tenant, integration, url, now),
        )
        self.deliverer.kick()  # pending events of this integration may be waiting for it
        return _reply({"ok": True})

    async def secret(self, request: Request) -> Response:
        """The integration's signing secret: to a loopback caller holding that integration's credentials."""
        if not is_loopback_client(request.client.host if request.client else None):
            return _refuse("not_loopback", 403)
        try:
            _, _, credential = await self._own_integration(request)
        except _Refused as refused:
            return _refuse(refused.reason, refused.status)
        return _reply(
            {
                "ok": True,
                "integration_id": str(credential.integration_id),
                "secret": credential.webhook_secret,
            }
        )

    async def sink_receive(self, request: Request) -> Response:
        """The reference consumer: verify with :func:`rails_mcp.wire.webhooks.verify`, record."""
        try:
            tenant = self.tenant_of(request)
        except Exception:
            return _refuse("bad_tenant")
        try:
            raw = await _read_body(request, _MAX_SINK_BODY)
        except _Refused as refused:
            return _refuse(refused.reason, refused.status)
        claimed = _json_object(raw) or {}
        integration_id = _text(claimed.get("integration_id"))
        world = await self.world_of(tenant)
        credential = None if integration_id is None else _credential(world, integration_id)
        if credential is None or credential.webhook_secret is None:
            verified, reason = False, "unknown_integration"
        else:
            result = verify(raw, request.headers.get(SIGNATURE_HEADER), credential.webhook_secret)
            verified, reason = result.ok, result.reason
        entry = _SinkEntry(
            tenant=tenant,
            received_at=self.clock(),
            event_id=_text(claimed.get("id")),
            type=_text(claimed.get("type")),
            integration_id=integration_id,
            verified=verified,
            reason=reason,
        )
        duplicate = await anyio.to_thread.run_sync(
            self.store.write, functools.partial(_record_sink, entry=entry)
        )
        body = {"ok": verified, "verified": verified, "reason": reason, "duplicate": duplicate}
        return _reply(body, 200 if verified else 401)

    async def sink_list(self, request: Request) -> Response:
        try:
            tenant = self.tenant_of(request)
        except Exception:
            return _refuse("bad_tenant")
        rows = self.store.read(
            lambda conn: conn.execute(
                "SELECT received_at, event_id, type, integration_id, verified, reason, duplicate "
                "FROM webhook_sink WHERE tenant = ? ORDER BY seq DESC LIMIT ?",
                (tenant, _LIST_LIMIT),
            ).fetchall()
        )
        items = [
            {
                "received_at": _stamp(r[0]),
                "id": r[1],
                "type": r[2],
                "integration_id": r[3],
                "verified": bool(r[4]),
                "reason": r[5],
                "duplicate": bool(r[6]),
            }
            for r in reversed(rows)
        ]
        return _reply({"items": items})

    async def attempts(self, request: Request) -> Response:
        """The attempt log of the calling integration: its recent events, their state, every attempt."""
        try:
            tenant, credential = await self._caller(request)
        except _Refused as refused:
            return _refuse(refused.reason, refused.status)
        integration = str(credential.integration_id)

        def load(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            events = conn.execute(
                "SELECT id, type, integration_id, data, created, state, attempts, next_attempt "
                "FROM webhook_events WHERE tenant = ? AND integration_id = ? ORDER BY seq DESC LIMIT ?",
                (tenant, integration, _LIST_LIMIT),
            ).fetchall()
            out: list[dict[str, Any]] = []
            for ev in reversed(events):
                tries = conn.execute(
                    "SELECT attempt, at, url, status_code, error, ok FROM webhook_attempts "
                    "WHERE event_id = ? ORDER BY attempt",
                    (ev[0],),
                ).fetchall()
                out.append(
                    {
                        "id": ev[0],
                        "type": ev[1],
                        "integration_id": ev[2],
                        "data": json.loads(ev[3]),
                        "created_at": _stamp(ev[4]),
                        "state": ev[5],
                        "attempt_count": ev[6],
                        "next_attempt_at": _stamp(ev[7]) if ev[5] == "pending" else None,
                        "attempts": [
                            {
                                "attempt": t[0],
                                "at": _stamp(t[1]),
                                "url": t[2],
                                "status_code": t[3],
                                "error": t[4],
                                "ok": bool(t[5]),
                            }
                            for t in tries
                        ],
                    }
                )
            return out

        return _reply({"items": self.store.read(load)})


def has_pending(store: Store) -> bool:
    return bool(
        store.read(
            lambda conn: conn.execute(
                "SELECT 1 FROM webhook_events WHERE state = 'pending' LIMIT 1"
            ).fetchone()
        )
    )
