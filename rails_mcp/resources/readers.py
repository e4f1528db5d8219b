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
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, assert_never
from uuid import UUID

from mcp import MCPError
from mcp_types import INVALID_PARAMS

from rails_mcp.client import RailsClient
from rails_mcp.errors import ToolError
from rails_mcp.paging import DEFAULT_LIMIT, MAX_LIMIT, Window, cursor_key
from rails_mcp.resources.catalogue import ENTRIES, Entry, ReaderName
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
from rails_mcp.wire.codes import ErrorCode
from rails_mcp.wire.errors import NotFound
from rails_mcp.wire.untrusted import quote, safe_json

__all__ = ["MAX_KNOWN_JOBS", "KnownJobs", "Readers", "history_view"]

#: Jobs scenario://current shows at most (the most recently touched).
MAX_KNOWN_JOBS = 50


def _json(value: Any) -> str:
    """A resource's JSON as the model reads it: exact values, nothing invisible or rendered raw."""
    return safe_json(json.dumps(value, ensure_ascii=False, indent=2))


#: How to get what a cut resource left out: a paged resource, or the tool that pages the list.
_REST = (
    "Read less at a time: the businesses, work providers, a job's parts and an order's invoices "
    "and events are paged resources "
    "(?limit=&cursor=next_cursor); list_parts, list_procurements, recommend_basket, list_businesses, "
    "list_work_providers, track_procurement and reconcile_invoice page with a cursor."
)
#: How to get what a cut page left out: its next page starts right after the last item shown.
_PAGE_REST = "Read next_page (this URI with cursor=next_cursor) for the rest, or ask for a smaller limit."
#: Room kept for the next page's cursor and URI, which a cut page gains.
_NEXT_ROOM = 400
_BY_READER: dict[ReaderName, Entry] = {e.reader: e for e in ENTRIES}


def _bounded(value: dict[str, Any], budget: int, rest: str = _REST, room: int = 0) -> dict[str, Any]:
    """``value``, its longest lists cut to fit ``budget`` tokens as :func:`_json` (less ``room``
    characters), the cut said with ``rest``."""
    return fit(value, lambda v: len(_json(v)), budget * CHARS_PER_TOKEN - room, rest, budget)


def _uuid(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise MCPError(INVALID_PARAMS, f"{what} must be a UUID, got {quote(value, 60)}.") from None


def _path_values(v: Mapping[str, str]) -> dict[str, str]:
    """A paged read's variables without its paging: what chose the list."""
    return {k: x for k, x in v.items() if k not in ("limit", "cursor")}


def _limit(raw: str | None) -> int:
    """The ``limit`` query parameter: a whole number from 1 to the tools' maximum (default 50)."""
    if not raw:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_LIMIT):
        raise MCPError(
            INVALID_PARAMS, f"limit must be a whole number from 1 to {MAX_LIMIT}, got {quote(raw, 20)}."
        )
    return int(raw)


def _invalid_cursor(entry: Entry, path: Mapping[str, str]) -> MCPError:
    """A cursor this resource did not issue: ``invalid params``, with the tools' structured error."""
    assert entry.template is not None
    first = entry.template.expand(dict(path))
    info = ToolError(
        code=ErrorCode.INVALID_CURSOR,
        message="This cursor was not issued for this resource and these path values (it was altered, "
        "or it belongs to another list); nothing was read.",
        fix=f"Read {quote(first, 200)} (page 1) and follow its next_cursor.",
        retryable=False,
        field="cursor",
    )
    return MCPError(INVALID_PARAMS, f"Invalid cursor: {info.message} Fix: {info.fix}", info.public())


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
                window = self._window(reader, v)
                return self._page(reader, window, v, await self._businesses())
            case "work_providers":
                window = self._window(reader, v)
                listed = await self.client.repairer.work_providers.list()
                view = {"work_providers": [w.model_dump(mode="json") for w in listed.items]}
                return self._page(reader, window, v, view)
            case "job":
                job = await self.client.repairer.jobs.get(identity=m.ExternalIdentity(external=v["external"]))
                self._jobs.note(job.id, job.external_id)
                return self._json(job_view(job))
            case "parts":
                window = self._window(reader, v)  # before the wire: a bad cursor costs no call
                parts = await self.client.repairer.jobs.parts.list(job_identity=self._external(v))
                return self._page(
                    reader, window, v, {"job": {"external": v["external"]}, **parts_view(parts.items)}
                )
            case "basket":
                return self._json(await self._basket(v["external"]))
            case "procurement":
                return self._json(await self._procurement(_uuid(v["id"], "The procurement id")))
            case "invoices":
                pid = _uuid(v["id"], "The procurement id")
                window = self._window(reader, v)
                return self._page(reader, window, v, await self._invoices(pid))
            case "events":
                pid = _uuid(v["id"], "The procurement id")
                window = self._window(reader, v)
                history = await self._log.off_loop(self._log.history, pid)
                view = {"procurement_id": str(pid), **history_view(history)}
                return self._page(reader, window, v, view)
            case _:
                assert_never(reader)

    def _json(self, value: dict[str, Any]) -> str:
        return _json(_bounded(value, self.token_budget))

    # --- paged reads -----------------------------------------------------------------------------

    def _window(self, reader: ReaderName, v: Mapping[str, str]) -> Window:
        """The page a read asks for, checked before the wire is read; the cursor is bound to the
        resource and its path variables, so one altered or made for another list is refused."""
        chosen = _path_values(v)
        binding = json.dumps([f"resource:{reader}", chosen], sort_keys=True, separators=(",", ":"))
        key = cursor_key(self.client)
        window = Window(tool=reader, start=0, limit=_limit(v.get("limit")), binding=binding.encode(), key=key)
        cursor = v.get("cursor")
        if not cursor:  # an empty ``cursor=`` is a first page, as an absent one
            return window
        start = window.decode(cursor)
        if start is None:
            raise _invalid_cursor(_BY_READER[reader], chosen)
        return replace(window, start=start)

    def _page(self, reader: ReaderName, window: Window, v: Mapping[str, str], value: dict[str, Any]) -> str:
        """One page of the read's paged list, cut further to the budget when it must be; the
        next page starts right after the last item shown, so every item is read exactly once."""
        entry = _BY_READER[reader]
        key = entry.paged
        assert key is not None
        items: list[Any] = value[key]
        page, _ = window.cut(items)
        fitted = _bounded({**value, key: page}, self.token_budget, _PAGE_REST, _NEXT_ROOM)
        end = window.start + len(fitted[key])
        if end < len(items):
            fitted["next_cursor"] = cursor = window.encode(end)
            limit = {"limit": str(window.limit)} if window.limit != DEFAULT_LIMIT else {}
            assert entry.template is not None
            fitted["next_page"] = entry.template.expand({**_path_values(v), **limit, "cursor": cursor})
        return _json(fitted)

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
        view.update(history_view(await self._log.off_loop(self._log.history, p.id)))
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
