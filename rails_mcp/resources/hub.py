"""The resource hub: resources, templates, the get_started prompt, subscriptions and event history.

One object per MCP server. It reads the wire through the same client the tools use, so a
resource is always the live truth; it keeps who subscribed to what (2025-11-25
``resources/subscribe`` sessions and 2026-07-28 ``subscriptions/listen`` streams) and tells
them when a procurement changes, whichever way the server learned of it: its own writes
(:meth:`ResourceHub.notify_procurement_changed`) or a verified webhook from the wire
(:meth:`ResourceHub.receive_webhook`). Handlers are added with the SDK's public
``Server.add_request_handler``, so the resources and prompts capabilities appear exactly
because there is content behind them.
"""

from __future__ import annotations

import json
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast
from urllib.parse import unquote
from uuid import UUID

import anyio
from mcp import MCPError
from mcp.server import Server, ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ResourceUpdated
from mcp_types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    Annotations,
    EmptyResult,
    GetPromptRequestParams,
    GetPromptResult,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    PaginatedRequestParams,
    Prompt,
    PromptArgument,
    PromptMessage,
    ReadResourceRequestParams,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    SubscribeRequestParams,
    SubscriptionsListenRequestParams,
    TextContent,
    TextResourceContents,
    UnsubscribeRequestParams,
)

from rails_mcp.client import RailsClient
from rails_mcp.resources.events import EventLog, ProcurementEvent, Verification, now_rfc3339
from rails_mcp.resources.guides import (
    ERRORS_GUIDE,
    INSTRUCTIONS,
    LIFECYCLE_GUIDE,
    SEEDED_JOB_EXTERNAL,
    TOOLS_GUIDE,
)
from rails_mcp.resources.views import (
    ConfirmableSuppliers,
    basket_view,
    invoices_view,
    job_uri,
    job_view,
    parts_view,
    procurement_uri,
    procurement_view,
)
from rails_mcp.wire import models as m
from rails_mcp.wire.errors import NotFound, RailsAPIError, RailsError
from rails_mcp.wire.webhooks import verify

__all__ = [
    "GET_STARTED",
    "INSTRUCTIONS",
    "SCENARIO_URI",
    "ResourceHub",
    "WebhookReceipt",
]

log = logging.getLogger("rails_mcp.resources")

SCENARIO_URI = "scenario://current"
GET_STARTED = "get_started"
JSON = "application/json"
MARKDOWN = "text/markdown"
#: ``_meta`` key on every listed resource and template: how long a read stays fresh.
CACHE_META = "rails-mcp/cache"
#: Static guides change only with the package: a client may keep them for an hour.
GUIDE_TTL_MS = 3_600_000
#: Listings are fixed for the server's life; five minutes keeps a 2026-07-28 client's cache short.
LIST_TTL_MS = 300_000
#: How long one notification send may take before the subscriber is skipped this time.
SEND_TIMEOUT_S = 2.0
MAX_SUBSCRIBERS_PER_URI = 256
MAX_SUBSCRIBED_URIS = 4096

Reader = Callable[[dict[str, str]], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class _Entry:
    """One resource or template: what is listed, and how a read is answered."""

    uri: str  # the URI, or the RFC 6570 template
    name: str
    title: str
    description: str
    mime_type: str
    priority: float
    live: bool
    reader: Reader
    pattern: re.Pattern[str] | None = None  # set for templates

    @property
    def ttl_ms(self) -> int:
        return 0 if self.live else GUIDE_TTL_MS

    @property
    def scope(self) -> Literal["public", "private"]:
        return "private" if self.live else "public"

    def meta(self) -> dict[str, Any]:
        return {CACHE_META: {"ttlMs": self.ttl_ms, "scope": self.scope, "live": self.live}}

    def annotations(self) -> Annotations:
        return Annotations(audience=["assistant"], priority=self.priority)

    def listing(self) -> dict[str, Any]:
        """What a resource and a template list alike (all but the URI's own key)."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "mime_type": self.mime_type,
            "annotations": self.annotations(),
            "_meta": self.meta(),
        }


@dataclass(frozen=True, slots=True)
class WebhookReceipt:
    """What :meth:`ResourceHub.receive_webhook` made of one delivery (the receiver's answer)."""

    verified: bool
    reason: str | None = None
    duplicate: bool = False
    event_type: str | None = None


def _template(uri_template: str) -> re.Pattern[str]:
    """``rails://jobs/{external}/parts`` → a regex with one named group per variable."""
    parts = re.split(r"\{(\w+)\}", uri_template)
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
    return re.compile(f"^{regex}$")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


def _uuid(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise MCPError(INVALID_PARAMS, f"{what} must be a UUID, got {value[:60]!r}.") from None


class ResourceHub:
    """Resources, the get_started prompt, subscriptions and per-procurement event history."""

    def __init__(
        self,
        client: RailsClient,
        *,
        seeded_job: str | None = SEEDED_JOB_EXTERNAL,
        suppliers: ConfirmableSuppliers | None = None,
    ) -> None:
        self.client = client
        self._log = EventLog()
        self._bus = InMemorySubscriptionBus()
        self._listen = ListenHandler(self._bus)
        self._legacy: dict[str, dict[int, ServerSession]] = {}
        #: Jobs this server has seen (id → external ref), newest last: scenario://current's jobs.
        self._jobs: OrderedDict[UUID, str | None] = OrderedDict()
        self._seeded_job = seeded_job
        self._webhook_secrets: list[str] = []
        self._seen_events: OrderedDict[str, None] = OrderedDict()
        #: Shared with the tools when given, so the supplier credential is read once.
        self._suppliers = suppliers if suppliers is not None else ConfirmableSuppliers(client)
        self._entries = self._catalogue()

    # --- the catalogue -----------------------------------------------------------------------

    def _catalogue(self) -> list[_Entry]:
        def static(text: str) -> Reader:
            async def read(_: dict[str, str]) -> str:
                return text

            return read

        resources = [
            _Entry(
                "guide://lifecycle",
                "lifecycle",
                "How to drive a parts order",
                "Read first. The loop from open_repair_job to a reconciled invoice, the "
                "single-confirmable-supplier guard, the proposed-extension banner, and when a person "
                "must approve (placing and confirming).",
                MARKDOWN,
                1.0,
                False,
                static(LIFECYCLE_GUIDE),
            ),
            _Entry(
                SCENARIO_URI,
                "scenario",
                "This tenant's scenario, live",
                "The jobs this server knows (the seeded Corolla job and any opened here): parts and "
                "their status, which supplier can confirm, the ready order and its total, parts no "
                "confirmable supplier offers, and every procurement with its status. Read live from "
                "the wire; subscribe to hear when an order changes.",
                JSON,
                0.9,
                True,
                self._read_scenario,
            ),
            _Entry(
                "guide://errors",
                "errors",
                "Errors and how to recover",
                "The shape of a failed tool result (code, message, fix, retryable, example_arguments) "
                "and what to do for each code you will meet.",
                MARKDOWN,
                0.6,
                False,
                static(ERRORS_GUIDE),
            ),
            _Entry(
                "guide://tools",
                "tools",
                "The thirteen tools at a glance",
                "One line per tool: what it is for, whether it writes, which are proposed extensions "
                "and which need a person's approval.",
                MARKDOWN,
                0.5,
                False,
                static(TOOLS_GUIDE),
            ),
            _Entry(
                "rails://businesses",
                "businesses",
                "Repairer sites and confirmable suppliers",
                "The repairer's sites (repairer_site_id for open_repair_job) and the suppliers the "
                "configured supplier credential can confirm orders for. Live.",
                JSON,
                0.4,
                True,
                self._read_businesses,
            ),
            _Entry(
                "rails://work-providers",
                "work-providers",
                "Work providers (insurers)",
                "The insurers a job can name as work_provider_id; cash jobs name none. Live.",
                JSON,
                0.3,
                True,
                self._read_work_providers,
            ),
        ]
        templates = [
            (
                "rails://jobs/{external}",
                "job",
                "A repair job",
                "The job header by your external reference (URL-encoded): claim, vehicle, site, work "
                "provider, with links to its parts and basket. Live.",
                0.7,
                self._read_job,
            ),
            (
                "rails://jobs/{external}/parts",
                "job-parts",
                "A job's parts",
                "Every part of the job with its status (estimated or ordered) and counts. Live.",
                0.7,
                self._read_parts,
            ),
            (
                "rails://jobs/{external}/basket",
                "job-basket",
                "A job's priced basket",
                "Offers grouped by supplier, each supplier marked confirmable or not, the ready order "
                "(what place_procurement's ready_selection places) with its total, and the estimated "
                "parts no confirmable supplier offers. No currency: trade prices are bare decimals "
                "(D52). Live.",
                0.8,
                self._read_basket,
            ),
            (
                "rails://procurements/{id}",
                "procurement",
                "A procurement (order)",
                "One order, buyer view: status, supplier, lines, total and currency, plus the event "
                "history this server recorded. Subscribe to be told when it changes (placed, "
                "confirmed, a webhook arrived). Live.",
                0.8,
                self._read_procurement,
            ),
            (
                "rails://procurements/{id}/invoices",
                "procurement-invoices",
                "A procurement's invoices",
                "Invoices and credit notes of one order (proposed extension): status, totals, and "
                "whether every line is matched. Empty until the order is confirmed. Live.",
                0.6,
                self._read_invoices,
            ),
            (
                "rails://procurements/{id}/events",
                "procurement-events",
                "A procurement's event history",
                "What this server learned about one order and when: its own writes (placed, "
                "confirmed) and webhook deliveries with whether each verified. Newest last.",
                0.5,
                self._read_events,
            ),
        ]
        for uri, name, title, description, priority, reader in templates:
            resources.append(
                _Entry(uri, name, title, description, JSON, priority, True, reader, pattern=_template(uri))
            )
        return resources

    @property
    def resources(self) -> list[Resource]:
        return [Resource(uri=e.uri, **e.listing()) for e in self._entries if e.pattern is None]

    @property
    def resource_templates(self) -> list[ResourceTemplate]:
        return [
            ResourceTemplate(uri_template=e.uri, **e.listing())
            for e in self._entries
            if e.pattern is not None
        ]

    def _match(self, uri: str) -> tuple[_Entry, dict[str, str]]:
        for e in self._entries:
            if e.pattern is None and e.uri == uri:
                return e, {}
            if e.pattern is not None and (found := e.pattern.match(uri)):
                return e, {k: unquote(v) for k, v in found.groupdict().items()}
        raise MCPError(
            INVALID_PARAMS,
            f"No resource {uri[:120]!r}. List them with resources/list and resources/templates/list; "
            "start with guide://lifecycle or scenario://current.",
        )

    # --- reading -----------------------------------------------------------------------------

    async def read(self, uri: str) -> ReadResourceResult:
        """Read one resource; unknown URIs and missing records are ``invalid params`` errors."""
        entry, variables = self._match(uri)
        try:
            text = await entry.reader(variables)
        except MCPError:
            raise
        except NotFound:
            raise MCPError(
                INVALID_PARAMS,
                f"Nothing at {uri[:120]!r} is visible to this credential. Use a job's external reference "
                "or a procurement id from scenario://current or list_procurements.",
            ) from None
        except RailsError as exc:
            code = exc.wire_code if isinstance(exc, RailsAPIError) else type(exc).__name__
            log.info("resource %s could not be read: %s", entry.name, code)
            raise MCPError(
                INTERNAL_ERROR, f"The Rails API could not be read just now ({code}); retry."
            ) from None
        return ReadResourceResult(
            contents=[TextResourceContents(uri=uri, mime_type=entry.mime_type, text=text)],
            ttl_ms=entry.ttl_ms,
            cache_scope=entry.scope,
        )

    async def _confirmable_ids(self) -> frozenset[UUID]:
        return await self._suppliers.ids()

    def note_job(self, job_id: UUID, external: str | None) -> None:
        """Remember a job this server touched, so scenario://current shows it."""
        self._jobs.pop(job_id, None)
        self._jobs[job_id] = external
        while len(self._jobs) > 50:
            self._jobs.popitem(last=False)

    async def _job(self, external: str) -> m.JobV1:
        job = await self.client.repairer.jobs.get(identity=m.ExternalIdentity(external=external))
        self.note_job(job.id, job.external_id)
        return job

    async def _read_job(self, v: dict[str, str]) -> str:
        return _json(job_view(await self._job(v["external"])))

    async def _read_parts(self, v: dict[str, str]) -> str:
        ident = m.ExternalIdentity(external=v["external"])
        parts = await self.client.repairer.jobs.parts.list(job_identity=ident)
        return _json({"job": {"external": v["external"]}, **parts_view(parts.items)})

    async def _read_basket(self, v: dict[str, str]) -> str:
        ident = m.ExternalIdentity(external=v["external"])
        basket = await self.client.repairer.jobs.baskets.latest.get(job_identity=ident)
        parts = await self.client.repairer.jobs.parts.list(job_identity=ident)
        view = basket_view(basket, parts.items, await self._confirmable_ids())
        return _json({"job": {"external": v["external"]}, **view})

    async def _procurement(self, raw_id: str) -> m.BuyerProcurementV1:
        pid = _uuid(raw_id, "The procurement id")
        return await self.client.repairer.procurements.get(identity=m.IdIdentity(id=pid))

    async def _read_procurement(self, v: dict[str, str]) -> str:
        p = await self._procurement(v["id"])
        view = procurement_view(p)
        view["events"] = [e.model_dump(mode="json") for e in self.history(p.id)]
        view["resources"] = {"invoices": procurement_uri(p.id, "/invoices")}
        return _json(view)

    async def _read_invoices(self, v: dict[str, str]) -> str:
        pid = _uuid(v["id"], "The procurement id")
        listed = await self.client.repairer.procurements.invoices.list(
            procurement_identity=m.IdIdentity(id=pid)
        )
        invoices = invoices_view(listed.items)
        return _json(
            {
                "procurement_id": str(pid),
                "is_extension": True,
                "notice": m.EXTENSION_BANNER,
                "invoices": invoices,
                "note": None if invoices else "Invoices appear only after the supplier confirms the order.",
            }
        )

    async def _read_events(self, v: dict[str, str]) -> str:
        pid = _uuid(v["id"], "The procurement id")
        return _json(
            {"procurement_id": str(pid), "events": [e.model_dump(mode="json") for e in self.history(pid)]}
        )

    async def _read_businesses(self, _: dict[str, str]) -> str:
        sites = await self.client.businesses.list()
        confirmable = await self._suppliers.businesses()
        return _json(
            {
                "repairer_sites": [b.model_dump(mode="json") for b in sites.items],
                "confirmable_suppliers": [b.model_dump(mode="json") for b in confirmable],
            }
        )

    async def _read_work_providers(self, _: dict[str, str]) -> str:
        listed = await self.client.repairer.work_providers.list()
        return _json({"work_providers": [w.model_dump(mode="json") for w in listed.items]})

    async def scenario(self) -> dict[str, Any]:
        """This tenant's world as the tools see it: jobs, parts, who confirms, what is ordered."""
        suppliers = await self._suppliers.businesses()
        confirmable = frozenset(b.id for b in suppliers)
        idents: list[m.Identity] = []
        if self._seeded_job is not None:
            idents.append(m.ExternalIdentity(external=self._seeded_job))
        for job_id, external in reversed(self._jobs.items()):
            if external != self._seeded_job:
                idents.append(m.ExternalIdentity(external=external) if external else m.IdIdentity(id=job_id))
        jobs: list[dict[str, Any]] = []
        for ident in idents:
            try:
                jobs.append(await self._scenario_job(ident, confirmable))
            except NotFound:
                continue
        return {
            "generated_at": now_rfc3339(),
            "tenant": self.client.tenant,
            "confirmable_suppliers": [b.model_dump(mode="json") for b in suppliers],
            "jobs": jobs,
            "guard": "Only orders placed entirely with a confirmable supplier can be confirmed; "
            "place_procurement refuses anything else before it reaches the wire.",
        }

    async def _scenario_job(self, ident: m.Identity, confirmable: frozenset[UUID]) -> dict[str, Any]:
        job = await self.client.repairer.jobs.get(identity=ident)
        if job.id not in self._jobs:
            self.note_job(job.id, job.external_id)
        by_id = m.IdIdentity(id=job.id)
        parts = (await self.client.repairer.jobs.parts.list(job_identity=by_id)).items
        basket = await self.client.repairer.jobs.baskets.latest.get(job_identity=by_id)
        procurements = (await self.client.repairer.procurements.list(job_identity=by_id)).items
        bview = basket_view(basket, parts, confirmable)
        ready = bview["ready_order"]
        not_confirmable = bview["estimated_parts_not_confirmable"]
        open_orders = [p for p in procurements if p.status is m.ProcurementStatus.ORDER_REQUESTED]
        if open_orders:
            nxt = f"confirm_procurement for {open_orders[0].reference or open_orders[0].id} (after approval)"
        elif ready:
            nxt = (
                f"place_procurement with recommend_basket's ready_selection ({ready['total']}), "
                "after approval"
            )
        else:
            nxt = "nothing left to order from a confirmable supplier; reconcile_invoice for confirmed orders"
        return {
            "job": {
                "id": str(job.id),
                "external_id": job.external_id,
                "job_number": job.job_number,
                "claim_number": job.claim_number,
                "vehicle": job.vehicle.model_dump(mode="json") if job.vehicle else None,
                "resource": job_uri(job.external_id) if job.external_id else None,
            },
            "parts": [
                {"id": str(p.id), "description": p.description, "status": p.status.value} for p in parts
            ],
            "ready_order": ready,
            "estimated_parts_not_confirmable": not_confirmable,
            "procurements": [
                {
                    "id": str(p.id),
                    "reference": p.reference,
                    "status": p.status.value,
                    "supplier": p.supplier_business.name,
                    "confirmable": p.supplier_business.id in confirmable,
                    "total": procurement_view(p)["total"],
                    "currency_code": p.currency_code,
                    "resource": procurement_uri(p.id),
                }
                for p in procurements
            ],
            "next_step": nxt,
        }

    async def _read_scenario(self, _: dict[str, str]) -> str:
        return _json(await self.scenario())

    # --- the prompt --------------------------------------------------------------------------

    @property
    def prompts(self) -> list[Prompt]:
        return [
            Prompt(
                name=GET_STARTED,
                title="Get started with Rails parts ordering",
                description="One read that orients an agent: the ordering loop, the "
                "single-confirmable-supplier guard, the extension banner, approval rules, and this "
                "tenant's live scenario (jobs, parts, who can confirm, what is already ordered).",
                arguments=[
                    PromptArgument(
                        name="goal",
                        description="Optional: what the person wants done, e.g. 'order the parts for "
                        "CCC-2026-04817'. Added to the briefing as the task.",
                        required=False,
                    )
                ],
            )
        ]

    async def get_started(self, goal: str | None = None) -> GetPromptResult:
        try:
            scenario = _json(await self.scenario())
        except RailsError as exc:
            code = exc.wire_code if isinstance(exc, RailsAPIError) else type(exc).__name__
            scenario = f'(The live scenario could not be read just now: {code}. Read "{SCENARIO_URI}" later.)'
        task = f"\n\n## Your task\n{goal.strip()[:2000]}" if goal and goal.strip() else ""
        text = (
            f"{LIFECYCLE_GUIDE}\n## The scenario right now ({SCENARIO_URI})\n```json\n{scenario}\n```"
            f"\n\nErrors: read guide://errors. Tools at a glance: guide://tools.{task}"
        )
        return GetPromptResult(
            description="Orientation for driving a Rails parts order, with this tenant's live scenario.",
            messages=[PromptMessage(role="user", content=TextContent(type="text", text=text))],
        )

    # --- history and notifications -----------------------------------------------------------

    def history(self, procurement_id: UUID) -> list[ProcurementEvent]:
        """What this server learned about one procurement, oldest first."""
        return self._log.history(procurement_id)

    async def notify_procurement_changed(
        self,
        procurement_id: UUID,
        *,
        action: str,
        status: str | None = None,
        job_id: UUID | None = None,
        job_external: str | None = None,
    ) -> None:
        """The server itself changed a procurement (placed, confirmed): record it, tell subscribers."""
        self._log.record(
            procurement_id,
            ProcurementEvent(
                at=now_rfc3339(),
                source="server_write",
                action=action,
                status=status,
                verification="server_write",
            ),
        )
        if job_id is not None and (job_external is not None or job_id not in self._jobs):
            self.note_job(job_id, job_external)
        await self.publish(self._procurement_uris(procurement_id, job_id))

    def _procurement_uris(self, procurement_id: UUID, job_id: UUID | None) -> list[str]:
        uris = [
            procurement_uri(procurement_id),
            procurement_uri(procurement_id, "/invoices"),
            procurement_uri(procurement_id, "/events"),
            SCENARIO_URI,
        ]
        external = self._jobs.get(job_id) if job_id is not None else None
        if external:
            uris += [job_uri(external, "/parts"), job_uri(external, "/basket")]
        return uris

    async def publish(self, uris: Sequence[str]) -> None:
        """Tell every subscriber of ``uris``: 2026-07-28 listen streams and 2025-11-25 sessions."""
        for uri in dict.fromkeys(uris):
            await self._bus.publish(ResourceUpdated(uri=uri))
        sends = [(uri, key, s) for uri in dict.fromkeys(uris) for key, s in self._legacy.get(uri, {}).items()]
        if not sends:
            return

        async def send(uri: str, key: int, session: ServerSession) -> None:
            delivered = False
            with anyio.move_on_after(SEND_TIMEOUT_S):
                try:
                    await session.send_resource_updated(uri)
                    delivered = True
                except Exception:  # a closed connection: forget the subscriber
                    log.debug("dropping a resource subscriber of %s: its connection is gone", uri)
                    self._legacy.get(uri, {}).pop(key, None)
            if not delivered:
                log.debug("resource update for %s not delivered within %ss", uri, SEND_TIMEOUT_S)

        async with anyio.create_task_group() as tg:
            for uri, key, session in sends:
                tg.start_soon(send, uri, key, session)

    # --- webhooks ----------------------------------------------------------------------------

    def set_webhook_secrets(self, secrets: Sequence[str]) -> None:
        """The signing secrets of the integrations whose webhooks this server receives (kept private)."""
        self._webhook_secrets = [s for s in secrets if s]

    @property
    def receives_webhooks(self) -> bool:
        return bool(self._webhook_secrets)

    async def receive_webhook(
        self, raw_body: bytes, signature: str | None, now: datetime | None = None
    ) -> WebhookReceipt:
        """One delivery from the wire: verify it, record it, and tell subscribers if it is genuine.

        An unverified delivery is recorded against the procurement it names (so the history
        shows it arrived and why it was refused) but changes nothing and notifies no one.
        """
        outcome = None
        for secret in self._webhook_secrets or [""]:
            outcome = verify(raw_body, signature, secret, now)
            if outcome.ok or outcome.reason != "bad_signature":
                break
        assert outcome is not None
        body = outcome.event if outcome.ok else _loose_json(raw_body)
        kind = str(body.get("type")) if body and body.get("type") is not None else None
        data_raw = body.get("data") if body else None
        data: dict[str, Any] = _str_keys(data_raw) or {}
        procurement_id = _maybe_uuid(data.get("procurement_id"))
        job_id = _maybe_uuid(data.get("job_id"))
        event_id = str(body["id"])[:64] if body and body.get("id") is not None else None
        sent_at = str(body["timestamp"])[:64] if body and body.get("timestamp") is not None else None
        status = data.get("status") if isinstance(data.get("status"), str) else None

        def record(verification: Verification, reason: str | None = None) -> None:
            """A delivery about an order lands in its history, a refused one too."""
            if procurement_id is not None:
                self._log.record(
                    procurement_id,
                    ProcurementEvent(
                        at=now_rfc3339(),
                        source="webhook",
                        action=(kind or "unknown")[:64],
                        status=status,
                        verification=verification,
                        reason=reason,
                        event_id=event_id,
                        sent_at=sent_at,
                    ),
                )

        if not outcome.ok:
            record("unverified", outcome.reason)
            log.info("webhook refused: %s", outcome.reason)
            return WebhookReceipt(False, outcome.reason, event_type=kind)
        duplicate = event_id is not None and event_id in self._seen_events
        if event_id is not None:
            self._seen_events[event_id] = None
            while len(self._seen_events) > 10_000:
                self._seen_events.popitem(last=False)
        record("verified")
        if duplicate:
            return WebhookReceipt(True, duplicate=True, event_type=kind)
        if job_id is not None and job_id not in self._jobs:
            self.note_job(job_id, None)
        if procurement_id is not None:
            await self.publish(self._procurement_uris(procurement_id, job_id))
        else:
            await self.publish([SCENARIO_URI])
        return WebhookReceipt(True, event_type=kind)

    # --- MCP handlers ------------------------------------------------------------------------

    def register(self, server: Server[Any]) -> None:
        """Add the resources, prompts and subscription handlers to ``server`` (public SDK API)."""

        async def list_resources(
            ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
        ) -> ListResourcesResult:
            return ListResourcesResult(resources=self.resources, ttl_ms=LIST_TTL_MS, cache_scope="public")

        async def list_templates(
            ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
        ) -> ListResourceTemplatesResult:
            return ListResourceTemplatesResult(
                resource_templates=self.resource_templates, ttl_ms=LIST_TTL_MS, cache_scope="public"
            )

        async def read_resource(
            ctx: ServerRequestContext[Any], params: ReadResourceRequestParams
        ) -> ReadResourceResult:
            return await self.read(params.uri)

        async def subscribe(ctx: ServerRequestContext[Any], params: SubscribeRequestParams) -> EmptyResult:
            # Any URI is honoured, as the SDK's listen handler does on 2026-07-28: one that names
            # no resource simply never fires (bounded, so a client cannot grow this without end).
            if params.uri not in self._legacy and len(self._legacy) >= MAX_SUBSCRIBED_URIS:
                raise MCPError(INTERNAL_ERROR, "Too many subscribed resources; unsubscribe some first.")
            subscribers = self._legacy.setdefault(params.uri, {})
            if len(subscribers) >= MAX_SUBSCRIBERS_PER_URI:
                raise MCPError(INTERNAL_ERROR, "Too many subscribers to this resource; retry later.")
            subscribers[_connection_key(ctx.session)] = ctx.session
            return EmptyResult()

        async def unsubscribe(
            ctx: ServerRequestContext[Any], params: UnsubscribeRequestParams
        ) -> EmptyResult:
            subscribers = self._legacy.get(params.uri, {})
            subscribers.pop(_connection_key(ctx.session), None)
            if not subscribers:
                self._legacy.pop(params.uri, None)
            return EmptyResult()

        async def list_prompts(
            ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
        ) -> ListPromptsResult:
            return ListPromptsResult(prompts=self.prompts, ttl_ms=LIST_TTL_MS, cache_scope="public")

        async def get_prompt(
            ctx: ServerRequestContext[Any], params: GetPromptRequestParams
        ) -> GetPromptResult:
            if params.name != GET_STARTED:
                raise MCPError(
                    INVALID_PARAMS, f"No prompt {params.name[:80]!r}; the one prompt is {GET_STARTED!r}."
                )
            return await self.get_started((params.arguments or {}).get("goal"))

        server.add_request_handler("resources/list", PaginatedRequestParams, list_resources)
        server.add_request_handler("resources/templates/list", PaginatedRequestParams, list_templates)
        server.add_request_handler("resources/read", ReadResourceRequestParams, read_resource)
        server.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
        server.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
        server.add_request_handler("subscriptions/listen", SubscriptionsListenRequestParams, self._listen)
        server.add_request_handler("prompts/list", PaginatedRequestParams, list_prompts)
        server.add_request_handler("prompts/get", GetPromptRequestParams, get_prompt)

    def close(self) -> None:
        """End every open listen stream gracefully (server shutdown)."""
        self._listen.close()


def _connection_key(session: ServerSession) -> int:
    """One key per client connection: the per-connection ``initialize`` params object, when there is one.

    ``ServerSession`` is built per request, so the session object itself would make every
    repeated subscribe a new subscriber; the handshake params live as long as the connection.
    """
    params = session.client_params
    return id(params) if params is not None else id(session)


def _maybe_uuid(value: object) -> UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


def _loose_json(raw: bytes) -> dict[str, Any] | None:
    """Best-effort parse of an unverified body, only to file it under the procurement it names."""
    try:
        body: object = json.loads(raw[:65536])
    except (ValueError, UnicodeDecodeError):
        return None
    return _str_keys(body)


def _str_keys(value: object) -> dict[str, Any] | None:
    """A JSON object as a ``dict[str, Any]``; anything else is None."""
    if not isinstance(value, dict):
        return None
    items = cast("dict[object, Any]", value).items()
    return {str(k): v for k, v in items}
