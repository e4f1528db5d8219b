"""Signed webhooks' dev routes: subscribe, fetch a secret, the reference sink, the attempt log.

Events are saved and delivered by :mod:`rails_mcp.sandbox.outbox`; these routes are the
loopback plumbing around it (out of contract, tenant-scoped by ``x-partifact-tenant``):
``POST /__webhooks/subscribe``, ``POST /__webhooks/secret``, ``POST|GET /__webhooks/sink``
and ``GET /__webhooks/attempts`` (the attempt log). An integration manages only its own
webhook: subscribe, secret and attempts want its credentials, and every dev route refuses a
request a reverse proxy forwarded (behind one, every caller looks like loopback).
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rails_mcp.sandbox.dev_access import LOOPBACK_HOSTS, dev_caller, is_loopback_client, is_loopback_url
from rails_mcp.sandbox.dev_access import Refused as _Refused
from rails_mcp.sandbox.dev_access import json_object as _json_object
from rails_mcp.sandbox.dev_access import read_body as _read_body
from rails_mcp.sandbox.dev_access import refuse as _refuse
from rails_mcp.sandbox.dev_access import reply as _reply
from rails_mcp.sandbox.dev_access import unproxied as _unproxied
from rails_mcp.sandbox.outbox import Deliverer
from rails_mcp.sandbox.store import Store
from rails_mcp.sandbox.world import Credential, World, credential_of
from rails_mcp.wire.webhooks import SIGNATURE_HEADER, rfc3339, verify

__all__ = ["LOOPBACK_HOSTS", "WebhookRoutes", "is_loopback_url"]

_SINK_KEEP = 200
_LIST_LIMIT = 100
_MAX_DEV_BODY = 65_536
_MAX_SINK_BODY = 1_048_576


# --- the dev routes ---------------------------------------------------------------------------


def _stamp(seconds: float) -> str:
    return rfc3339(datetime.fromtimestamp(seconds, UTC))


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
        return await dev_caller(request, self.tenant_of, self.world_of)

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
        credential = None if integration_id is None else credential_of(world, integration_id)
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
