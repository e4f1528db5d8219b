"""The readers: what each catalogue entry answers, read live from the wire through the client.

One reader per :data:`~rails_mcp.resources.catalogue.ReaderName`; a resource read is the
same handful of wire calls a tool would make, so nothing is cached that could go stale
(only which suppliers the supplier credential confirms for, which does not change while
the server runs). The jobs this server has seen are kept here too: they are what
``scenario://current`` shows, since the wire has no call that lists a tenant's jobs.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any, assert_never
from uuid import UUID

from mcp import MCPError
from mcp_types import INVALID_PARAMS

from rails_mcp.client import RailsClient
from rails_mcp.resources.catalogue import ReaderName
from rails_mcp.resources.events import EventLog, History, now_rfc3339
from rails_mcp.resources.guides import ERRORS_GUIDE, LIFECYCLE_GUIDE, TOOLS_GUIDE
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
from rails_mcp.wire.budget import CHARS_PER_TOKEN, DEFAULT_TOKEN_BUDGET, fit
from rails_mcp.wire.errors import NotFound
from rails_mcp.wire.untrusted import quote, safe_json

__all__ = ["MAX_KNOWN_JOBS", "KnownJobs", "Readers", "history_view"]

#: Jobs scenario://current shows at most (the most recently touched).
MAX_KNOWN_JOBS = 50


def _json(value: Any) -> str:
    """A resource's JSON as the model reads it: exact values, nothing invisible or rendered raw."""
    return safe_json(json.dumps(value, ensure_ascii=False, indent=2))


#: How to get what a cut resource left out: the tool that pages the same list.
_REST = (
    "The tools page what a resource cannot show whole: list_parts and list_procurements (cursor), "
    "recommend_basket, track_procurement, reconcile_invoice."
)


def _bounded(value: dict[str, Any], budget: int) -> str:
    """``value`` as :func:`_json`, its longest lists cut to fit ``budget`` tokens, the cut said."""
    return _json(fit(value, lambda v: len(_json(v)), budget * CHARS_PER_TOKEN, _REST, budget))


def _uuid(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise MCPError(INVALID_PARAMS, f"{what} must be a UUID, got {quote(value, 60)}.") from None


def history_view(history: History) -> dict[str, Any]:
    """A procurement's events as a resource shows them, with how many older ones were dropped."""
    view: dict[str, Any] = {"events": [e.model_dump(mode="json") for e in history.events]}
    if history.truncated:
        view["events_truncated"] = history.truncated
    return view


class KnownJobs:
    """Jobs this server has touched (id → external reference), newest last, bounded."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[UUID, str | None] = OrderedDict()

    def __contains__(self, job_id: UUID) -> bool:
        return job_id in self._jobs

    def note(self, job_id: UUID, external: str | None) -> None:
        self._jobs.pop(job_id, None)
        self._jobs[job_id] = external
        while len(self._jobs) > MAX_KNOWN_JOBS:
            self._jobs.popitem(last=False)

    def external(self, job_id: UUID) -> str | None:
        return self._jobs.get(job_id)

    def newest_first(self) -> list[tuple[UUID, str | None]]:
        return list(reversed(self._jobs.items()))


class Readers:
    """Answers every catalogue entry from the wire, the guides and the event log."""

    def __init__(
        self,
        client: RailsClient,
        log: EventLog,
        jobs: KnownJobs,
        *,
        seeded_job: str | None,
        suppliers: ConfirmableSuppliers,
    ) -> None:
        self.client = client
        #: The largest read, in tokens; the server sets it from its configuration.
        self.token_budget = DEFAULT_TOKEN_BUDGET
        self._log = log
        self._jobs = jobs
        self.seeded_job = seeded_job
        self._suppliers = suppliers

    async def read(self, reader: ReaderName, v: dict[str, str]) -> str:  # noqa: C901 - one flat case per reader
        """The text of one read; the wire's errors propagate for the caller to shape."""
        match reader:
            case "lifecycle_guide":
                return LIFECYCLE_GUIDE
            case "errors_guide":
                return ERRORS_GUIDE
            case "tools_guide":
                return TOOLS_GUIDE
            case "scenario":
                return self._json(await self.scenario())
            case "businesses":
                return self._json(await self._businesses())
            case "work_providers":
                listed = await self.client.repairer.work_providers.list()
                return self._json({"work_providers": [w.model_dump(mode="json") for w in listed.items]})
            case "job":
                job = await self.client.repairer.jobs.get(identity=m.ExternalIdentity(external=v["external"]))
                self._jobs.note(job.id, job.external_id)
                return self._json(job_view(job))
            case "parts":
                parts = await self.client.repairer.jobs.parts.list(job_identity=self._external(v))
                return self._json({"job": {"external": v["external"]}, **parts_view(parts.items)})
            case "basket":
                return self._json(await self._basket(v["external"]))
            case "procurement":
                return self._json(await self._procurement(_uuid(v["id"], "The procurement id")))
            case "invoices":
                return self._json(await self._invoices(_uuid(v["id"], "The procurement id")))
            case "events":
                pid = _uuid(v["id"], "The procurement id")
                return self._json({"procurement_id": str(pid), **history_view(self._log.history(pid))})
            case _:
                assert_never(reader)

    def _json(self, value: dict[str, Any]) -> str:
        return _bounded(value, self.token_budget)

    @staticmethod
    def _external(v: dict[str, str]) -> m.ExternalIdentity:
        return m.ExternalIdentity(external=v["external"])

    async def confirmable_ids(self) -> frozenset[UUID]:
        return await self._suppliers.ids()

    async def _businesses(self) -> dict[str, Any]:
        sites = await self.client.businesses.list()
        confirmable = await self._suppliers.businesses()
        return {
            "repairer_sites": [b.model_dump(mode="json") for b in sites.items],
            "confirmable_suppliers": [b.model_dump(mode="json") for b in confirmable],
        }

    async def _basket(self, external: str) -> dict[str, Any]:
        ident = m.ExternalIdentity(external=external)
        basket = await self.client.repairer.jobs.baskets.latest.get(job_identity=ident)
        parts = await self.client.repairer.jobs.parts.list(job_identity=ident)
        view = basket_view(basket, parts.items, await self.confirmable_ids())
        return {"job": {"external": external}, **view}

    async def _procurement(self, pid: UUID) -> dict[str, Any]:
        p = await self.client.repairer.procurements.get(identity=m.IdIdentity(id=pid))
        view = procurement_view(p)
        view.update(history_view(self._log.history(p.id)))
        view["resources"] = {"invoices": procurement_uri(p.id, "/invoices")}
        return view

    async def _invoices(self, pid: UUID) -> dict[str, Any]:
        listed = await self.client.repairer.procurements.invoices.list(
            procurement_identity=m.IdIdentity(id=pid)
        )
        invoices = invoices_view(listed.items)
        return {
            "procurement_id": str(pid),
            "is_extension": True,
            "notice": m.EXTENSION_BANNER,
            "invoices": invoices,
            "note": None if invoices else "Invoices appear only after the supplier confirms the order.",
        }

    # --- scenario://current ---------------------------------------------------------------------

    async def scenario(self) -> dict[str, Any]:
        """This tenant's world in summary: totals, the jobs needing action first, links to the rest.

        Bounded whatever the world's size: each job is counts and links (its parts, basket and
        orders are paged resources and tools), and at most :data:`SCENARIO_JOBS` jobs are shown.
        """
        suppliers = await self._suppliers.businesses()
        confirmable = frozenset(b.id for b in suppliers)
        idents: list[m.Identity] = []
        if self.seeded_job is not None:
            idents.append(m.ExternalIdentity(external=self.seeded_job))
        for job_id, external in self._jobs.newest_first():
            if external != self.seeded_job:
                idents.append(m.ExternalIdentity(external=external) if external else m.IdIdentity(id=job_id))
        jobs: list[dict[str, Any]] = []
        for ident in idents:
            try:
                jobs.append(await self._scenario_job(ident, confirmable))
            except NotFound:
                continue
        # Jobs with something to do come first (stable: newest first within each group).
        jobs.sort(key=lambda j: not j["needs_action"])
        return {
            "generated_at": now_rfc3339(),
            "tenant": self.client.tenant,
            "confirmable_suppliers": [b.model_dump(mode="json") for b in suppliers[:SCENARIO_LIST]],
            "totals": _totals(jobs),
            "jobs": jobs[:SCENARIO_JOBS],
            "jobs_not_shown": max(len(jobs) - SCENARIO_JOBS, 0),
            "guard": "Only orders placed entirely with a confirmable supplier can be confirmed; "
            "place_procurement refuses anything else before it reaches the wire.",
            "more": "Each job links its resources; list_parts, recommend_basket and list_procurements "
            "page the details.",
        }

    async def _scenario_job(self, ident: m.Identity, confirmable: frozenset[UUID]) -> dict[str, Any]:
        job = await self.client.repairer.jobs.get(identity=ident)
        if job.id not in self._jobs:
            self._jobs.note(job.id, job.external_id)
        by_id = m.IdIdentity(id=job.id)
        parts = (await self.client.repairer.jobs.parts.list(job_identity=by_id)).items
        basket = await self.client.repairer.jobs.baskets.latest.get(job_identity=by_id)
        procurements = (await self.client.repairer.procurements.list(job_identity=by_id)).items
        bview = basket_view(basket, parts, confirmable)
        ready = bview["ready_order"]
        by_status: dict[str, int] = {}
        for p in procurements:
            by_status[p.status.value] = by_status.get(p.status.value, 0) + 1
        awaiting = [p for p in procurements if p.status is m.ProcurementStatus.ORDER_REQUESTED]
        external = job.external_id
        return {
            "job": {
                "id": str(job.id),
                "external_id": external,
                "job_number": job.job_number,
                "claim_number": job.claim_number,
                "vehicle": job.vehicle.model_dump(mode="json") if job.vehicle else None,
            },
            "parts": {
                "estimated": sum(1 for p in parts if p.status is m.PartStatusV1.ESTIMATED),
                "ordered": sum(1 for p in parts if p.status is m.PartStatusV1.ORDERED),
                "not_confirmable": len(bview["estimated_parts_not_confirmable"]),
            },
            "ready_order": {"offers": len(ready["offers"]), "total": ready["total"]} if ready else None,
            "procurements": by_status,
            "awaiting_confirmation": [_order_brief(p, confirmable) for p in awaiting[:SCENARIO_LIST]],
            "next_step": _next_step(procurements, ready),
            "needs_action": bool(awaiting or ready),
            "resources": _job_links(external) if external else None,
        }


#: Jobs scenario://current details (those needing action first); the rest are counted.
SCENARIO_JOBS = 20
#: Items of any one list inside the scenario (suppliers, a job's open orders).
SCENARIO_LIST = 5


def _order_brief(p: m.BuyerProcurementV1, confirmable: frozenset[UUID]) -> dict[str, Any]:
    return {
        "id": str(p.id),
        "reference": p.reference,
        "supplier": p.supplier_business.name,
        "confirmable": p.supplier_business.id in confirmable,
        "total": procurement_view(p)["total"],
        "currency_code": p.currency_code,
        "resource": procurement_uri(p.id),
    }


def _job_links(external: str) -> dict[str, str]:
    return {
        "job": job_uri(external),
        "parts": job_uri(external, "/parts"),
        "basket": job_uri(external, "/basket"),
    }


def _totals(jobs: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts over every job the scenario read, shown or not."""
    procurements: dict[str, int] = {}
    for job in jobs:
        for status, count in job["procurements"].items():
            procurements[status] = procurements.get(status, 0) + count
    return {
        "jobs": len(jobs),
        "jobs_needing_action": sum(1 for j in jobs if j["needs_action"]),
        "parts_estimated": sum(j["parts"]["estimated"] for j in jobs),
        "parts_ordered": sum(j["parts"]["ordered"] for j in jobs),
        "procurements": procurements,
    }


def _next_step(procurements: list[m.BuyerProcurementV1], ready: dict[str, Any] | None) -> str:
    open_orders = [p for p in procurements if p.status is m.ProcurementStatus.ORDER_REQUESTED]
    if open_orders:
        first = open_orders[0]
        named = quote(first.reference) if first.reference else str(first.id)
        return f"confirm_procurement for {named} (after approval)"
    if ready:
        return f"place_procurement with recommend_basket's ready_selection ({ready['total']}), after approval"
    return "nothing left to order from a confirmable supplier; reconcile_invoice for confirmed orders"
