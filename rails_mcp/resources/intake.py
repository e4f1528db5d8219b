"""Webhook intake: a delivery is a hint to re-read the wire, never a record to believe.

A delivery whose signature or timestamp fails :func:`rails_mcp.wire.webhooks.verify` is
counted by reason and logged, and nothing else: it is not stored, shown or acted on. A
verified one is identifier-only (the vendor's envelope carries ids, not records): the
procurement or job it names is re-read by id through the wire client, and what the history
and subscribers see is the wire's answer. So a delivery signed with a leaked or public
secret can at most make the server look again; it cannot put words in the wire's mouth.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from rails_mcp.client import RailsClient
from rails_mcp.resources.events import EventLog, ProcurementEvent, now_rfc3339
from rails_mcp.wire import models as m
from rails_mcp.wire.errors import NotFound, RailsAPIError, RailsError
from rails_mcp.wire.webhooks import Verification, verify

__all__ = ["MAX_REMEMBERED_EVENTS", "Changed", "WebhookIntake", "WebhookReceipt"]

log = logging.getLogger("rails_mcp.resources")

#: Event ids remembered for de-duplication (webhooks are at-least-once).
MAX_REMEMBERED_EVENTS = 10_000

#: Told after a verified delivery was re-read: (procurement id, job id, job's external reference).
Changed = Callable[[UUID | None, UUID | None, str | None], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class WebhookReceipt:
    """What :meth:`WebhookIntake.receive` made of one delivery (the receiver's answer).

    ``reason`` says why a delivery was refused (``verified`` false) or, for a verified one,
    why it changed nothing (``not_visible``: the wire does not show what it names to this
    server; ``wire_unavailable``: the re-read failed, ``retry`` asks the sender to redeliver).
    """

    verified: bool
    reason: str | None = None
    duplicate: bool = False
    event_type: str | None = None
    retry: bool = False


def _maybe_uuid(value: object) -> UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


def _short(value: object) -> str | None:
    return value[:64] if isinstance(value, str) else None


class WebhookIntake:
    """Verifies deliveries, re-reads what they name, records the wire's answer, reports the change."""

    def __init__(self, client: RailsClient, log: EventLog, changed: Changed) -> None:
        self.client = client
        self._log = log
        self._changed = changed
        self._secrets: list[str] = []
        self._seen: OrderedDict[str, None] = OrderedDict()
        #: Refused deliveries by reason (bad_signature, timestamp_too_old, ...), since start.
        self.refused: Counter[str] = Counter()

    def set_secrets(self, secrets: Sequence[str]) -> None:
        """The signing secrets of the integrations whose webhooks this server receives (kept private)."""
        self._secrets = [s for s in secrets if s]

    def _verify(self, raw_body: bytes, signature: str | None, now: datetime | None) -> Verification:
        outcome = Verification(False, "missing_signature")
        for secret in self._secrets or [""]:
            outcome = verify(raw_body, signature, secret, now)
            if outcome.ok or outcome.reason != "bad_signature":
                break
        return outcome

    async def receive(
        self, raw_body: bytes, signature: str | None, now: datetime | None = None
    ) -> WebhookReceipt:
        """One delivery: verify it, then re-read what it names and record the wire's answer."""
        outcome = self._verify(raw_body, signature, now)
        if not outcome.ok or outcome.event is None:
            reason = outcome.reason or "bad_body"
            self.refused[reason] += 1
            log.info("webhook refused (%s); %d refused so far", reason, self.refused.total())
            return WebhookReceipt(False, reason)
        event = outcome.event
        kind = _short(event.get("type"))
        event_id = _short(event.get("id"))
        data = cast("dict[str, Any]", event["data"]) if isinstance(event.get("data"), dict) else {}
        procurement_id = _maybe_uuid(data.get("procurement_id"))
        if event_id is not None and event_id in self._seen:
            if procurement_id is not None:
                await self._log.off_loop(self._log.redelivered, procurement_id, event_id)
            return WebhookReceipt(True, duplicate=True, event_type=kind)
        try:
            if procurement_id is not None:
                await self._procurement_changed(
                    procurement_id, kind, event_id, _short(event.get("timestamp"))
                )
            elif (job_id := _maybe_uuid(data.get("job_id"))) is not None:
                job = await self.client.repairer.jobs.get(identity=m.IdIdentity(id=job_id))
                await self._changed(None, job.id, job.external_id)
            else:
                await self._changed(None, None, None)
        except NotFound:
            log.info("webhook %s names nothing this server's credential can read; ignored", kind)
            return WebhookReceipt(True, "not_visible", event_type=kind)
        except RailsError as exc:
            code = exc.wire_code if isinstance(exc, RailsAPIError) else type(exc).__name__
            log.info("webhook %s: the wire could not be re-read (%s); asking for redelivery", kind, code)
            return WebhookReceipt(True, "wire_unavailable", event_type=kind, retry=True)
        if event_id is not None:
            self._seen[event_id] = None
            while len(self._seen) > MAX_REMEMBERED_EVENTS:
                self._seen.popitem(last=False)
        return WebhookReceipt(True, event_type=kind)

    async def _procurement_changed(
        self, procurement_id: UUID, kind: str | None, event_id: str | None, sent_at: str | None
    ) -> None:
        """Re-read the order by id; its history gets the wire's status, not the delivery's."""
        p = await self.client.repairer.procurements.get(identity=m.IdIdentity(id=procurement_id))
        await self._log.off_loop(
            self._log.record,
            p.id,
            ProcurementEvent(
                at=now_rfc3339(),
                source="webhook",
                action=kind or "unknown",
                status=p.status.value,
                verification="verified",
                event_id=event_id,
                sent_at=sent_at,
            ),
        )
        await self._changed(p.id, p.job_id, None)
