"""The priced basket, grouped by supplier, with a selection that can be placed as is."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal, cast
from uuid import UUID

from pydantic import Field

from rails_mcp.errors import Repairs, ToolFailure, WireContext
from rails_mcp.guard import confirmable_offers_for_parts, recommend_selection
from rails_mcp.paging import PAGE_ALIASES, NextCursor, PageInput, Window, cursor_key
from rails_mcp.present import (
    CURRENCY_NOTE,
    BasketReading,
    IdentityView,
    OfferView,
    SupplierOffers,
    basket_reading,
    identity_view,
    money,
    order_total,
)
from rails_mcp.ui import BASKET_APP
from rails_mcp.wire import models as m
from rails_mcp.wire.untrusted import quote

from .base import JOB_ALIASES, Reply, Shape, ToolContext, ToolOutput, hints
from .declare import declare
from .jobs import JobInput
from .lookup import Fix, by_name, job_correction, list_and_job, uuid_of
from .views import job_ctx, wire

__all__ = [
    "RECOMMEND_BASKET",
    "SELECTION_LIMIT",
    "SelectionArguments",
    "basket_and_parts",
    "corrected_selections",
    "selection_arguments",
]


class SelectionItem(Shape):
    sellable_id: str


class SelectionArguments(Shape):
    """A complete place_procurement argument object."""

    job: IdentityView
    offer_selections: list[SelectionItem]


class RecommendBasketInput(PageInput, JobInput):
    repairs = Repairs(
        aliases={
            **JOB_ALIASES,
            **PAGE_ALIASES,
            "supplier_id": "supplier_business_id",
            "supplier": "supplier_business_id",
            "business_id": "supplier_business_id",
        },
        identities=frozenset({"job"}),
        ids=frozenset({"supplier_business_id"}),
        flags=frozenset({"confirmable_only", "include_ordered"}),
    )

    supplier_business_id: Annotated[UUID | None, Field(description="One supplier.")] = None
    confirmable_only: Annotated[
        bool | None, Field(description="Default true; false adds the suppliers that cannot confirm.")
    ] = None
    include_ordered: Annotated[bool | None, Field(description="With ordered parts.")] = None


class RecommendBasketOutput(ToolOutput, NextCursor):
    paged_items = "suppliers[].offers"

    suppliers: list[SupplierOffers] | None = Field(
        default=None, description="One page of offers, by supplier (a supplier continues on the next page)."
    )
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
    reason: str | None = Field(default=None, description="Why nothing can be placed, when so.")
    next_tool: Literal["place_procurement", "identify_parts"] | None = None


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
    window = Window.of("recommend_basket", args, cursor_key(ctx.rails.client))
    basket, parts, confirmable = await basket_and_parts(ctx, "recommend_basket", args.job)
    reading = basket_reading(basket, parts, confirmable, recommend_selection(basket, parts, confirmable))
    ready, uncovered = reading.ready, reading.not_confirmable
    shown = _shown(reading.suppliers, args)
    offers = [(s, o) for s in shown for o in s.offers]
    page, next_cursor = window.cut(offers)
    output = RecommendBasketOutput(
        suppliers=_by_supplier(page),
        estimated_parts_not_confirmable=[str(p.id) for p in uncovered],
        unpriced_parts=[str(p.id) for p in reading.unpriced],
        currency_note=CURRENCY_NOTE,
    ).carry(next_cursor)
    placeable = ready[:SELECTION_LIMIT]
    if ready:
        output.ready_selection = selection_arguments(args.job, placeable)
        output.ready_selection_total = money(order_total(placeable))
        output.next_tool = "place_procurement"
    else:
        output.reason, next_tool = _nothing_to_place(parts, reading)
        if next_tool is not None:  # no tool here can help: the reason says what can
            output.next_tool = next_tool
    stranded = f" No confirmable offer for: {_named(uncovered)}." if uncovered else ""
    if args.confirmable_only is None and len(shown) < len(basket.suppliers):
        stranded += " confirmable_only=false shows the other suppliers' offers."
    return Reply(
        output,
        f"{len(shown)} of {len(basket.suppliers)} supplier(s) shown, "
        f"{sum(1 for s in reading.suppliers if s.confirmable)} confirmable; "
        f"{window.summary(len(page), len(offers), 'offer(s)')}. "
        + (
            f"ready_selection places {_placed(placeable, ready)} for {output.ready_selection_total}."
            if ready
            else f"Nothing can be placed: {output.reason}"
        )
        + stranded,
    )


def _shown(suppliers: Sequence[SupplierOffers], args: RecommendBasketInput) -> list[SupplierOffers]:
    """The suppliers the filters keep, each with the offers still worth reading (an offer for a
    part already ordered cannot be placed again: left out unless asked)."""
    shown: list[SupplierOffers] = []
    for s in suppliers:
        if args.supplier_business_id is not None and s.business_id != str(args.supplier_business_id):
            continue
        if args.confirmable_only is not False and not s.confirmable:
            continue  # an order with them could never be confirmed: shown only when asked
        offers = [o for o in s.offers if args.include_ordered or m.PartStatusV1.ORDERED not in o.part_status]
        if offers:
            shown.append(s.model_copy(update={"offers": offers}))
    return shown


#: The most offers one place_procurement call takes (its offer_selections limit).
SELECTION_LIMIT = 100


def _placed(placeable: Sequence[m.OfferV1], ready: Sequence[m.OfferV1]) -> str:
    if len(placeable) == len(ready):
        return f"{len(ready)} offer(s)"
    return (
        f"the first {len(placeable)} of {len(ready)} ready offers (one place_procurement call takes "
        f"{SELECTION_LIMIT}; after placing them, recommend_basket offers the rest)"
    )


def _by_supplier(page: Sequence[tuple[SupplierOffers, OfferView]]) -> list[SupplierOffers]:
    """A page of offers grouped again under their suppliers, in the order they came."""
    blocks: list[SupplierOffers] = []
    for supplier, offer in page:
        if not blocks or blocks[-1].business_id != supplier.business_id:
            blocks.append(supplier.model_copy(update={"offers": []}))
        blocks[-1].offers.append(offer)
    return blocks


def _nothing_to_place(
    parts: Sequence[m.PartV1], reading: BasketReading
) -> tuple[str, Literal["identify_parts"] | None]:
    """Why no selection is ready, and the step that can change that (None: no tool here can)."""
    estimated = [p for p in parts if p.status is m.PartStatusV1.ESTIMATED]
    if not parts:
        return "The job has no parts yet: identify them first.", "identify_parts"
    if not estimated:
        return "Every part is already ordered: follow the orders with list_procurements.", None
    unpriced = [p for p in estimated if p in reading.unpriced]
    if unpriced:
        return (
            f"No supplier prices {len(unpriced)} estimated part(s): describe them more exactly "
            "(side, part number) with identify_parts so the basket can price them.",
            "identify_parts",
        )
    return (
        "Only suppliers that cannot confirm offer the estimated parts: an order placed with them "
        "would never be confirmed. Ask the person how to source them.",
        None,
    )


#: Parts a summary names before it only counts the rest.
_NAMED_PARTS = 5


def _named(parts: Sequence[m.PartV1]) -> str:
    """Parts as a summary names them: descriptions quoted as data, a few, then how many more."""
    named = ", ".join(quote(p.description, 60) for p in parts[:_NAMED_PARTS])
    more = len(parts) - _NAMED_PARTS
    return f"{named} and {more} more" if more > 0 else named


RECOMMEND_BASKET = declare(
    recommend_basket,
    hints(read_only=True, idempotent=True),
    "Read the job's priced basket, offers by supplier (paged). Only a confirmable supplier can "
    "confirm an order; ready_selection (whole basket) is place_procurement's arguments, as is.",
    correct=job_correction,
    ui=BASKET_APP,
)


# --- offer selections corrected against the basket -------------------------------------------------


class _Shelf:
    """The basket, the job's parts and the confirmable suppliers: what a selection is matched on."""

    def __init__(
        self, basket: m.BasketsLatestGetResponseV1, parts: Sequence[m.PartV1], confirmable: frozenset[UUID]
    ) -> None:
        self.basket = basket
        self.confirmable = confirmable
        self.ordered = frozenset(p.id for p in parts if p.status is m.PartStatusV1.ORDERED)
        self.by_id = {str(o.sellable_id): o for o in basket.offers}
        self.part_ids = {str(p.id) for p in parts}
        #: What the agent sent for each offer it named itself.
        self.sent: dict[str, dict[str, Any]] = {}
        #: (the offer the agent chose, the confirmable offer that replaces it): a price to show.
        self.swaps: list[tuple[m.OfferV1, m.OfferV1]] = []

    def for_parts(self, pids: Sequence[UUID]) -> list[m.OfferV1]:
        return confirmable_offers_for_parts(self.basket, pids, self.confirmable, self.ordered)

    def pick(self, sel: dict[str, Any]) -> list[m.OfferV1] | None:
        """The offers one selection stands for ([] when none fits); None when only the person can
        say (another quantity is another order)."""
        raw = sel.get("sellable_id")
        offer: m.OfferV1 | None = None
        picks: list[m.OfferV1] = []
        if isinstance(raw, str) and str(uuid_of(raw)) in self.by_id:
            offer = self.by_id[str(uuid_of(raw))]
        elif isinstance(raw, str) and str(uuid_of(raw)) in self.part_ids:
            picks = self.for_parts([UUID(raw.strip())])
        elif isinstance(raw, str) and uuid_of(raw) is None:
            offers = self.basket.offers
            offer = by_name([o for o in offers if o.supplier_business_id in self.confirmable] or offers, raw)
        elif raw is None and isinstance(sel.get("job_part_ids"), list):
            wanted = [uuid_of(p) for p in cast("list[Any]", sel["job_part_ids"])]
            picks = self.for_parts([p for p in wanted if p is not None])
        if offer is not None and "quantity" in sel and sel["quantity"] != offer.quantity:
            return None
        if offer is not None and offer.supplier_business_id not in self.confirmable:
            picks = self.for_parts(offer.job_part_ids)
            self.swaps.extend((offer, pick) for pick in picks)
            offer = None if picks else offer
        if offer is not None:
            self.sent[str(offer.sellable_id)] = sel
            return [offer]
        return picks


async def corrected_selections(fix: Fix, cand: dict[str, Any]) -> dict[str, Any]:
    """Each selection as a confirmable basket offer not yet ordered, named by its sellable_id."""
    found = list_and_job(cand, "offer_selections")
    if found is None:
        return cand
    items, identity = found
    try:
        shelf = _Shelf(*await basket_and_parts(fix.ctx, "place_procurement", identity))
    except ToolFailure:
        return cand
    chosen: list[m.OfferV1] = []
    for item in items:
        picks = shelf.pick(cast("dict[str, Any]", item) if isinstance(item, dict) else {"sellable_id": item})
        if not picks:
            return cand
        for pick in picks:
            if pick not in chosen:
                chosen.append(pick)
    open_offers = [o for o in chosen if not any(pid in shelf.ordered for pid in o.job_part_ids)]
    if not open_offers:
        return cand
    # Omitted fields are filled from the basket: the corrected call names the offers only.
    new = [_agreeing(o, shelf.sent.get(str(o.sellable_id), {})) for o in open_offers]
    if new != items:
        names = ", ".join(f"{quote(o.name)} ({o.sellable_id})" for o in open_offers)
        fix.notes.append(
            f"Place {names}: name each offer by its sellable_id only (supplier, parts and quantity are "
            "filled from the basket), with one confirmable supplier and no part already ordered."
        )
    for was, now in shelf.swaps:
        delta = Decimal(now.trade_price) - Decimal(was.trade_price)
        fix.cautions.append(
            f"That replaces {quote(was.name)} at {was.trade_price} with {quote(now.name)} "
            f"at {now.trade_price} "
            f"({'+' if delta >= 0 else ''}{money(delta)}): ask the person before ordering from a "
            "different supplier at a different price."
        )
    return {**cand, "offer_selections": new}


def _agreeing(offer: m.OfferV1, sent: dict[str, Any]) -> dict[str, Any]:
    """The selection of ``offer``: its sellable_id, plus the optional fields the agent sent that agree
    with the basket (one that disagrees is dropped: the basket fills it)."""
    out: dict[str, Any] = {"sellable_id": str(offer.sellable_id)}
    if uuid_of(sent.get("supplier_business_id")) == offer.supplier_business_id:
        out["supplier_business_id"] = str(offer.supplier_business_id)
    parts = sent.get("job_part_ids")
    if isinstance(parts, list) and [uuid_of(p) for p in cast("list[Any]", parts)] == list(offer.job_part_ids):
        out["job_part_ids"] = [str(p) for p in offer.job_part_ids]
    if sent.get("quantity") == offer.quantity:
        out["quantity"] = offer.quantity
    return out
