"""The single-confirmable-supplier guard: pure rules checked before any placement reaches the wire.

The raw wire lets a repairer place an order with any supplier, but only an order placed
entirely with a supplier we hold a confirming credential for can ever reach
``order_confirmed``; anything else is stranded in ``order_requested``. These functions take
what was read from the wire (the latest basket, the job's parts, the confirmable supplier
ids) and either return the exact placement or raise :class:`GuardRefusal` naming the
offers that would work instead. No I/O here, so every rule is testable on plain data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal
from uuid import UUID

from rails_mcp.present import money, order_total
from rails_mcp.wire.codes import ErrorCode
from rails_mcp.wire.models import (
    BasketsLatestGetResponseV1,
    BuyerProcurementV1,
    OfferSelectionV1,
    OfferV1,
    PartStatusV1,
    PartV1,
)
from rails_mcp.wire.untrusted import quote

__all__ = [
    "GuardRefusal",
    "PlacementPlan",
    "SelectionRequest",
    "check_confirmable",
    "confirmable_offers_for_parts",
    "money",
    "plan_placement",
    "recommend_selection",
]


@dataclass(frozen=True, slots=True)
class SelectionRequest:
    """What the agent asked for: a sellable id, plus optional fields to check against the basket."""

    sellable_id: UUID
    supplier_business_id: UUID | None = None
    job_part_ids: tuple[UUID, ...] | None = None
    quantity: int | None = None


@dataclass(frozen=True, slots=True)
class PlacementPlan:
    """Exactly what will be sent to ``repairer.procurements.insert``."""

    supplier_business_id: UUID
    offers: tuple[OfferV1, ...]
    total: Decimal

    @property
    def selections(self) -> list[OfferSelectionV1]:
        return [
            OfferSelectionV1(
                sellable_id=o.sellable_id,
                supplier_business_id=o.supplier_business_id,
                job_part_ids=list(o.job_part_ids),
                quantity=o.quantity,
            )
            for o in self.offers
        ]

    @property
    def part_ids(self) -> list[UUID]:
        return [pid for o in self.offers for pid in o.job_part_ids]


@dataclass(slots=True)
class GuardRefusal(Exception):
    """A placement that must not reach the wire, with what would work instead."""

    code: ErrorCode
    message: str
    fix: str
    field: str | None = None
    valid_values: list[str] | None = None
    #: Offers of a confirmable supplier covering the same (still estimated) parts.
    alternatives: list[OfferV1] = dataclass_field(default_factory=list[OfferV1])
    #: The per-order spending limit the total is above, and its currency when known.
    spending_limit: tuple[str, str | None] | None = None

    def __str__(self) -> str:
        return self.message


def confirmable_offers_for_parts(
    basket: BasketsLatestGetResponseV1,
    part_ids: Iterable[UUID],
    confirmable: frozenset[UUID],
    ordered: frozenset[UUID] = frozenset(),
) -> list[OfferV1]:
    """The cheapest offer of one confirmable supplier per still-estimated part, basket order kept.

    When several confirmable suppliers exist, the one covering the most of the parts wins, so
    the answer is always placeable as a single procurement.
    """
    wanted = [pid for pid in dict.fromkeys(part_ids) if pid not in ordered]
    if not wanted:
        return []
    best_supplier: UUID | None = None
    best: list[OfferV1] = []
    for supplier in sorted(confirmable, key=str):
        picked: dict[UUID, OfferV1] = {}
        for offer in basket.offers:
            if offer.supplier_business_id != supplier:
                continue
            if any(pid in ordered for pid in offer.job_part_ids):
                continue
            for pid in offer.job_part_ids:
                if pid in wanted and (
                    pid not in picked or Decimal(offer.trade_price) < Decimal(picked[pid].trade_price)
                ):
                    picked[pid] = offer
        chosen = list({o.sellable_id: o for o in picked.values()}.values())
        if best_supplier is None or len(chosen) > len(best):
            best_supplier, best = supplier, chosen
    order = {o.sellable_id: i for i, o in enumerate(basket.offers)}
    return sorted(best, key=lambda o: order[o.sellable_id])


def recommend_selection(
    basket: BasketsLatestGetResponseV1, parts: Sequence[PartV1], confirmable: frozenset[UUID]
) -> list[OfferV1]:
    """A ready-to-place selection: every estimated part a confirmable supplier can cover."""
    ordered = frozenset(p.id for p in parts if p.status is PartStatusV1.ORDERED)
    estimated = [p.id for p in parts if p.status is PartStatusV1.ESTIMATED]
    return confirmable_offers_for_parts(basket, estimated, confirmable, ordered)


def plan_placement(
    *,
    basket: BasketsLatestGetResponseV1,
    parts: Sequence[PartV1],
    selections: Sequence[SelectionRequest],
    confirmable: frozenset[UUID],
) -> PlacementPlan:
    """Check a requested placement against the latest basket; return the plan or refuse."""
    ordered = frozenset(p.id for p in parts if p.status is PartStatusV1.ORDERED)
    chosen = _selected_offers(basket, selections, ordered)
    _check_no_overlap(chosen)
    supplier = _one_confirmable_supplier(basket, chosen, confirmable, ordered)
    _check_none_ordered(chosen, ordered)
    return PlacementPlan(supplier, tuple(chosen), order_total(chosen))


def _selected_offers(
    basket: BasketsLatestGetResponseV1, selections: Sequence[SelectionRequest], ordered: frozenset[UUID]
) -> list[OfferV1]:
    """The basket offer each selection names, its optional fields checked against the offer."""
    by_id = {o.sellable_id: o for o in basket.offers}
    placeable = [str(o.sellable_id) for o in basket.offers if not set(o.job_part_ids) & ordered]
    chosen: list[OfferV1] = []
    for i, sel in enumerate(selections):
        offer = by_id.get(sel.sellable_id)
        where = f"offer_selections[{i}]"
        if offer is None:
            raise GuardRefusal(
                ErrorCode.OFFER_NOT_IN_BASKET,
                f"Offer {sel.sellable_id} is not in this job's latest basket.",
                "Pick sellable_id values from recommend_basket for this same job.",
                field=f"{where}.sellable_id",
                valid_values=placeable,
            )
        _check_matches(sel, offer, where)
        chosen.append(offer)
    return chosen


def _one_confirmable_supplier(
    basket: BasketsLatestGetResponseV1,
    chosen: Sequence[OfferV1],
    confirmable: frozenset[UUID],
    ordered: frozenset[UUID],
) -> UUID:
    """The one supplier of the chosen offers, refused unless it is a confirmable one."""
    suppliers = {o.supplier_business_id for o in chosen}
    valid_values: list[str] | None = None
    if len(suppliers) > 1:
        code, lead = ErrorCode.MIXED_SUPPLIERS, "Select offers from a single confirmable supplier"
        problem = (
            f"The selected offers come from {len(suppliers)} suppliers; one procurement is "
            "placed with exactly one supplier."
        )
    else:
        (supplier,) = suppliers
        if supplier in confirmable:
            return supplier
        code, lead = ErrorCode.UNCONFIRMABLE_SUPPLIER, "Choose offers from a confirmable supplier"
        problem = (
            f"Supplier {supplier} has no confirming credential here, so an order placed with it "
            "could never reach order_confirmed (it would be stranded in order_requested)."
        )
        valid_values = sorted(str(s) for s in confirmable)
    covered = [pid for o in chosen for pid in o.job_part_ids]
    pending = any(pid not in ordered for pid in covered)
    alternatives = confirmable_offers_for_parts(basket, covered, confirmable, ordered)
    raise GuardRefusal(
        code,
        problem,
        _fix_with_alternatives(alternatives, lead, pending, chosen),
        field="offer_selections",
        valid_values=valid_values,
        alternatives=alternatives,
    )


def _check_none_ordered(chosen: Sequence[OfferV1], ordered: frozenset[UUID]) -> None:
    """Refuse a selection covering a part already ordered, offering the rest of it."""
    already = [pid for o in chosen for pid in o.job_part_ids if pid in ordered]
    if not already:
        return
    alternatives = [o for o in chosen if not set(o.job_part_ids) & ordered]
    raise GuardRefusal(
        ErrorCode.PART_ALREADY_ORDERED,
        f"Part(s) {', '.join(map(str, already))} are already ordered on another procurement.",
        _fix_with_alternatives(alternatives, "Drop the selections for parts already ordered")
        if alternatives
        else "Nothing in this selection can be placed: every offer covers a part already ordered "
        "(list_procurements shows the order); recommend_basket shows what is still orderable.",
        field="offer_selections",
        alternatives=alternatives,
    )


def _check_matches(sel: SelectionRequest, offer: OfferV1, where: str) -> None:
    def mismatch(name: str, given: object, expected: object) -> GuardRefusal:
        return GuardRefusal(
            ErrorCode.SELECTION_MISMATCH,
            f"{where}.{name} is {given} but the basket offer {offer.sellable_id} has {expected}.",
            f"Omit {name} (it is filled from the basket) or send the basket's value.",
            field=f"{where}.{name}",
            valid_values=[str(expected)],
        )

    if sel.supplier_business_id is not None and sel.supplier_business_id != offer.supplier_business_id:
        raise mismatch("supplier_business_id", sel.supplier_business_id, offer.supplier_business_id)
    if sel.job_part_ids is not None and set(sel.job_part_ids) != set(offer.job_part_ids):
        given = ", ".join(map(str, sel.job_part_ids))
        raise mismatch("job_part_ids", f"[{given}]", ", ".join(map(str, offer.job_part_ids)))
    if sel.quantity is not None and sel.quantity != offer.quantity:
        raise mismatch("quantity", sel.quantity, offer.quantity)


def _check_no_overlap(chosen: Sequence[OfferV1]) -> None:
    seen: set[UUID] = set()
    for i, offer in enumerate(chosen):
        overlap = seen & set(offer.job_part_ids)
        if overlap:
            raise GuardRefusal(
                ErrorCode.DUPLICATE_SELECTION,
                f"offer_selections[{i}] covers part(s) already covered by an earlier selection: "
                f"{', '.join(map(str, sorted(overlap, key=str)))}.",
                "Select one offer per part.",
                field=f"offer_selections[{i}]",
            )
        seen |= set(offer.job_part_ids)


def _fix_with_alternatives(
    alternatives: Sequence[OfferV1], lead: str, pending: bool = True, chosen: Sequence[OfferV1] = ()
) -> str:
    if not alternatives and not pending:
        return (
            "Nothing to place: the selected parts are already ordered (list_procurements shows the "
            "order); recommend_basket shows what is still orderable."
        )
    if not alternatives:
        return f"{lead}; no confirmable supplier offers these parts, so they cannot be ordered here."
    names = ", ".join(f"{quote(o.name)} ({o.sellable_id}) at {o.trade_price}" for o in alternatives)
    fix = f"{lead}: {names} — example_arguments holds that selection."
    replaced = [o for o in chosen if o not in alternatives]
    if replaced:  # another supplier's offer at another price: the person's decision, so say so
        was, now = order_total(chosen), order_total(alternatives)
        delta = now - was
        gone = ", ".join(f"{quote(o.name)} at {o.trade_price}" for o in replaced)
        fix += (
            f" It replaces {gone}: {money(now)} against {money(was)} "
            f"({'+' if delta >= 0 else ''}{money(delta)}); ask the person before ordering at a different "
            "price or from a different supplier."
        )
    return fix


def check_confirmable(procurement: BuyerProcurementV1, confirmable: frozenset[UUID]) -> None:
    """Refuse to confirm an order no configured supplier credential can confirm.

    The wire would answer ``not_found`` (a supplier sees only its own orders); saying why,
    before the call, tells the agent the order is stranded rather than missing.
    """
    if procurement.supplier_business.id in confirmable:
        return
    raise GuardRefusal(
        ErrorCode.UNCONFIRMABLE_SUPPLIER,
        f"{quote(procurement.reference or procurement.id)} is with "
        f"{quote(procurement.supplier_business.name)}, for which no confirming credential is "
        "configured; it cannot be confirmed here.",
        "Place the parts with a confirmable supplier (recommend_basket marks them) and confirm "
        "that procurement instead.",
        field="procurement_id",
        valid_values=sorted(str(s) for s in confirmable),
    )
