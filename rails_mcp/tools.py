"""The thirteen tools: what each one reads and writes on the wire, and what it tells the agent.

Each handler validates nothing itself (the input model did), calls the wire through the
client, translates wire failures with the context only it knows, and returns a
:class:`ToolResult`. The guard runs before any placement; transitions are re-fetched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import anyio
from mcp_types import ToolAnnotations
from pydantic import BaseModel

from rails_mcp.client import RailsClient
from rails_mcp.enrich import ToolErrorInfo, ToolFailure, WireContext, refusal_error, wire_error
from rails_mcp.guard import (
    GuardRefusal,
    SelectionRequest,
    check_confirmable,
    money,
    plan_placement,
    recommend_selection,
)
from rails_mcp.tool_inputs import (
    ConfirmProcurementInput,
    GetRepairJobInput,
    IdentifyPartsInput,
    ListBusinessesInput,
    ListPartsInput,
    ListProcurementsInput,
    ListWorkProvidersInput,
    OpenRepairJobInput,
    PlaceProcurementInput,
    PrepareVehicleInput,
    RecommendBasketInput,
    ReconcileInvoiceInput,
    TrackProcurementInput,
)
from rails_mcp.wire import models as m
from rails_mcp.wire.errors import (
    MalformedResponse,
    RailsError,
    RailsTransportError,
    ServerError,
    Unprocessable,
)

__all__ = ["TOOLS", "Rails", "ToolResult", "ToolSpec"]

T = TypeVar("T")


class Rails:
    """What the tools share: the wire client and the confirmable suppliers, discovered once."""

    def __init__(self, client: RailsClient) -> None:
        self.client = client
        self._confirmable: frozenset[UUID] | None = None
        self._lock = anyio.Lock()

    async def confirmable_suppliers(self) -> frozenset[UUID]:
        """Businesses the configured supplier credential can confirm for (``businesses.list``).

        Discovered from the credential, never hard-coded; cached for the process because a
        credential's organization does not change under it.
        """
        async with self._lock:
            if self._confirmable is None:
                if self.client.supplier_credentials is None:
                    return frozenset()
                listed = await self.client.businesses.list(credential="supplier")
                self._confirmable = frozenset(b.id for b in listed.items)
            return self._confirmable


@dataclass(frozen=True, slots=True)
class ToolResult:
    data: dict[str, Any]
    summary: str


Handler = Callable[[Rails, Any], Awaitable[ToolResult]]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    title: str
    description: str
    input_model: type[BaseModel]
    #: Top-level keys of a successful result and their JSON types (the published output schema).
    output: dict[str, str]
    annotations: ToolAnnotations
    handler: Handler
    extension: bool = False
    example: dict[str, Any] = field(default_factory=dict[str, Any])


# --- helpers ------------------------------------------------------------------------------


async def wire(ctx: WireContext, call: Awaitable[T]) -> T:
    """Await a wire call; a wire failure ends the tool with an error enriched by ``ctx``."""
    try:
        return await call
    except RailsError as exc:
        raise ToolFailure(wire_error(exc, ctx)) from None


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def job_json(job: m.Identity) -> dict[str, str]:
    return job.model_dump(mode="json")


def job_label(job: m.Identity) -> str:
    return f'external "{job.external}"' if isinstance(job, m.ExternalIdentity) else f"id {job.id}"


def job_ctx(tool: str, job: m.Identity, **kw: Any) -> WireContext:
    return WireContext(
        tool=tool,
        not_found=f"No repair job with {job_label(job)} exists for this repairer.",
        not_found_fix=(
            'Check the reference (the key is "external", not "external_id"), or create the job '
            "with open_repair_job."
        ),
        not_found_next_tool="open_repair_job",
        **kw,
    )


def procurement_ctx(
    tool: str,
    procurement_id: UUID,
    *,
    not_found_fix: str = (
        "Use a procurement id from list_procurements for the job (ids of other jobs' or "
        "tenants' orders are not visible)."
    ),
    **kw: Any,
) -> WireContext:
    return WireContext(
        tool=tool,
        not_found=f"No procurement {procurement_id} is visible to this credential.",
        not_found_fix=not_found_fix,
        not_found_next_tool="list_procurements",
        **kw,
    )


def total_of(items: Sequence[m.SourceItemV1]) -> str:
    return money(sum((Decimal(i.trade_price) * i.quantity for i in items), Decimal(0)))


def procurement_view(p: m.BuyerProcurementV1 | m.SupplierProcurementV1) -> dict[str, Any]:
    """The essentials of a procurement, with its total computed from the lines."""
    view: dict[str, Any] = {
        "id": str(p.id),
        "reference": p.reference,
        "status": p.status.value,
        "job_id": str(p.job_id),
        "currency_code": p.currency_code,
        "total": total_of(p.source_items),
        "lines": [
            {
                "sellable_id": str(i.sellable_id),
                "name": i.name,
                "job_part_ids": [str(x) for x in i.job_part_ids],
                "quantity": i.quantity,
                "trade_price": i.trade_price,
            }
            for i in p.source_items
        ],
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }
    if isinstance(p, m.BuyerProcurementV1):
        view["supplier"] = dump(p.supplier_business)
    else:
        view["buyer"] = dump(p.buyer_business)
        view["buyer_shipping_address"] = dump(p.buyer_shipping_address)
    return view


def parts_view(parts: Sequence[m.PartV1]) -> dict[str, Any]:
    counts = {s.value: 0 for s in m.PartStatusV1}
    for p in parts:
        counts[p.status.value] += 1
    return {"parts": [dump(p) for p in parts], "counts": counts}


# --- 1–3: resolution helpers ----------------------------------------------------------------


async def prepare_vehicle(rails: Rails, args: PrepareVehicleInput) -> ToolResult:
    resp = await wire(
        WireContext("prepare_vehicle"), rails.client.tier1.prepare(identifiers=args.identifiers)
    )
    invalid = [dump(i) for i in resp.invalid_identifiers]
    n = len(args.identifiers)
    return ToolResult(
        {
            "submitted": n,
            "queued": n - len(invalid),
            "invalid_identifiers": invalid,
            "next_tool": "open_repair_job",
        },
        f"{n - len(invalid)} of {n} vehicle identifiers queued; {len(invalid)} invalid.",
    )


async def list_businesses(rails: Rails, _: ListBusinessesInput) -> ToolResult:
    resp = await wire(WireContext("list_businesses"), rails.client.businesses.list())
    items = [dump(b) for b in resp.items]
    return ToolResult(
        {"businesses": items, "next_tool": "open_repair_job"},
        f"{len(items)} business(es); use one id as repairer_site_id in open_repair_job.",
    )


async def list_work_providers(rails: Rails, _: ListWorkProvidersInput) -> ToolResult:
    resp = await wire(WireContext("list_work_providers"), rails.client.repairer.work_providers.list())
    items = [dump(w) for w in resp.items]
    return ToolResult(
        {"work_providers": items, "next_tool": "open_repair_job"},
        f"{len(items)} work provider(s) (insurers); omit work_provider_id for cash jobs.",
    )


# --- 4–7: the job and its parts -------------------------------------------------------------


async def _default_site(rails: Rails, job: m.Identity) -> UUID:
    try:
        return (await rails.client.repairer.jobs.get(identity=job)).repairer_site_id
    except RailsError:  # not found, or unreadable just now: the only site will do
        pass
    sites = await wire(WireContext("open_repair_job"), rails.client.businesses.list())
    if len(sites.items) == 1:
        return sites.items[0].id
    raise ToolFailure(
        ToolErrorInfo(
            code="invalid_arguments",
            message=f"repairer_site_id is needed: this repairer has {len(sites.items)} sites.",
            fix="Pass repairer_site_id with one of the ids from list_businesses.",
            retryable=False,
            field="repairer_site_id",
            valid_values=[str(s.id) for s in sites.items],
            next_tool="list_businesses",
        )
    )


async def open_repair_job(rails: Rails, args: OpenRepairJobInput) -> ToolResult:
    site = args.repairer_site_id or await _default_site(rails, args.job)
    ctx = job_ctx(
        "open_repair_job",
        args.job,
        unprocessable_fix=(
            'repairer_site_id must come from list_businesses, and a job addressed by {"id"} must '
            'already exist: use {"external": "<your ref>"} to create one.'
        ),
    )
    job = await wire(
        ctx,
        rails.client.repairer.jobs.insert(
            identity=args.job,
            repairer_site_id=site,
            work_provider_id=args.work_provider_id,
            vehicle=args.vehicle,
            claim_number=args.claim_number,
            job_number=args.job_number,
        ),
    )
    return ToolResult(
        {"job": dump(job), "next_tool": "identify_parts"},
        f"Job {job.external_id or job.id} is open (id {job.id}).",
    )


async def get_repair_job(rails: Rails, args: GetRepairJobInput) -> ToolResult:
    job = await wire(job_ctx("get_repair_job", args.job), rails.client.repairer.jobs.get(identity=args.job))
    return ToolResult(
        {
            "job": dump(job),
            "note": "Header only: parts via list_parts, prices via recommend_basket, orders via "
            "list_procurements.",
        },
        f"Job {job.external_id or job.id}: claim {job.claim_number}, vehicle "
        f"{job.vehicle.plate_number if job.vehicle else 'unknown'}.",
    )


async def identify_parts(rails: Rails, args: IdentifyPartsInput) -> ToolResult:
    parts = [
        m.PartInsertV1(
            identity=p.identity,
            description=p.description,
            quantity=p.quantity,
            part_number=p.part_number,
        )
        for p in args.parts
    ]
    ctx = job_ctx(
        "identify_parts",
        args.job,
        unprocessable_fix=(
            "An ordered part's quantity cannot change, and a part addressed by its id must belong "
            "to this job: read list_parts and send matching values."
        ),
    )
    resp = await wire(ctx, rails.client.repairer.jobs.parts.insert(job_identity=args.job, parts=parts))
    view = parts_view(resp.items)
    return ToolResult(
        {**view, "next_tool": "recommend_basket"},
        f"{len(resp.items)} part(s) on the job: {view['counts']['estimated']} estimated, "
        f"{view['counts']['ordered']} ordered.",
    )


async def list_parts(rails: Rails, args: ListPartsInput) -> ToolResult:
    resp = await wire(
        job_ctx("list_parts", args.job),
        rails.client.repairer.jobs.parts.list(job_identity=args.job),
    )
    view = parts_view(resp.items)
    return ToolResult(
        view,
        f"{len(resp.items)} part(s): {view['counts']['estimated']} estimated, "
        f"{view['counts']['ordered']} ordered.",
    )


# --- 8–9: basket and placement --------------------------------------------------------------

CURRENCY_NOTE = (
    "trade_price is a bare decimal string: the basket carries no currency (D52). Currency first "
    "appears as currency_code on the procurement."
)


async def _basket_and_parts(
    rails: Rails, tool: str, job: m.Identity
) -> tuple[m.BasketsLatestGetResponseV1, list[m.PartV1], frozenset[UUID]]:
    ctx = job_ctx(tool, job)
    basket = await wire(ctx, rails.client.repairer.jobs.baskets.latest.get(job_identity=job))
    parts = await wire(ctx, rails.client.repairer.jobs.parts.list(job_identity=job))
    confirmable = await wire(WireContext(tool, credential="supplier"), rails.confirmable_suppliers())
    return basket, parts.items, confirmable


def selection_arguments(job: m.Identity, offers: Sequence[m.OfferV1]) -> dict[str, Any]:
    return {
        "job": job_json(job),
        "offer_selections": [{"sellable_id": str(o.sellable_id)} for o in offers],
    }


async def recommend_basket(rails: Rails, args: RecommendBasketInput) -> ToolResult:
    basket, parts, confirmable = await _basket_and_parts(rails, "recommend_basket", args.job)
    status = {p.id: p.status.value for p in parts}
    suppliers: list[dict[str, Any]] = []
    for s in basket.suppliers:
        offers = [o for o in basket.offers if o.supplier_business_id == s.business_id]
        suppliers.append(
            {
                "business_id": str(s.business_id),
                "name": s.name,
                "confirmable": s.business_id in confirmable,
                "offers": [
                    {
                        "sellable_id": str(o.sellable_id),
                        "name": o.name,
                        "job_part_ids": [str(x) for x in o.job_part_ids],
                        "part_status": [status.get(x, "unknown") for x in o.job_part_ids],
                        "quantity": o.quantity,
                        "trade_price": o.trade_price,
                        "condition": o.condition.type,
                    }
                    for o in offers
                ],
            }
        )
    ready = recommend_selection(basket, parts, confirmable)
    priced = {pid for o in basket.offers for pid in o.job_part_ids}
    uncovered = [
        str(p.id)
        for p in parts
        if p.status is m.PartStatusV1.ESTIMATED and p.id not in {x for o in ready for x in o.job_part_ids}
    ]
    total = money(sum((Decimal(o.trade_price) * o.quantity for o in ready), Decimal(0)))
    ready_keys = (
        {"ready_selection": selection_arguments(args.job, ready), "ready_selection_total": total}
        if ready
        else {}
    )
    return ToolResult(
        {
            "suppliers": suppliers,
            **ready_keys,
            "estimated_parts_not_confirmable": uncovered,
            "unpriced_parts": [str(p.id) for p in parts if p.id not in priced],
            "currency_note": CURRENCY_NOTE,
            "next_tool": "place_procurement",
        },
        f"{len(basket.offers)} offers from {len(basket.suppliers)} suppliers; "
        f"{sum(1 for s in suppliers if s['confirmable'])} confirmable. "
        + (
            f"ready_selection places {len(ready)} offer(s) for {total}."
            if ready
            else "No estimated part can be ordered from a confirmable supplier."
        ),
    )


EXTENSION_KEYS = {"notice": m.EXTENSION_BANNER}


async def place_procurement(rails: Rails, args: PlaceProcurementInput) -> ToolResult:
    basket, parts, confirmable = await _basket_and_parts(rails, "place_procurement", args.job)
    requests = [
        SelectionRequest(
            sellable_id=s.sellable_id,
            supplier_business_id=s.supplier_business_id,
            job_part_ids=tuple(s.job_part_ids) if s.job_part_ids is not None else None,
            quantity=s.quantity,
        )
        for s in args.offer_selections
    ]
    try:
        plan = plan_placement(basket=basket, parts=parts, selections=requests, confirmable=confirmable)
    except GuardRefusal as refusal:
        example = selection_arguments(args.job, refusal.alternatives) if refusal.alternatives else None
        raise ToolFailure(refusal_error(refusal, example)) from None
    supplier_name = next(
        (s.name for s in basket.suppliers if s.business_id == plan.supplier_business_id), None
    )
    placement = {
        "supplier": {"id": str(plan.supplier_business_id), "name": supplier_name},
        "offer_selections": [s.model_dump(mode="json") for s in plan.selections],
        "total": money(plan.total),
        "parts": [str(p) for p in plan.part_ids],
    }
    if args.dry_run:
        return ToolResult(
            {
                **EXTENSION_KEYS,
                "dry_run": True,
                "would_place": placement,
                "next_tool": "place_procurement",
            },
            f"Dry run: would place {len(plan.offers)} offer(s) with {supplier_name} for "
            f"{money(plan.total)}; nothing was placed.",
        )
    try:
        resp = await rails.client.repairer.procurements.insert(
            job_identity=args.job, offer_selections=plan.selections
        )
        procurement = resp.procurement
        landed_note = None
    except Unprocessable as exc:
        raise ToolFailure(await _explain_refused_placement(rails, args.job, plan.part_ids, exc)) from None
    except (RailsTransportError, MalformedResponse, ServerError) as exc:  # a 5xx may follow a landing
        procurement = await _find_lost_placement(rails, args.job, plan.part_ids, exc)
        landed_note = "The answer to the placement was lost; list_procurements shows it landed."
    except RailsError as exc:
        raise ToolFailure(wire_error(exc, job_ctx("place_procurement", args.job))) from None
    data: dict[str, Any] = {
        **EXTENSION_KEYS,
        "procurement": procurement_view(procurement),
        "parts_ordered": placement["parts"],
        "next_tool": "confirm_procurement",
    }
    if landed_note:
        data["recovered"] = landed_note
    return ToolResult(
        data,
        f"Placed {procurement.reference} ({procurement.id}) with {supplier_name}: "
        f"{procurement.status.value}, {total_of(procurement.source_items)} {procurement.currency_code}.",
    )


async def _explain_refused_placement(
    rails: Rails, job: m.Identity, part_ids: Sequence[UUID], exc: RailsError
) -> ToolErrorInfo:
    """The wire refused after the guard passed: most often another placement won the race."""
    info = wire_error(exc, job_ctx("place_procurement", job))
    try:
        parts = (await rails.client.repairer.jobs.parts.list(job_identity=job)).items
    except RailsError:
        return info
    taken = [str(p.id) for p in parts if p.id in set(part_ids) and p.status is m.PartStatusV1.ORDERED]
    if not taken:
        return info
    return info.model_copy(
        update={
            "code": "part_already_ordered",
            "message": f"Part(s) {', '.join(taken)} were ordered by another placement meanwhile; "
            "nothing was placed by this call.",
            "fix": "Read list_procurements for the order that holds them; re-run recommend_basket "
            "before placing anything else.",
            "next_tool": "list_procurements",
        }
    )


async def _find_lost_placement(
    rails: Rails, job: m.Identity, part_ids: Sequence[UUID], exc: RailsError
) -> m.BuyerProcurementV1:
    """After a lost answer, look for the order instead of placing it a second time."""
    wanted = set(part_ids)
    try:
        listed = await rails.client.repairer.procurements.list(job_identity=job)
    except RailsError:
        raise ToolFailure(
            ToolErrorInfo(
                code="placement_outcome_unknown",
                message="The placement's answer was lost and the check for it failed too, so "
                "it is unknown whether the order landed.",
                fix="Call list_procurements for this job before placing again; never place twice.",
                retryable=False,
                wire_method="repairer.procurements.insert",
                next_tool="list_procurements",
            )
        ) from None
    for p in listed.items:
        if wanted <= {pid for i in p.source_items for pid in i.job_part_ids}:
            return p
    raise ToolFailure(
        ToolErrorInfo(
            code="placement_not_landed",
            message=f"The placement's answer was lost ({type(exc).__name__}); list_procurements "
            "shows no order for these parts, so nothing was placed.",
            fix="Call place_procurement again with the same arguments.",
            retryable=True,
            wire_method="repairer.procurements.insert",
        )
    )


# --- 10–13: procurements and invoices -------------------------------------------------------


async def list_procurements(rails: Rails, args: ListProcurementsInput) -> ToolResult:
    resp = await wire(
        job_ctx("list_procurements", args.job),
        rails.client.repairer.procurements.list(job_identity=args.job),
    )
    views = [procurement_view(p) for p in resp.items]
    return ToolResult(
        {"procurements": views},
        f"{len(views)} procurement(s): "
        + (", ".join(f"{v['reference']} {v['status']}" for v in views) or "none"),
    )


async def track_procurement(rails: Rails, args: TrackProcurementInput) -> ToolResult:
    ctx = procurement_ctx("track_procurement", args.procurement_id)
    ident = m.IdIdentity(id=args.procurement_id)
    if args.view == "supplier":
        ctx = procurement_ctx(
            "track_procurement",
            args.procurement_id,
            not_found_fix="The supplier view shows only orders placed with the configured supplier; "
            'use view "repairer" for the buyer\'s view.',
        )
        p: m.BuyerProcurementV1 | m.SupplierProcurementV1 = await wire(
            ctx, rails.client.supplier.procurements.get(identity=ident)
        )
    else:
        p = await wire(ctx, rails.client.repairer.procurements.get(identity=ident))
    nxt = "confirm_procurement" if p.status is m.ProcurementStatus.ORDER_REQUESTED else "reconcile_invoice"
    return ToolResult(
        {"view": args.view, "procurement": procurement_view(p), "next_tool": nxt},
        f"{p.reference} is {p.status.value} ({total_of(p.source_items)} {p.currency_code}).",
    )


async def confirm_procurement(rails: Rails, args: ConfirmProcurementInput) -> ToolResult:
    ident = m.IdIdentity(id=args.procurement_id)
    ctx = procurement_ctx("confirm_procurement", args.procurement_id)
    before = await wire(ctx, rails.client.repairer.procurements.get(identity=ident))
    confirmable = await wire(
        WireContext("confirm_procurement", credential="supplier"), rails.confirmable_suppliers()
    )
    try:
        check_confirmable(before, confirmable)
    except GuardRefusal as refusal:
        raise ToolFailure(refusal_error(refusal, None)) from None
    already = before.status is m.ProcurementStatus.ORDER_CONFIRMED
    recovered = None
    try:
        await rails.client.supplier.procurements.confirm(identity=ident)
    except (RailsTransportError, MalformedResponse, ServerError):
        recovered = "The confirmation's answer was lost; the re-fetched order shows the outcome."
    except RailsError as exc:
        raise ToolFailure(wire_error(exc, ctx)) from None
    after = await wire(ctx, rails.client.repairer.procurements.get(identity=ident))
    if after.status is not m.ProcurementStatus.ORDER_CONFIRMED:
        raise ToolFailure(
            ToolErrorInfo(
                code="confirmation_not_landed",
                message=f"{after.reference} is still {after.status.value} after the confirmation "
                "attempt (its answer was lost).",
                fix="Call confirm_procurement again; confirming is safe to repeat.",
                retryable=True,
                wire_method="supplier.procurements.confirm",
            )
        )
    parts = await wire(ctx, rails.client.repairer.jobs.parts.list(job_identity=m.IdIdentity(id=after.job_id)))
    mine = {pid for i in after.source_items for pid in i.job_part_ids}
    data: dict[str, Any] = {
        "procurement": procurement_view(after),
        "was_already_confirmed": already,
        "parts": [dump(p) for p in parts.items if p.id in mine],
        "next_tool": "reconcile_invoice",
    }
    if recovered:
        data["recovered"] = recovered
    return ToolResult(
        data,
        f"{after.reference} is {after.status.value}"
        + (" (it already was; nothing changed)" if already else "")
        + f"; {len(data['parts'])} part(s) ordered. Next: reconcile_invoice.",
    )


def invoice_view(inv: m.InvoiceV1) -> dict[str, Any]:
    view = dump(inv)
    view["all_lines_matched"] = all(
        li.reconciliation is m.LineReconciliation.MATCHED for li in inv.line_items
    )
    return view


async def reconcile_invoice(rails: Rails, args: ReconcileInvoiceInput) -> ToolResult:
    selectors = (args.procurement_id is not None) + (args.job is not None)
    if (args.invoice_id is None and selectors != 1) or (args.invoice_id is not None and selectors):
        raise ToolFailure(
            ToolErrorInfo(
                code="invalid_arguments",
                message="Give exactly one of procurement_id and job, or invoice_id alone "
                f"(got {selectors + (args.invoice_id is not None)} selectors).",
                fix="Send only procurement_id (one order's invoices), only job (all its orders'), "
                "or only invoice_id.",
                retryable=False,
                field="procurement_id" if selectors else None,
                valid_values=["procurement_id", "job", "invoice_id"],
            )
        )
    client = rails.client.repairer.procurements
    if args.invoice_id is not None:
        ctx = WireContext(
            "reconcile_invoice",
            not_found=f"No invoice {args.invoice_id} is visible to this repairer.",
            not_found_fix="Use an invoice id returned by reconcile_invoice for a procurement or job.",
        )
        got = await wire(ctx, client.invoices.get(identity=m.IdIdentity(id=args.invoice_id)))
        invoices = [got.invoice]
    elif args.procurement_id is not None:
        ctx = procurement_ctx("reconcile_invoice", args.procurement_id)
        listed = await wire(
            ctx, client.invoices.list(procurement_identity=m.IdIdentity(id=args.procurement_id))
        )
        invoices = listed.items
    else:
        assert args.job is not None
        listed = await wire(
            job_ctx("reconcile_invoice", args.job), client.invoices.list(job_identity=args.job)
        )
        invoices = listed.items
    if not invoices:
        return ToolResult(
            {
                **EXTENSION_KEYS,
                "status": "nothing_to_reconcile",
                "invoices": [],
                "reason": "Invoices appear only after the supplier confirms (order_confirmed).",
                "next_tool": "confirm_procurement",
            },
            "Nothing to reconcile yet: invoices appear after confirm_procurement.",
        )
    views = [invoice_view(i) for i in invoices]
    reconciled = all(v["status"] == "reconciled" and v["all_lines_matched"] for v in views)
    totals = ", ".join(f"{v['total']} {v['currency_code']}" for v in views)
    return ToolResult(
        {
            **EXTENSION_KEYS,
            "status": "reconciled" if reconciled else "needs_attention",
            "invoices": views,
        },
        f"{len(views)} invoice(s), "
        f"{'all reconciled, every line matched' if reconciled else 'not all matched'}: {totals}.",
    )


# --- the registry, in SPEC order ------------------------------------------------------------


def _ann(title: str, *, read_only: bool, idempotent: bool, destructive: bool = False) -> ToolAnnotations:
    return ToolAnnotations(
        title=title,
        read_only_hint=read_only,
        destructive_hint=False if read_only else destructive,
        idempotent_hint=idempotent,
        open_world_hint=True,
    )


JOB_HELP = 'job is {"external": "<your ref>"} or {"id": "<uuid>"} (key "external", not "external_id").'

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "prepare_vehicle",
        "Prepare vehicle",
        "Warm the parts catalogue for 1–1000 vehicles before opening jobs: each identifier is "
        '{"vin": "<17 chars>"} or {"vrm": "<plate>"}. Changes no job; returns the invalid '
        "identifiers with the reason.",
        PrepareVehicleInput,
        {"submitted": "integer", "queued": "integer", "invalid_identifiers": "array"},
        _ann("Prepare vehicle", read_only=False, idempotent=True),
        prepare_vehicle,
    ),
    ToolSpec(
        "list_businesses",
        "List businesses",
        "List the repairer's businesses (sites). Use an id as repairer_site_id in open_repair_job.",
        ListBusinessesInput,
        {"businesses": "array"},
        _ann("List businesses", read_only=True, idempotent=True),
        list_businesses,
    ),
    ToolSpec(
        "list_work_providers",
        "List work providers",
        "List the insurers (work providers) a job can be billed to. Use an id as work_provider_id "
        "in open_repair_job; omit it for cash jobs.",
        ListWorkProvidersInput,
        {"work_providers": "array"},
        _ann("List work providers", read_only=True, idempotent=True),
        list_work_providers,
    ),
    ToolSpec(
        "open_repair_job",
        "Open repair job",
        "Create or update a repair job (upsert keyed by job). "
        + JOB_HELP
        + " Fields you omit stay unchanged; repairer_site_id defaults to the only site. "
        "Next: identify_parts.",
        OpenRepairJobInput,
        {"job": "object"},
        _ann("Open repair job", read_only=False, idempotent=True),
        open_repair_job,
    ),
    ToolSpec(
        "get_repair_job",
        "Get repair job",
        "Read a job's header (vehicle, site, insurer, claim). " + JOB_HELP + " Parts, prices and "
        "orders are separate: list_parts, recommend_basket, list_procurements.",
        GetRepairJobInput,
        {"job": "object", "note": "string"},
        _ann("Get repair job", read_only=True, idempotent=True),
        get_repair_job,
    ),
    ToolSpec(
        "identify_parts",
        "Identify parts",
        "Add or update parts on a job (upsert: a part is keyed by its identity, else its "
        "description; nothing is deleted, ordered parts stay ordered). Returns all the job's parts "
        "with status estimated|ordered. " + JOB_HELP,
        IdentifyPartsInput,
        {"parts": "array", "counts": "object"},
        _ann("Identify parts", read_only=False, idempotent=True),
        identify_parts,
    ),
    ToolSpec(
        "list_parts",
        "List parts",
        "List a job's parts and their status (estimated = not yet ordered, ordered = on a "
        "procurement). " + JOB_HELP,
        ListPartsInput,
        {"parts": "array", "counts": "object"},
        _ann("List parts", read_only=True, idempotent=True),
        list_parts,
    ),
    ToolSpec(
        "recommend_basket",
        "Recommend basket",
        "Read the job's latest priced basket, grouped by supplier. Only a supplier marked "
        "confirmable can confirm an order placed here; ready_selection is a complete argument "
        "object for place_procurement using such a supplier. Prices carry no currency. " + JOB_HELP,
        RecommendBasketInput,
        {
            "suppliers": "array",
            "ready_selection": "object",
            "ready_selection_total": "string",
            "estimated_parts_not_confirmable": "array",
            "unpriced_parts": "array",
        },
        _ann("Recommend basket", read_only=True, idempotent=True),
        recommend_basket,
    ),
    ToolSpec(
        "place_procurement",
        "Place procurement",
        "(Proposed extension beyond 2026-01.) Order basket offers: creates a procurement in "
        "order_requested and marks its parts ordered. All offers must come from ONE confirmable "
        "supplier and cover parts not yet ordered, otherwise it is refused before anything is "
        "written and the error names the offers that would work. Give sellable_id per offer (other "
        "fields are filled from the basket). dry_run: check and total only. Not idempotent: a "
        "second call orders again. Next: confirm_procurement. " + JOB_HELP,
        PlaceProcurementInput,
        {
            "notice": "string",
            "procurement": "object",
            "parts_ordered": "array",
            "would_place": "object",
            "dry_run": "boolean",
        },
        _ann("Place procurement", read_only=False, idempotent=False),
        place_procurement,
        extension=True,
    ),
    ToolSpec(
        "list_procurements",
        "List procurements",
        "List a job's procurements (orders) with status order_requested|order_confirmed|cancelled, "
        "supplier, lines and total. " + JOB_HELP,
        ListProcurementsInput,
        {"procurements": "array"},
        _ann("List procurements", read_only=True, idempotent=True),
        list_procurements,
    ),
    ToolSpec(
        "track_procurement",
        "Track procurement",
        "Re-read one procurement by id. view repairer (default) is the buyer's view; view supplier "
        "is what the confirming supplier sees.",
        TrackProcurementInput,
        {"view": "string", "procurement": "object"},
        _ann("Track procurement", read_only=True, idempotent=True),
        track_procurement,
    ),
    ToolSpec(
        "confirm_procurement",
        "Confirm procurement",
        "As the supplier, confirm an order_requested procurement: it becomes order_confirmed and "
        "an invoice is created. Safe to repeat (a confirmed order is returned unchanged). Returns "
        "the re-fetched buyer view and its ordered parts. Next: reconcile_invoice.",
        ConfirmProcurementInput,
        {"procurement": "object", "was_already_confirmed": "boolean", "parts": "array"},
        _ann("Confirm procurement", read_only=False, idempotent=True),
        confirm_procurement,
    ),
    ToolSpec(
        "reconcile_invoice",
        "Reconcile invoice",
        "(Proposed extension beyond 2026-01.) Read the invoices of a confirmed order and whether "
        "every line matched. Give exactly one of procurement_id or job, or invoice_id alone. Before "
        "confirmation it reports nothing_to_reconcile (not an error).",
        ReconcileInvoiceInput,
        {"notice": "string", "status": "string", "invoices": "array"},
        _ann("Reconcile invoice", read_only=True, idempotent=True),
        reconcile_invoice,
        extension=True,
    ),
)
