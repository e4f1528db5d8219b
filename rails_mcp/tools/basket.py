"""The priced basket, grouped by supplier, with a selection that can be placed as is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal
from uuid import UUID

from pydantic import Field

from rails_mcp.errors import WireContext
from rails_mcp.guard import recommend_selection
from rails_mcp.present import CURRENCY_NOTE, IdentityView, SupplierOffers, basket_reading, identity_view
from rails_mcp.wire import models as m

from .base import Reply, Shape, ToolContext, ToolOutput, hints
from .declare import declare
from .jobs import JOB_HELP, JobInput
from .views import job_ctx, wire

__all__ = ["RECOMMEND_BASKET", "SelectionArguments", "basket_and_parts", "selection_arguments"]


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
    reading = basket_reading(basket, parts, confirmable, recommend_selection(basket, parts, confirmable))
    ready, uncovered = reading.ready, reading.not_confirmable
    output = RecommendBasketOutput(
        suppliers=reading.suppliers,
        estimated_parts_not_confirmable=[str(p.id) for p in uncovered],
        unpriced_parts=[str(p.id) for p in reading.unpriced],
        currency_note=CURRENCY_NOTE,
        next_tool="place_procurement",
    )
    if ready:
        output.ready_selection = selection_arguments(args.job, ready)
        output.ready_selection_total = reading.ready_total
    stranded = (
        f" No confirmable offer for: {', '.join(p.description for p in uncovered)}." if uncovered else ""
    )
    return Reply(
        output,
        f"{len(basket.offers)} offers from {len(basket.suppliers)} suppliers; "
        f"{sum(1 for s in reading.suppliers if s.confirmable)} confirmable. "
        + (
            f"ready_selection places {len(ready)} offer(s) for {reading.ready_total}."
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
