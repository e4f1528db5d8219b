"""Reading orders: list a job's procurements (filtered, paged) and track one with its events."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from rails_mcp.errors import Repairs
from rails_mcp.paging import PAGE_ALIASES, NextCursor, PageInput, Window, cursor_key
from rails_mcp.present import BuyerProcurementView, ProcurementView, procurement_view
from rails_mcp.resources import History, ProcurementEvent
from rails_mcp.ui import ORDER_APP
from rails_mcp.wire import models as m
from rails_mcp.wire.untrusted import word

from .base import JOB_ALIASES, Reply, ToolContext, ToolInput, ToolOutput, hints
from .declare import declare
from .jobs import JobInput
from .lookup import Candidate, Fix, job_correction
from .procurements import PROCUREMENT_ALIASES, ProcurementId, order_name
from .views import job_ctx, procurement_ctx, wire

__all__ = ["LIST_PROCUREMENTS", "TRACK_PROCUREMENT"]


# --- list_procurements ----------------------------------------------------------------------------


class ListProcurementsInput(PageInput, JobInput):
    repairs = Repairs(
        aliases={
            **JOB_ALIASES,
            **PAGE_ALIASES,
            "supplier": "supplier_business_id",
            "supplier_id": "supplier_business_id",
            "supplierId": "supplier_business_id",
            "order_status": "status",
            "state": "status",
        },
        identities=frozenset({"job"}),
        ids=frozenset({"supplier_business_id"}),
    )

    status: Annotated[
        Literal["order_requested", "order_confirmed", "cancelled"] | None,
        Field(description="Only this status."),
    ] = None
    supplier_business_id: Annotated[UUID | None, Field(description="Only this supplier.")] = None


class ListProcurementsOutput(ToolOutput, NextCursor):
    procurements: list[BuyerProcurementView] | None = None


def _chosen(p: m.BuyerProcurementV1, args: ListProcurementsInput) -> bool:
    return (args.status is None or p.status.value == args.status) and (
        args.supplier_business_id is None or p.supplier_business.id == args.supplier_business_id
    )


async def list_procurements(ctx: ToolContext, args: ListProcurementsInput) -> Reply[ListProcurementsOutput]:
    window = Window.of("list_procurements", args, cursor_key(ctx.rails.client))
    resp = await wire(
        job_ctx("list_procurements", args.job),
        ctx.rails.client.repairer.procurements.list(job_identity=args.job),
    )
    chosen = [p for p in resp.items if _chosen(p, args)]
    page, next_cursor = window.cut(chosen)
    output = ListProcurementsOutput(procurements=[procurement_view(p) for p in page]).carry(next_cursor)
    shown = ", ".join(f"{order_name(p)} {word(p.status.value)}" for p in page) or "none"
    return Reply(
        output,
        f"{window.summary(len(page), len(chosen), 'procurement(s)')}: {shown}",
    )


LIST_PROCUREMENTS = declare(
    list_procurements,
    hints(read_only=True, idempotent=True),
    "List a job's procurements (orders): status, supplier, lines and total.",
    correct=job_correction,
)


# --- track_procurement ----------------------------------------------------------------------------


class TrackProcurementInput(PageInput, ToolInput):
    repairs = Repairs(
        aliases={**PROCUREMENT_ALIASES, **PAGE_ALIASES, "perspective": "view", "as": "view"},
        ids=frozenset({"procurement_id"}),
        literals={
            "buyer": "repairer",
            "purchaser": "repairer",
            "repairer_view": "repairer",
            "seller": "supplier",
            "vendor": "supplier",
            "supplier_view": "supplier",
        },
    )

    procurement_id: ProcurementId
    view: Annotated[
        Literal["repairer", "supplier"],
        Field(description="The buyer's (repairer) or the supplier's."),
    ] = "repairer"


class TrackProcurementOutput(ToolOutput, NextCursor):
    view: Literal["repairer", "supplier"] | None = None
    procurement: ProcurementView | None = None
    events: list[ProcurementEvent] | None = Field(
        default=None,
        description="What this server learned about the order, oldest first (one page of them): its own "
        "writes (placed, confirmed) and webhook deliveries, each with when and whether it verified.",
    )
    events_truncated: int | None = Field(
        default=None,
        description="How many older events were dropped to keep the history bounded (50 events, 32 KiB "
        "per order); absent when nothing was dropped.",
    )
    next_tool: Literal["confirm_procurement", "reconcile_invoice"] | None = None


async def track_procurement(ctx: ToolContext, args: TrackProcurementInput) -> Reply[TrackProcurementOutput]:
    window = Window.of("track_procurement", args, cursor_key(ctx.rails.client))
    ident = m.IdIdentity(id=args.procurement_id)
    client = ctx.rails.client
    if args.view == "supplier":
        wctx = procurement_ctx(
            "track_procurement",
            args.procurement_id,
            not_found_fix="The supplier view shows only orders placed with the configured supplier; "
            'use view "repairer" for the buyer\'s view.',
        )
        p: m.BuyerProcurementV1 | m.SupplierProcurementV1 = await wire(
            wctx, client.supplier.procurements.get(identity=ident)
        )
    else:
        p = await wire(
            procurement_ctx("track_procurement", args.procurement_id),
            client.repairer.procurements.get(identity=ident),
        )
    nxt = "confirm_procurement" if p.status is m.ProcurementStatus.ORDER_REQUESTED else "reconcile_invoice"
    view = procurement_view(p)
    history = await ctx.hub.history(p.id) if ctx.hub is not None else History()
    events, next_cursor = window.cut(history.events)
    output = TrackProcurementOutput(view=args.view, procurement=view, events=events).carry(next_cursor)
    if history.truncated:  # set only when it applies: unset fields are left out of the result
        output.events_truncated = history.truncated
    if not m.is_unknown(p.status):  # a status the API added since is reported, no next step guessed
        output.next_tool = nxt
    return Reply(
        output,
        f"{order_name(p)} is {word(p.status.value)} ({view.total} {word(p.currency_code)}); "
        f"{window.summary(len(events), len(history.events), 'event(s)')}.",
    )


async def _correct_tracking(fix: Fix) -> list[Candidate]:
    """The procurement looked up; an order the supplier cannot see is offered in the buyer's view."""
    cand = await fix.with_procurement(fix.base)
    out: list[Candidate] = [(cand, [])]
    if cand.get("view") == "supplier":
        buyer = "The configured supplier cannot see this order (it is with another supplier); the buyer's "
        out.append(({**cand, "view": "repairer"}, [buyer + 'view, view "repairer", shows it.']))
    return out


TRACK_PROCUREMENT = declare(
    track_procurement,
    hints(read_only=True, idempotent=True),
    "Re-read one procurement, with the events this server saw for it (placed, confirmed, webhooks).",
    correct=_correct_tracking,
    ui=ORDER_APP,
)
