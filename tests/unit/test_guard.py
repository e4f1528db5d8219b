"""The single-confirmable-supplier guard as pure functions over plain model data (no I/O)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from rails_mcp.guard import (
    GuardRefusal,
    PlacementPlan,
    SelectionRequest,
    confirmable_offers_for_parts,
    money,
    plan_placement,
    recommend_selection,
)
from rails_mcp.wire.models import (
    BasketsLatestGetResponseV1,
    ConditionV1,
    OfferSelectionV1,
    OfferV1,
    PartStatusV1,
    PartV1,
    SupplierV1,
)

S1 = UUID("0b000000-0000-4000-8000-000000000010")
S2 = UUID("0b000000-0000-4000-8000-000000000011")
S3 = UUID("0b000000-0000-4000-8000-000000000012")
S4 = UUID("0b000000-0000-4000-8000-000000000013")  # a second confirmable supplier, for some tests
ONLY_S1 = frozenset({S1})


def part_id(n: int) -> UUID:
    return UUID(f"0e000000-0000-4000-8000-{n:012x}")


def offer_id(n: int) -> UUID:
    return UUID(f"0f000000-0000-4000-8000-{n:012x}")


def make_offer(n: int, supplier: UUID, parts: list[int], price: str, quantity: int = 1) -> OfferV1:
    return OfferV1(
        name=f"offer {n:02x}",
        sellable_id=offer_id(n),
        supplier_business_id=supplier,
        job_part_ids=[part_id(p) for p in parts],
        quantity=quantity,
        trade_price=price,
        condition=ConditionV1(type="new", payload={}),
    )


#: The seeded basket (SPEC §1): offer number, supplier, part number, price.
SEED_OFFERS = [
    make_offer(0x01, S1, [1], "512.00"),
    make_offer(0x02, S2, [1], "289.00"),
    make_offer(0x03, S1, [2], "344.00"),
    make_offer(0x04, S3, [2], "198.00"),
    make_offer(0x05, S1, [3], "631.00"),
    make_offer(0x06, S2, [3], "402.00"),
    make_offer(0x07, S1, [4], "631.00"),
    make_offer(0x08, S3, [4], "389.00"),
    make_offer(0x09, S1, [5], "236.00"),
    make_offer(0x0A, S1, [6], "468.00"),
    make_offer(0x0B, S2, [6], "301.00"),
    make_offer(0x0C, S3, [5], "142.00"),
]


def make_basket(offers: list[OfferV1] = SEED_OFFERS) -> BasketsLatestGetResponseV1:
    suppliers = list(dict.fromkeys(o.supplier_business_id for o in offers))
    return BasketsLatestGetResponseV1(
        offers=offers, suppliers=[SupplierV1(business_id=s, name=f"supplier {s}") for s in suppliers]
    )


def parts(ordered: frozenset[int] = frozenset({1}), count: int = 6) -> list[PartV1]:
    return [
        PartV1(
            id=part_id(n),
            description=f"part {n}",
            quantity=1,
            status=PartStatusV1.ORDERED if n in ordered else PartStatusV1.ESTIMATED,
        )
        for n in range(1, count + 1)
    ]


def sel(
    n: int,
    *,
    supplier_business_id: UUID | None = None,
    job_part_ids: tuple[UUID, ...] | None = None,
    quantity: int | None = None,
) -> SelectionRequest:
    return SelectionRequest(offer_id(n), supplier_business_id, job_part_ids, quantity)


def plan(
    *selections: SelectionRequest,
    confirmable: frozenset[UUID] = ONLY_S1,
    basket: BasketsLatestGetResponseV1 | None = None,
    job_parts: list[PartV1] | None = None,
) -> PlacementPlan:
    return plan_placement(
        basket=basket or make_basket(),
        parts=job_parts if job_parts is not None else parts(),
        selections=list(selections),
        confirmable=confirmable,
    )


def refusal(
    *selections: SelectionRequest,
    confirmable: frozenset[UUID] = ONLY_S1,
    basket: BasketsLatestGetResponseV1 | None = None,
) -> GuardRefusal:
    with pytest.raises(GuardRefusal) as caught:
        plan(*selections, confirmable=confirmable, basket=basket)
    return caught.value


# --- a placement that passes ------------------------------------------------------------------


def test_the_quickstart_selection_is_planned_with_s1_for_1099():
    planned = plan(sel(0x07), sel(0x0A))
    assert planned.supplier_business_id == S1
    assert planned.total == Decimal("1099.00")
    assert money(planned.total) == "1099.00"
    assert planned.part_ids == [part_id(4), part_id(6)]


def test_omitted_selection_fields_are_filled_from_the_basket_offer():
    planned = plan(sel(0x07))
    assert planned.selections == [
        OfferSelectionV1(
            sellable_id=offer_id(0x07), supplier_business_id=S1, job_part_ids=[part_id(4)], quantity=1
        )
    ]


def test_given_fields_that_agree_with_the_basket_pass_and_job_part_order_does_not_matter():
    multi = make_offer(0x20, S1, [2, 3], "900.00")
    planned = plan(
        sel(0x20, supplier_business_id=S1, job_part_ids=(part_id(3), part_id(2)), quantity=1),
        basket=make_basket([*SEED_OFFERS, multi]),
    )
    assert planned.part_ids == [part_id(2), part_id(3)]


def test_the_total_multiplies_each_price_by_its_quantity():
    offers = [make_offer(0x30, S1, [2], "10.50", quantity=3), make_offer(0x31, S1, [3], "0.25", quantity=2)]
    planned = plan(sel(0x30), sel(0x31), basket=make_basket(offers))
    assert planned.total == Decimal("32.00")
    assert money(planned.total) == "32.00"


@pytest.mark.parametrize(("value", "text"), [("1099", "1099.00"), ("0", "0.00"), ("12.5", "12.50")])
def test_money_is_a_bare_two_decimal_string(value: str, text: str):
    assert money(Decimal(value)) == text


# --- refusals -------------------------------------------------------------------------------


def test_an_offer_of_a_supplier_that_cannot_confirm_is_refused_with_the_confirmable_offer_for_that_part():
    refused = refusal(sel(0x08))
    assert refused.code == "unconfirmable_supplier"
    assert refused.field == "offer_selections"
    assert refused.valid_values == [str(S1)]
    assert [o.sellable_id for o in refused.alternatives] == [offer_id(0x07)]
    assert str(offer_id(0x07)) in refused.fix
    assert str(S3) in refused.message
    assert str(refused) == refused.message


def test_without_any_confirmable_supplier_every_placement_is_refused_and_no_alternative_is_invented():
    refused = refusal(sel(0x07), confirmable=frozenset())
    assert refused.code == "unconfirmable_supplier"
    assert refused.alternatives == []
    assert refused.valid_values == []
    assert "no confirmable supplier offers these parts" in refused.fix


def test_an_unconfirmable_offer_for_an_already_ordered_part_says_nothing_is_left_to_place():
    refused = refusal(sel(0x02))  # S2's bumper cover; part 01 is on PR-1
    assert refused.code == "unconfirmable_supplier"
    assert refused.alternatives == []
    assert "already ordered" in refused.fix
    assert "no confirmable supplier offers" not in refused.fix


def test_offers_from_two_suppliers_are_refused_as_mixed_with_one_suppliers_offers_for_the_same_parts():
    refused = refusal(sel(0x07), sel(0x0B))
    assert refused.code == "mixed_suppliers"
    assert [o.sellable_id for o in refused.alternatives] == [offer_id(0x07), offer_id(0x0A)]


def test_two_confirmable_suppliers_in_one_selection_are_still_mixed():
    offers = [*SEED_OFFERS, make_offer(0x40, S4, [6], "400.00")]
    refused = refusal(sel(0x07), sel(0x40), basket=make_basket(offers), confirmable=frozenset({S1, S4}))
    assert refused.code == "mixed_suppliers"
    # S1 covers both parts, S4 only one: the alternative is S1's, placeable as one order.
    assert {o.supplier_business_id for o in refused.alternatives} == {S1}
    assert len(refused.alternatives) == 2


def test_an_offer_not_in_the_basket_is_refused_with_the_offers_still_placeable():
    refused = refusal(sel(0x07), SelectionRequest(sellable_id=UUID(int=1)))
    assert refused.code == "offer_not_in_basket"
    assert refused.field == "offer_selections[1].sellable_id"
    assert refused.valid_values is not None
    assert str(offer_id(0x01)) not in refused.valid_values  # covers the ordered part 01
    assert str(offer_id(0x02)) not in refused.valid_values
    assert len(refused.valid_values) == 10


def test_an_offer_for_an_already_ordered_part_is_refused_and_the_rest_is_offered_back():
    refused = refusal(sel(0x01), sel(0x03))
    assert refused.code == "part_already_ordered"
    assert str(part_id(1)) in refused.message
    assert [o.sellable_id for o in refused.alternatives] == [offer_id(0x03)]


def test_a_selection_that_is_wholly_already_ordered_does_not_claim_nobody_offers_it():
    refused = refusal(sel(0x01))
    assert refused.code == "part_already_ordered"
    assert refused.alternatives == []
    assert "no confirmable supplier offers" not in refused.fix


def test_an_offer_covering_an_ordered_and_an_estimated_part_is_refused_as_already_ordered():
    offers = [*SEED_OFFERS, make_offer(0x21, S1, [1, 2], "800.00")]
    refused = refusal(sel(0x21), basket=make_basket(offers))
    assert refused.code == "part_already_ordered"
    assert str(part_id(1)) in refused.message
    assert str(part_id(2)) not in refused.message


@pytest.mark.parametrize(
    ("given", "field", "expected"),
    [
        ({"supplier_business_id": S3}, "supplier_business_id", str(S1)),
        ({"job_part_ids": (part_id(5),)}, "job_part_ids", str(part_id(4))),
        ({"job_part_ids": (part_id(4), part_id(5))}, "job_part_ids", str(part_id(4))),
        ({"quantity": 2}, "quantity", "1"),
    ],
)
def test_a_given_field_that_contradicts_the_basket_is_a_selection_mismatch(
    given: dict[str, Any], field: str, expected: str
):
    refused = refusal(sel(0x0A), sel(0x07, **given))
    assert refused.code == "selection_mismatch"
    assert refused.field == f"offer_selections[1].{field}"
    assert refused.valid_values == [expected]


def test_a_mismatch_is_reported_before_the_supplier_is_judged():
    refused = refusal(sel(0x08, quantity=5))
    assert refused.code == "selection_mismatch"


def test_two_selections_for_the_same_part_are_a_duplicate_even_from_different_suppliers():
    assert refusal(sel(0x07), sel(0x07)).code == "duplicate_selection"
    refused = refusal(sel(0x07), sel(0x08))
    assert refused.code == "duplicate_selection"
    assert refused.field == "offer_selections[1]"
    assert str(part_id(4)) in refused.message


# --- what the guard recommends ----------------------------------------------------------------


def test_the_recommended_selection_covers_every_estimated_part_s1_offers_in_basket_order():
    chosen = recommend_selection(make_basket(), parts(), ONLY_S1)
    assert [o.sellable_id for o in chosen] == [offer_id(n) for n in (0x03, 0x05, 0x07, 0x09, 0x0A)]
    plan(*(SelectionRequest(sellable_id=o.sellable_id) for o in chosen))  # and it passes the guard


def test_nothing_is_recommended_without_a_confirmable_supplier_or_once_everything_is_ordered():
    assert recommend_selection(make_basket(), parts(), frozenset()) == []
    assert recommend_selection(make_basket(), parts(ordered=frozenset({1, 2, 3, 4, 5, 6})), ONLY_S1) == []


def test_the_cheapest_confirmable_offer_wins_for_each_part():
    offers = [*SEED_OFFERS, make_offer(0x50, S1, [4], "600.00")]
    chosen = confirmable_offers_for_parts(make_basket(offers), [part_id(4)], ONLY_S1)
    assert [o.sellable_id for o in chosen] == [offer_id(0x50)]


def test_the_confirmable_supplier_covering_the_most_parts_is_chosen():
    offers = [*SEED_OFFERS, make_offer(0x60, S4, [4], "1.00")]
    chosen = confirmable_offers_for_parts(make_basket(offers), [part_id(4), part_id(6)], frozenset({S1, S4}))
    assert [o.sellable_id for o in chosen] == [offer_id(0x07), offer_id(0x0A)]


def test_offers_touching_an_ordered_part_are_never_suggested():
    offers = [*SEED_OFFERS, make_offer(0x21, S1, [1, 2], "1.00")]
    chosen = confirmable_offers_for_parts(
        make_basket(offers), [part_id(1), part_id(2)], ONLY_S1, frozenset({part_id(1)})
    )
    assert [o.sellable_id for o in chosen] == [offer_id(0x03)]


def test_repeated_part_ids_are_covered_once():
    chosen = confirmable_offers_for_parts(make_basket(), [part_id(4), part_id(4)], ONLY_S1)
    assert [o.sellable_id for o in chosen] == [offer_id(0x07)]


def test_parts_only_unconfirmable_suppliers_offer_get_no_suggestion():
    offers = [make_offer(0x70, S3, [2], "10.00")]
    assert confirmable_offers_for_parts(make_basket(offers), [part_id(2)], ONLY_S1) == []
