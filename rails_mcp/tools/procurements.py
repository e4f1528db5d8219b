"""Procurements (orders): place one (guarded, extension) and confirm it (reading them: orders)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StrictBool

from rails_mcp.controls import check_spending_limit
from rails_mcp.errors import Repairs, ToolError, ToolFailure, WireContext, refusal_error, wire_error
from rails_mcp.guard import GuardRefusal, PlacementPlan, SelectionRequest, check_confirmable, plan_placement
from rails_mcp.present import (
    ApprovalStatus,
    BuyerProcurementView,
    OrderForApproval,
    PartView,
    ProcurementView,
    identity_view,
    money,
    order_line,
    part_view,
    procurement_view,
)
from rails_mcp.wire import models as m
from rails_mcp.wire.errors import (
    MalformedResponse,
    RailsError,
    RailsTransportError,
    ServerError,
    Unprocessable,
)
from rails_mcp.wire.untrusted import quote, word

from .base import (
    JOB_ALIASES,
    JobRef,
    Reply,
    Shape,
    ToolContext,
    ToolInput,
    ToolOutput,
    hints,
)
from .basket import SELECTION_LIMIT, basket_and_parts, corrected_selections, selection_arguments
from .declare import declare
from .lookup import Candidate, Fix, procurement_correction
from .parts import Quantity
from .views import job_ctx, procurement_ctx, wire

__all__ = ["CONFIRM_PROCUREMENT", "PLACE_PROCUREMENT", "PROCUREMENT_ALIASES", "ProcurementId", "order_name"]

PROCUREMENT_ALIASES = {
    "procurement": "procurement_id",
    "procurement_identity": "procurement_id",
    "procurementId": "procurement_id",
    "id": "procurement_id",
    "pr_id": "procurement_id",
    "order_id": "procurement_id",
    "procurement_ref": "procurement_id",
}
PROCUREMENT_REPAIRS = Repairs(aliases=PROCUREMENT_ALIASES, ids=frozenset({"procurement_id"}))
ProcurementId = Annotated[UUID, Field(description="From list_procurements.")]


# --- place_procurement ----------------------------------------------------------------------------


class OfferSelectionInput(ToolInput):
    repairs = Repairs(
        aliases={
            "offer_id": "sellable_id",
            "sellable": "sellable_id",
            "id": "sellable_id",
            "offer": "sellable_id",
            "offer_sellable_id": "sellable_id",
            "supplier_id": "supplier_business_id",
            "supplier": "supplier_business_id",
            "supplier_business": "supplier_business_id",
            "business_id": "supplier_business_id",
            "part_ids": "job_part_ids",
            "parts": "job_part_ids",
            "job_part_id": "job_part_ids",
            "part_id": "job_part_ids",
            "qty": "quantity",
            "count": "quantity",
            "amount": "quantity",
            "number": "quantity",
        }
    )

    sellable_id: Annotated[UUID, Field(description="From recommend_basket.")]
    supplier_business_id: Annotated[UUID | None, Field(description="Optional check.")] = None
    job_part_ids: Annotated[
        list[UUID] | None, Field(min_length=1, max_length=100, description="Optional check.")
    ] = None
    quantity: Annotated[Quantity | None, Field(description="Optional check.")] = None


class PlaceProcurementInput(ToolInput):
    repairs = Repairs(
        aliases={
            **JOB_ALIASES,
            "offers": "offer_selections",
            "selections": "offer_selections",
            "selected_offers": "offer_selections",
            "offerSelections": "offer_selections",
            "offer_selection": "offer_selections",
            "items": "offer_selections",
            "lines": "offer_selections",
            "dryRun": "dry_run",
            "dryrun": "dry_run",
            "dry": "dry_run",
            "preview": "dry_run",
            "simulate": "dry_run",
        },
        identities=frozenset({"job"}),
        flags=frozenset({"dry_run"}),
    )

    job: JobRef
    offer_selections: Annotated[
        list[OfferSelectionInput],
        Field(
            min_length=1,
            max_length=SELECTION_LIMIT,
            description="Basket offers; omitted fields are filled from the basket.",
        ),
    ]
    dry_run: Annotated[StrictBool, Field(description="Check and total only; place nothing.")] = False
    idempotency_key: Annotated[str | None, Field(min_length=1, max_length=255, description="Retry-safe.")] = (
        None
    )


class SupplierRef(Shape):
    id: str
    name: str | None


class PlannedSelection(Shape):
    sellable_id: str
    supplier_business_id: str
    job_part_ids: list[str]
    quantity: int


class Placement(Shape):
    supplier: SupplierRef
    offer_selections: list[PlannedSelection]
    total: str
    parts: list[str]


class PlaceProcurementOutput(ToolOutput):
    dry_run: bool | None = None
    would_place: Placement | None = None
    procurement: BuyerProcurementView | None = None
    parts_ordered: list[str] | None = None
    approval: ApprovalStatus | None = Field(
        default=None, description="The human approval outcome; declined means nothing was placed."
    )
    placed: bool | None = None
    recovered: str | None = None
    idempotent_replay: bool | None = None
    next_tool: Literal["place_procurement", "confirm_procurement", "recommend_basket"] | None = None


async def place_procurement(ctx: ToolContext, args: PlaceProcurementInput) -> Reply[PlaceProcurementOutput]:
    plan, supplier_name = await _checked_plan(ctx, args)
    placement = _placement(plan, supplier_name)
    supplier = quote(supplier_name) if supplier_name else str(plan.supplier_business_id)
    if args.dry_run:
        return Reply(
            PlaceProcurementOutput(dry_run=True, would_place=placement, next_tool="place_procurement"),
            f"Dry run: would place {len(plan.offers)} offer(s) with {supplier} for "
            f"{money(plan.total)}; nothing was placed.",
        )
    approval = await ctx.approve_order(_order_for_approval(args, plan, supplier_name))
    if approval.status == "declined":
        return Reply(
            PlaceProcurementOutput(
                placed=False,
                approval="declined",
                would_place=placement,
                next_tool="recommend_basket",
            ),
            f"Not placed: the order with {supplier} for {money(plan.total)} was declined"
            + (f" ({approval.detail})" if approval.detail else "")
            + "; nothing was written.",
        )
    procurement, landed_note = await _submit(ctx, args.job, plan)
    output = PlaceProcurementOutput(
        procurement=procurement_view(procurement),
        parts_ordered=placement.parts,
        approval=approval.status,
        placed=True,
        next_tool="confirm_procurement",
    )
    if landed_note:
        output.recovered = landed_note
    if ctx.hub is not None:  # subscribers of the order, its job and scenario://current hear of it
        await ctx.hub.notify_procurement_changed(
            procurement.id,
            action="placed",
            status=procurement.status.value,
            job_id=procurement.job_id,
            job_external=args.job.external if isinstance(args.job, m.ExternalIdentity) else None,
        )
    view = output.procurement
    assert view is not None
    return Reply(
        output,
        f"Placed {order_name(procurement)} ({procurement.id}) with {supplier}: "
        f"{word(procurement.status.value)}, {view.total} {word(procurement.currency_code)}.",
    )


async def _checked_plan(ctx: ToolContext, args: PlaceProcurementInput) -> tuple[PlacementPlan, str | None]:
    """The guard's plan for the selections and the supplier's name, or the refusal as a tool error."""
    basket, parts, confirmable = await basket_and_parts(ctx, "place_procurement", args.job)
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
        # Before anyone is asked to approve and before the wire; a dry run shows the refusal too.
        check_spending_limit(plan.total, ctx.max_order_total)
    except GuardRefusal as refusal:
        example = (
            selection_arguments(args.job, refusal.alternatives).model_dump(mode="json")
            if refusal.alternatives
            else None
        )
        raise ToolFailure(refusal_error(refusal, example)) from None
    supplier_name = next(
        (s.name for s in basket.suppliers if s.business_id == plan.supplier_business_id), None
    )
    return plan, supplier_name


def _placement(plan: PlacementPlan, supplier_name: str | None) -> Placement:
    return Placement(
        supplier=SupplierRef(id=str(plan.supplier_business_id), name=supplier_name),
        offer_selections=[
            PlannedSelection.model_validate(s.model_dump(mode="json")) for s in plan.selections
        ],
        total=money(plan.total),
        parts=[str(p) for p in plan.part_ids],
    )


def _order_for_approval(
    args: PlaceProcurementInput, plan: PlacementPlan, supplier_name: str | None
) -> OrderForApproval:
    return OrderForApproval(
        job=identity_view(args.job).model_dump(mode="json"),
        supplier_business_id=str(plan.supplier_business_id),
        supplier_name=supplier_name,
        lines=[order_line(o) for o in plan.offers],
        total=money(plan.total),
        currency=None,  # the basket carries no currency (the vendor decided so, D52)
        is_extension=True,
        arguments=args.model_dump(mode="json", exclude_none=True),
    )


async def _submit(
    ctx: ToolContext, job: m.Identity, plan: PlacementPlan
) -> tuple[m.BuyerProcurementV1, str | None]:
    """Place the order on the wire; a lost answer is looked for, never placed twice."""
    try:
        resp = await ctx.rails.client.repairer.procurements.insert(
            job_identity=job, offer_selections=plan.selections
        )
        return resp.procurement, None
    except Unprocessable as exc:
        raise ToolFailure(await _explain_refused_placement(ctx, job, plan.part_ids, exc)) from None
    except (RailsTransportError, MalformedResponse, ServerError) as exc:  # a 5xx may follow a landing
        procurement = await _find_lost_placement(ctx, job, plan.part_ids, exc)
        return procurement, "The answer to the placement was lost; list_procurements shows it landed."
    except RailsError as exc:
        raise ToolFailure(wire_error(exc, job_ctx("place_procurement", job))) from None


def order_name(procurement: m.BuyerProcurementV1 | m.SupplierProcurementV1) -> str:
    """An order as the server's sentences name it: its reference quoted as data, or its id."""
    return quote(procurement.reference) if procurement.reference else str(procurement.id)


async def _explain_refused_placement(
    ctx: ToolContext, job: m.Identity, part_ids: Sequence[UUID], exc: RailsError
) -> ToolError:
    """The wire refused after the guard passed: most often another placement won the race."""
    info = wire_error(exc, job_ctx("place_procurement", job))
    try:
        parts = (await ctx.rails.client.repairer.jobs.parts.list(job_identity=job)).items
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
    ctx: ToolContext, job: m.Identity, part_ids: Sequence[UUID], exc: RailsError
) -> m.BuyerProcurementV1:
    """After a lost answer, look for the order instead of placing it a second time."""
    wanted = set(part_ids)
    try:
        listed = await ctx.rails.client.repairer.procurements.list(job_identity=job)
    except RailsError:
        raise ToolFailure(
            ToolError(
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
        ToolError(
            code="placement_not_landed",
            message=f"The placement's answer was lost ({type(exc).__name__}); list_procurements "
            "shows no order for these parts, so nothing was placed.",
            fix="Call place_procurement again with the same arguments.",
            retryable=True,
            wire_method="repairer.procurements.insert",
        )
    )


async def _correct_placement(fix: Fix) -> list[Candidate]:
    return [(await corrected_selections(fix, await fix.with_job(fix.base)), [])]


async def _placement_accepted(ctx: ToolContext, args: PlaceProcurementInput) -> bool:
    """Placed as a dry run: every check the wire and the guard make, nothing ordered."""
    await place_procurement(ctx, args.model_copy(update={"dry_run": True}))
    return True


PLACE_PROCUREMENT = declare(
    place_procurement,
    hints(read_only=False, idempotent=False),
    "(Proposed extension beyond 2026-01.) Order basket offers: an order_requested procurement; "
    "its parts become ordered. Offers must be from ONE confirmable supplier, for parts not yet "
    "ordered, else nothing is written and the error names offers that work. A person may have to "
    "approve (result: approval; declined: nothing placed). Each call orders again. "
    "Next: confirm_procurement.",
    extension=True,
    correct=_correct_placement,
    probe=_placement_accepted,
)


# --- confirm_procurement --------------------------------------------------------------------------


class ConfirmProcurementInput(ToolInput):
    repairs = PROCUREMENT_REPAIRS

    procurement_id: ProcurementId


class ConfirmProcurementOutput(ToolOutput):
    procurement: ProcurementView | None = None
    was_already_confirmed: bool | None = None
    parts: list[PartView] | None = None
    recovered: str | None = None
    next_tool: Literal["reconcile_invoice"] | None = None


async def confirm_procurement(
    ctx: ToolContext, args: ConfirmProcurementInput
) -> Reply[ConfirmProcurementOutput]:
    client = ctx.rails.client
    ident = m.IdIdentity(id=args.procurement_id)
    wctx = procurement_ctx("confirm_procurement", args.procurement_id)
    before = await wire(wctx, client.repairer.procurements.get(identity=ident))
    confirmable = await wire(
        WireContext("confirm_procurement", credential="supplier"), ctx.rails.confirmable_suppliers()
    )
    try:
        check_confirmable(before, confirmable)
    except GuardRefusal as refusal:
        raise ToolFailure(refusal_error(refusal, None)) from None
    already = before.status is m.ProcurementStatus.ORDER_CONFIRMED
    recovered = None
    try:
        await client.supplier.procurements.confirm(identity=ident)
    except (RailsTransportError, MalformedResponse, ServerError):
        recovered = "The confirmation's answer was lost; the re-fetched order shows the outcome."
    except RailsError as exc:
        raise ToolFailure(wire_error(exc, wctx)) from None
    after = await wire(wctx, client.repairer.procurements.get(identity=ident))
    # A status the API added since is the wire's own answer to the confirmation: reported, not retried.
    if after.status is not m.ProcurementStatus.ORDER_CONFIRMED and not m.is_unknown(after.status):
        raise ToolFailure(
            ToolError(
                code="confirmation_not_landed",
                message=f"{order_name(after)} is still {word(after.status.value)} after the confirmation "
                "attempt (its answer was lost).",
                fix="Call confirm_procurement again; confirming is safe to repeat.",
                retryable=True,
                wire_method="supplier.procurements.confirm",
            )
        )
    if ctx.hub is not None and not already:  # a repeat confirm changes nothing, so tells no one
        await ctx.hub.notify_procurement_changed(
            after.id, action="confirmed", status=after.status.value, job_id=after.job_id
        )
    parts = await wire(wctx, client.repairer.jobs.parts.list(job_identity=m.IdIdentity(id=after.job_id)))
    mine = {pid for i in after.source_items for pid in i.job_part_ids}
    ordered = [part_view(p) for p in parts.items if p.id in mine]
    output = ConfirmProcurementOutput(
        procurement=procurement_view(after),
        was_already_confirmed=already,
        parts=ordered,
        next_tool="reconcile_invoice",
    )
    if recovered:
        output.recovered = recovered
    return Reply(
        output,
        f"{order_name(after)} is {word(after.status.value)}"
        + (" (it already was; nothing changed)" if already else "")
        + f"; {len(ordered)} part(s) ordered. Next: reconcile_invoice.",
    )


async def _confirmable(ctx: ToolContext, args: ConfirmProcurementInput) -> bool:
    """The order is with a supplier the configured credential can confirm for."""
    got = await ctx.rails.client.repairer.procurements.get(identity=m.IdIdentity(id=args.procurement_id))
    return got.supplier_business.id in await ctx.rails.confirmable_suppliers()


CONFIRM_PROCUREMENT = declare(
    confirm_procurement,
    hints(read_only=False, idempotent=True),
    "As the supplier, confirm an order_requested procurement: it becomes order_confirmed and "
    "an invoice is created. Safe to repeat. Next: reconcile_invoice.",
    correct=procurement_correction,
    probe=_confirmable,
)
