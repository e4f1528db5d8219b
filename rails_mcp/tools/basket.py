"""The priced basket, grouped by supplier, with a selection that can be placed as is."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import Field

from rails_mcp.errors import WireContext
from rails_mcp.guard import money, recommend_selection
from rails_mcp.wire import models as m

from .base import Reply, Shape, ToolContext, ToolOutput, hints
from .declare import declare
from .jobs import JOB_HELP, JobInput
from .views import IdentityView, identity_view, job_ctx, wire

__all__ = ["RECOMMEND_BASKET", "SelectionArguments", "basket_and_parts", "selection_arguments"]

CURRENCY_NOTE = (
    "trade_price is a bare decimal string: the basket carries no currency (D52). Currency first "
    "appears as currency_code on the procurement."
)


class OfferView(Shape):
    sellable_id: str
    name: str
    job_part_ids: list[str]
    part_status: list[str]
    quantity: int
    trade_price: str
    condition: str


class SupplierOffers(Shape):
    business_id: str
    name: str
    confirmable: bool = Field(description="Only a confirmable supplier can confirm an order placed with it.")
    offers: list[OfferView]


class SelectionItem(Shape):
    sellable_id: str


class SelectionArguments(Shape):
    """A complete place_procurement argument object."""

    job: IdentityView
    offer_selections: list[SelectionItem]


RecommendBasketInput = JobInput


class RecommendBasketOutput(ToolOutput):
    suppliers: list[SupplierOffers] | None = None
    ready_selection: SelectionArguments | None = Field(
        default=None, description="Pass as is to place_procurement."
    )
    ready_selection_total: str | None = None
    estimated_parts_not_confirmable: list[str] | None = Field(
        default=None,
        description="Estimated part ids no confirmable supplier offers: they cannot be ordered here.",
    )
    unpriced_parts: list[str] | None = None
    currency_note: str | None = None
    next_tool: Literal["place_procurement"] | None = None


async def basket_and_parts(
    ctx: ToolContext, tool: str, job: m.Identity
) -> tuple[m.BasketsLatestGetResponseV1, list[m.PartV1], frozenset[UUID]]:
    """The latest basket, the job's parts and the confirmable suppliers: what the guard needs."""
    client = ctx.rails.client
    wctx = job_ctx(tool, job)
    basket = await wire(wctx, client.repairer.jobs.baskets.latest.get(job_identity=job))
    parts = await wire(wctx, client.repairer.jobs.parts.list(job_identity=job))
    confirmable = await wire(WireContext(tool, credential="supplier"), ctx.rails.confirmable_suppliers())
    return basket, parts.items, confirmable


def selection_arguments(job: m.Identity, offers: Sequence[m.OfferV1]) -> SelectionArguments:
    return SelectionArguments(
        job=identity_view(job),
        offer_selections=[SelectionItem(sellable_id=str(o.sellable_id)) for o in offers],
    )


async def recommend_basket(ctx: ToolContext, args: RecommendBasketInput) -> Reply[RecommendBasketOutput]:
    basket, parts, confirmable = await basket_and_parts(ctx, "recommend_basket", args.job)
    status = {p.id: p.status.value for p in parts}
    suppliers = [
        SupplierOffers(
            business_id=str(s.business_id),
            name=s.name,
            confirmable=s.business_id in confirmable,
            offers=[
                OfferView(
                    sellable_id=str(o.sellable_id),
                    name=o.name,
                    job_part_ids=[str(x) for x in o.job_part_ids],
                    part_status=[status.get(x, "unknown") for x in o.job_part_ids],
                    quantity=o.quantity,
                    trade_price=o.trade_price,
                    condition=o.condition.type,
                )
                for o in basket.offers
                if o.supplier_business_id == s.business_id
            ],
        )
        for s in basket.suppliers
    ]
    ready = recommend_selection(basket, parts, confirmable)
    covered = {x for o in ready for x in o.job_part_ids}
    priced = {pid for o in basket.offers for pid in o.job_part_ids}
    uncovered = [p for p in parts if p.status is m.PartStatusV1.ESTIMATED and p.id not in covered]
    total = money(sum((Decimal(o.trade_price) * o.quantity for o in ready), Decimal(0)))
    output = RecommendBasketOutput(
        suppliers=suppliers,
        estimated_parts_not_confirmable=[str(p.id) for p in uncovered],
        unpriced_parts=[str(p.id) for p in parts if p.id not in priced],
        currency_note=CURRENCY_NOTE,
        next_tool="place_procurement",
    )
    if ready:
        output.ready_selection = selection_arguments(args.job, ready)
        output.ready_selection_total = total
    stranded = (
        f" No confirmable offer for: {', '.join(p.description for p in uncovered)}." if uncovered else ""
    )
    return Reply(
        output,
        f"{len(basket.offers)} offers from {len(basket.suppliers)} suppliers; "
        f"{sum(1 for s in suppliers if s.confirmable)} confirmable. "
        + (
            f"ready_selection places {len(ready)} offer(s) for {total}."
            if ready
            else "No estimated part can be ordered from a confirmable supplier."
        )
        + stranded,
    )


RECOMMEND_BASKET = declare(
    recommend_basket,
    hints(read_only=True, idempotent=True),
    "Read the job's latest priced basket, grouped by supplier. Only a supplier marked "
    "confirmable can confirm an order placed here; ready_selection is a complete argument "
    "object for place_procurement using such a supplier. " + JOB_HELP,
)
