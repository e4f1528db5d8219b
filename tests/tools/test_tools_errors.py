"""Refusals and failures: the placement guard, enriched argument and wire errors, lost answers.

Every failure must come back as a tool result with ``isError`` and an enriched error object
(never a protocol error, never a traceback), validate against the tool's output schema,
leave the world as it was, and, where it offers ``example_arguments``, offer ones that
succeed when replayed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import anyio
import httpx2
import pytest

from rails_mcp.wire import models as m
from rails_mcp.wire.models import EXTENSION_BANNER
from tests.support.mcp_support import (
    ERAS,
    JOB,
    JOB_EXTERNAL,
    JOB_ID,
    MISSING,
    PR1,
    QUICKSTART,
    QUICKSTART_TOTAL,
    S1,
    S2,
    S3,
    TOOL_NAMES,
    LossyTransport,
    Session,
    isolate_environment,
    lossy_rails,
    mcp_session,
    offer,
    part,
    pick,
    session_over,
    text_of,
)

pytestmark = pytest.mark.anyio

INSERT = "repairer.procurements.insert"
CONFIRM = "supplier.procurements.confirm"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path)


async def replay(s: Session, name: str, error: dict[str, Any]) -> dict[str, Any]:
    """Replay an error's ``example_arguments``: they must succeed now."""
    example = error.get("example_arguments")
    assert isinstance(example, dict), f"{name}: no example_arguments in {error}"
    return await s.ok(name, example)


def no_writes(lossy: LossyTransport) -> bool:
    writes = {INSERT, CONFIRM, "repairer.jobs.insert", "repairer.jobs.parts.insert"}
    return not writes & set(lossy.reached)


# --- the single-confirmable-supplier guard ---------------------------------------------------


@pytest.mark.parametrize("era", ERAS)
async def test_placing_an_offer_from_a_supplier_that_cannot_confirm_is_refused_before_the_wire(
    tmp_path: Path, era: str
):
    rails, lossy = lossy_rails(tmp_path)
    async with session_over(rails, era) as s:
        before = await s.snapshot()
        error = await s.fail("place_procurement", pick(0x08), "unconfirmable_supplier")
        assert not lossy.reached.count(INSERT), "the guard must refuse before any wire write"
        assert await s.snapshot() == before
        assert error["retryable"] is False
        assert error["field"] == "offer_selections"
        assert error["valid_values"] == [S1]  # discovered from the supplier credential
        assert S3 in error["message"]
        assert offer(0x07) in error["fix"]  # the confirmable offer for the same part
        assert error["next_tool"] == "place_procurement"
        assert error["example_arguments"] == pick(0x07)

        placed = await replay(s, "place_procurement", error)
        assert placed["procurement"]["supplier"]["id"] == S1
        assert placed["procurement"]["total"] == "631.00"
        assert lossy.reached.count(INSERT) == 1


async def test_a_refusal_result_text_opens_with_the_extension_banner_and_repeats_the_fix(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        result = await s.call("place_procurement", pick(0x08))
    text = text_of(result)
    assert result.is_error
    assert text.startswith(EXTENSION_BANNER)
    assert "unconfirmable_supplier" in text
    assert offer(0x07) in text


async def test_offers_from_two_suppliers_are_refused_as_mixed_with_a_single_supplier_alternative(
    tmp_path: Path,
):
    async with mcp_session(tmp_path) as s:
        before = await s.snapshot()
        error = await s.fail("place_procurement", pick(0x07, 0x0B), "mixed_suppliers")
        assert await s.snapshot() == before
        assert error["example_arguments"] == QUICKSTART  # 07 + 0a: the same parts, from S1
        placed = await replay(s, "place_procurement", error)
    assert placed["procurement"]["total"] == QUICKSTART_TOTAL


async def test_two_unconfirmable_suppliers_are_refused_with_the_confirmable_offers_for_their_parts(
    tmp_path: Path,
):
    async with mcp_session(tmp_path) as s:
        error = await s.fail("place_procurement", pick(0x08, 0x0B), "mixed_suppliers")
        assert error["example_arguments"] == QUICKSTART
        await replay(s, "place_procurement", error)


@pytest.mark.parametrize(
    ("sellable_id", "why"),
    [(MISSING, "unknown"), ("0f000000-0000-4000-8000-0000000000ff", "near miss")],
)
async def test_an_offer_that_is_not_in_the_basket_is_refused_with_the_placeable_offers(
    tmp_path: Path, sellable_id: str, why: str
):
    async with mcp_session(tmp_path) as s:
        before = await s.snapshot()
        error = await s.fail(
            "place_procurement",
            {"job": JOB, "offer_selections": [{"sellable_id": sellable_id}]},
            "offer_not_in_basket",
        )
        assert await s.snapshot() == before
    assert error["field"] == "offer_selections[0].sellable_id"
    assert offer(0x07) in error["valid_values"]
    assert offer(0x01) not in error["valid_values"]  # its part is already ordered
    assert error["next_tool"] == "recommend_basket"


async def test_an_offer_from_another_jobs_basket_is_not_in_this_jobs_basket(tmp_path: Path):
    other = {"external": "NEW-1"}
    async with mcp_session(tmp_path) as s:
        await s.ok("open_repair_job", {"job": other})
        await s.ok(
            "identify_parts", {"job": other, "parts": [{"description": "Radiator support", "quantity": 1}]}
        )
        basket = await s.ok("recommend_basket", {"job": other})
        foreign = basket["ready_selection"]["offer_selections"]
        before = await s.snapshot()
        await s.fail("place_procurement", {"job": JOB, "offer_selections": foreign}, "offer_not_in_basket")
        assert await s.snapshot() == before


async def test_an_offer_for_a_part_already_ordered_is_refused(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        before = await s.snapshot()
        error = await s.fail("place_procurement", pick(0x01), "part_already_ordered")
        assert await s.snapshot() == before
    assert part(1) in error["message"]
    assert "example_arguments" not in error  # nothing of this selection is still orderable


async def test_a_fix_for_a_selection_that_is_wholly_already_ordered_does_not_claim_no_supplier_offers_it(
    tmp_path: Path,
):
    async with mcp_session(tmp_path) as s:
        error = await s.fail("place_procurement", pick(0x01), "part_already_ordered")
    # S1 does offer part 01 (it is on PR-1); the fix must not say nobody offers it.
    assert "no confirmable supplier offers" not in error["fix"]
    assert "already ordered" in error["fix"]


async def test_a_selection_mixing_an_ordered_part_with_new_ones_suggests_dropping_the_ordered_one(
    tmp_path: Path,
):
    async with mcp_session(tmp_path) as s:
        error = await s.fail("place_procurement", pick(0x01, 0x07), "part_already_ordered")
        assert error["example_arguments"] == pick(0x07)
        placed = await replay(s, "place_procurement", error)
    assert placed["parts_ordered"] == [part(4)]


@pytest.mark.parametrize(
    ("key", "given", "expected"),
    [
        ("supplier_business_id", S2, S1),
        ("job_part_ids", [part(5)], part(4)),
        ("quantity", 2, "1"),
    ],
)
async def test_a_given_field_that_contradicts_the_basket_is_a_selection_mismatch(
    tmp_path: Path, key: str, given: Any, expected: str
):
    args = {"job": JOB, "offer_selections": [{"sellable_id": offer(0x07), key: given}]}
    async with mcp_session(tmp_path) as s:
        before = await s.snapshot()
        error = await s.fail("place_procurement", args, "selection_mismatch")
        assert await s.snapshot() == before
    assert error["field"] == f"offer_selections[0].{key}"
    assert error["valid_values"] == [expected]
    assert key in error["fix"]


async def test_given_fields_that_agree_with_the_basket_are_accepted(tmp_path: Path):
    selection = {
        "sellable_id": offer(0x07),
        "supplier_business_id": S1,
        "job_part_ids": [part(4)],
        "quantity": 1,
    }
    async with mcp_session(tmp_path) as s:
        placed = await s.ok("place_procurement", {"job": JOB, "offer_selections": [selection]})
    assert placed["procurement"]["total"] == "631.00"


async def test_selecting_two_offers_for_the_same_part_is_refused_as_a_duplicate(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        before = await s.snapshot()
        error = await s.fail("place_procurement", pick(0x07, 0x07), "duplicate_selection")
        await s.fail("place_procurement", pick(0x07, 0x08), "duplicate_selection")
        assert await s.snapshot() == before
    assert error["field"] == "offer_selections[1]"


async def test_a_dry_run_totals_the_quickstart_placement_and_writes_nothing(tmp_path: Path):
    rails, lossy = lossy_rails(tmp_path)
    async with session_over(rails) as s:
        before = await s.snapshot()
        out = await s.ok("place_procurement", {**QUICKSTART, "dry_run": True})
        assert await s.snapshot() == before
    assert INSERT not in lossy.reached
    assert out["dry_run"] is True
    assert "procurement" not in out
    plan = out["would_place"]
    assert plan["total"] == QUICKSTART_TOTAL
    assert plan["supplier"] == {"id": S1, "name": "Christchurch Toyota — Parts"}
    assert sorted(plan["parts"]) == [part(4), part(6)]
    assert [x["sellable_id"] for x in plan["offer_selections"]] == [offer(0x07), offer(0x0A)]


async def test_a_dry_run_of_a_forbidden_placement_is_refused_like_the_real_one(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        await s.fail("place_procurement", {**pick(0x08), "dry_run": True}, "unconfirmable_supplier")


async def test_placing_the_same_offers_twice_refuses_the_second_and_keeps_one_order(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        count = await s.procurement_count()
        await s.ok("place_procurement", QUICKSTART)
        after_first = await s.snapshot()
        error = await s.fail("place_procurement", QUICKSTART, "part_already_ordered")
        assert await s.snapshot() == after_first
        assert await s.procurement_count() == count + 1
    assert part(4) in error["message"]
    assert part(6) in error["message"]


# --- arguments that do not fit: enriched, never protocol errors ------------------------------

ARGUMENT_MISTAKES: list[tuple[str, dict[str, Any], str]] = [
    # wrong types
    ("get_repair_job", {"job": {"external": 4817}}, "job.external"),
    (
        "identify_parts",
        {"job": JOB, "parts": [{"description": "Grille", "quantity": "1"}]},
        "parts[0].quantity",
    ),
    ("place_procurement", {**QUICKSTART, "dry_run": "yes"}, "dry_run"),
    ("place_procurement", {"job": JOB, "offer_selections": {"sellable_id": offer(7)}}, "offer_selections"),
    ("track_procurement", {"procurement_id": "PR-1"}, "procurement_id"),
    ("track_procurement", {"procurement_id": PR1, "view": "buyer"}, "view"),
    ("confirm_procurement", {"procurement_id": 1}, "procurement_id"),
    ("prepare_vehicle", {"identifiers": []}, "identifiers"),
    (
        "identify_parts",
        {"job": JOB, "parts": [{"description": "Grille", "quantity": 0}]},
        "parts[0].quantity",
    ),
    # missing keys
    ("get_repair_job", {}, "job"),
    ("identify_parts", {"job": JOB}, "parts"),
    ("identify_parts", {"job": JOB, "parts": [{"quantity": 1}]}, "parts[0].description"),
    ("place_procurement", {"job": JOB}, "offer_selections"),
    ("place_procurement", {"job": JOB, "offer_selections": [{}]}, "offer_selections[0].sellable_id"),
    ("confirm_procurement", {}, "procurement_id"),
    ("prepare_vehicle", {}, "identifiers"),
    # unknown keys
    ("list_businesses", {"site": "x"}, "site"),
    ("get_repair_job", {"job": JOB, "verbose": True}, "verbose"),
    ("track_procurement", {"procurement_id": PR1, "mode": "supplier"}, "mode"),
    (
        "place_procurement",
        {"job": JOB, "offer_selections": [{"sellable_id": offer(7), "price": "631.00"}]},
        "offer_selections[0].price",
    ),
]


@pytest.mark.parametrize(
    ("name", "args", "field"),
    ARGUMENT_MISTAKES,
    ids=[f"{n}-{f}" for n, _, f in ARGUMENT_MISTAKES],
)
async def test_arguments_that_do_not_fit_come_back_as_an_enriched_error_naming_the_field(
    tmp_path: Path, name: str, args: dict[str, Any], field: str
):
    rails, lossy = lossy_rails(tmp_path)
    async with session_over(rails) as s:
        error = await s.fail(name, args, "invalid_arguments")
    assert error["field"] == field
    assert error["retryable"] is False
    assert f"`{field}`" in error["message"] or field in error["message"]
    # A correction may be looked up (issue 10: reads only); nothing is ever written for them.
    writes = {"repairer.jobs.insert", "repairer.jobs.parts.insert", "repairer.procurements.insert"}
    writes.add("supplier.procurements.confirm")
    assert not writes & set(lossy.reached), "arguments that do not fit never write to the wire"


async def test_a_wrong_typed_job_reference_is_explained_once_without_contradicting_itself(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        error = await s.fail("get_repair_job", {"job": {"external": 4817}}, "invalid_arguments")
    # Only the branch the agent meant ({"external"}) is diagnosed: not "job.id is required"
    # nor "job.external is not accepted", which would tell it to drop the right key.
    assert "must be a string" in error["message"]
    assert "job.id" not in error["message"]
    assert "not accepted" not in error["message"]


@pytest.mark.parametrize("name", ["get_repair_job", "list_parts", "recommend_basket", "list_procurements"])
async def test_external_id_instead_of_external_is_corrected_with_a_replayable_example(
    tmp_path: Path, name: str
):
    async with mcp_session(tmp_path) as s:
        error = await s.fail(name, {"job": {"external_id": JOB_EXTERNAL}}, "invalid_arguments")
        assert error["did_you_mean"] == "external"
        assert error["field"] == "job.external_id"
        assert error["example_arguments"] == {"job": JOB}
        assert "external" in error["fix"]
        await replay(s, name, error)


async def test_external_id_inside_a_placement_is_corrected_and_the_example_places_the_order(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        args = {**QUICKSTART, "job": {"external_id": JOB_EXTERNAL}}
        error = await s.fail("place_procurement", args, "invalid_arguments")
        assert error["did_you_mean"] == "external"
        placed = await replay(s, "place_procurement", error)
    assert placed["procurement"]["total"] == QUICKSTART_TOTAL


@pytest.mark.parametrize("key", ["job_identity", "identity", "external_id"])
async def test_wire_key_names_at_the_top_level_are_mapped_to_job(tmp_path: Path, key: str):
    value: Any = JOB_EXTERNAL if key == "external_id" else JOB
    async with mcp_session(tmp_path) as s:
        error = await s.fail("get_repair_job", {key: value}, "invalid_arguments")
        assert error["did_you_mean"] == "job"
        assert error["field"] == key
        assert error["example_arguments"] == {"job": JOB}
        out = await replay(s, "get_repair_job", error)
    assert out["job"]["id"] == JOB_ID


async def test_a_job_sent_as_a_json_string_is_parsed_into_a_replayable_example(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        error = await s.fail("get_repair_job", {"job": '{"external": "CCC-2026-04817"}'}, "invalid_arguments")
        assert "JSON string" in error["message"]
        assert error["example_arguments"] == {"job": JOB}
        await replay(s, "get_repair_job", error)


async def test_offer_selections_sent_as_a_json_string_are_parsed_into_a_replayable_example(tmp_path: Path):
    import json

    args = {"job": JOB, "offer_selections": json.dumps(QUICKSTART["offer_selections"])}
    async with mcp_session(tmp_path) as s:
        error = await s.fail("place_procurement", args, "invalid_arguments")
        assert error["field"] == "offer_selections"
        assert error["example_arguments"] == QUICKSTART
        await replay(s, "place_procurement", error)


@pytest.mark.parametrize(
    ("bare", "wrapped"),
    [(JOB_EXTERNAL, {"external": JOB_EXTERNAL}), (JOB_ID, {"id": JOB_ID})],
    ids=["reference", "uuid"],
)
async def test_a_bare_string_job_is_wrapped_in_the_right_identity(tmp_path: Path, bare: str, wrapped: Any):
    async with mcp_session(tmp_path) as s:
        error = await s.fail("list_parts", {"job": bare}, "invalid_arguments")
        assert error["did_you_mean"] == wrapped
        assert error["example_arguments"] == {"job": wrapped}
        out = await replay(s, "list_parts", error)
    assert len(out["parts"]) == 6


async def test_a_job_with_both_identity_keys_is_refused_with_one_kept(tmp_path: Path):
    both = {"external": JOB_EXTERNAL, "id": JOB_ID}
    async with mcp_session(tmp_path) as s:
        error = await s.fail("get_repair_job", {"job": both}, "invalid_arguments")
        assert "exactly one" in error["message"]
        await replay(s, "get_repair_job", error)


async def test_bare_vehicle_identifier_strings_are_wrapped_into_objects(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        error = await s.fail("prepare_vehicle", {"identifiers": ["JTDBR32E730012345", "MJL472"]})
        assert error["example_arguments"] == {
            "identifiers": [{"vin": "JTDBR32E730012345"}, {"vrm": "MJL472"}]
        }
        out = await replay(s, "prepare_vehicle", error)
    assert out["queued"] == 2


async def test_an_unknown_argument_names_the_arguments_that_exist_and_a_replay_without_it(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        error = await s.fail("list_parts", {"job": JOB, "include_prices": True}, "invalid_arguments")
        assert error["valid_values"] == ["cursor", "job", "limit", "status"]
        await replay(s, "list_parts", error)


async def test_external_id_inside_a_part_identity_is_corrected_with_a_replayable_example(tmp_path: Path):
    parts = [{"description": "Bonnet", "quantity": 1, "identity": {"external_id": "P-BONNET"}}]
    async with mcp_session(tmp_path) as s:
        error = await s.fail("identify_parts", {"job": JOB, "parts": parts}, "invalid_arguments")
        assert error["did_you_mean"] == "external"
        assert error["field"] == "parts[0].identity.external_id"
        out = await replay(s, "identify_parts", error)
    assert [p["external_id"] for p in out["parts"] if p["description"] == "Bonnet"] == ["P-BONNET"]


# --- wire errors, with the context only the tool knows ---------------------------------------

UNKNOWN_JOB = {"external": "NO-SUCH-JOB"}
JOB_TOOLS: list[tuple[str, dict[str, Any]]] = [
    ("get_repair_job", {"job": UNKNOWN_JOB}),
    ("identify_parts", {"job": UNKNOWN_JOB, "parts": [{"description": "Grille", "quantity": 1}]}),
    ("list_parts", {"job": UNKNOWN_JOB}),
    ("recommend_basket", {"job": UNKNOWN_JOB}),
    ("place_procurement", pick(0x07, job=UNKNOWN_JOB)),
    ("list_procurements", {"job": UNKNOWN_JOB}),
    ("reconcile_invoice", {"job": UNKNOWN_JOB}),
    ("get_repair_job", {"job": {"id": MISSING}}),
]


@pytest.mark.parametrize(("name", "args"), JOB_TOOLS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(JOB_TOOLS)])
async def test_an_unknown_job_is_not_found_and_points_to_open_repair_job(
    tmp_path: Path, name: str, args: dict[str, Any]
):
    async with mcp_session(tmp_path) as s:
        error = await s.fail(name, args, "not_found")
        assert await s.procurement_count() == 1
    assert error["next_tool"] == "open_repair_job"
    assert error["http_status"] == 404
    assert error["wire_method"]
    assert error["retryable"] is False
    assert "open_repair_job" in error["fix"]


PROCUREMENT_TOOLS: list[tuple[str, dict[str, Any]]] = [
    ("track_procurement", {"procurement_id": MISSING}),
    ("track_procurement", {"procurement_id": MISSING, "view": "supplier"}),
    ("confirm_procurement", {"procurement_id": MISSING}),
    ("reconcile_invoice", {"procurement_id": MISSING}),
]


@pytest.mark.parametrize(
    ("name", "args"), PROCUREMENT_TOOLS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(PROCUREMENT_TOOLS)]
)
async def test_an_unknown_procurement_is_not_found_and_points_to_list_procurements(
    tmp_path: Path, name: str, args: dict[str, Any]
):
    async with mcp_session(tmp_path) as s:
        error = await s.fail(name, args, "not_found")
    assert error["next_tool"] == "list_procurements"
    assert error["http_status"] == 404
    assert MISSING in error["message"]


@pytest.mark.parametrize("name", ["track_procurement", "confirm_procurement", "reconcile_invoice"])
async def test_a_procurement_of_another_tenant_is_not_found(tmp_path: Path, name: str):
    async with mcp_session(tmp_path, tenant="other") as theirs:
        placed = await theirs.ok("place_procurement", QUICKSTART)
    foreign = placed["procurement"]["id"]
    async with mcp_session(tmp_path, tenant="mine") as s:
        before = await s.snapshot()
        error = await s.fail(name, {"procurement_id": foreign}, "not_found")
        assert await s.snapshot() == before
    assert error["next_tool"] == "list_procurements"


async def test_an_unknown_invoice_is_not_found(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        error = await s.fail("reconcile_invoice", {"invoice_id": MISSING}, "not_found")
    assert MISSING in error["message"]


@pytest.mark.parametrize(
    "args",
    [
        {},
        {"job": JOB, "procurement_id": PR1},
        {"invoice_id": MISSING, "job": JOB},
        {"invoice_id": MISSING, "procurement_id": PR1},
    ],
    ids=["neither", "both", "invoice-and-job", "invoice-and-procurement"],
)
async def test_reconcile_invoice_with_both_selectors_or_neither_is_invalid_arguments(
    tmp_path: Path, args: dict[str, Any]
):
    async with mcp_session(tmp_path) as s:
        error = await s.fail("reconcile_invoice", args, "invalid_arguments")
    assert error["valid_values"] == ["procurement_id", "job", "invoice_id"]
    assert "exactly one" in error["message"]


@pytest.mark.parametrize("args", [{"procurement_id": PR1}, {"job": JOB}], ids=["procurement", "job"])
async def test_reconciling_before_confirmation_is_not_an_error_but_nothing_to_reconcile(
    tmp_path: Path, args: dict[str, Any]
):
    async with mcp_session(tmp_path) as s:
        out = await s.ok("reconcile_invoice", args)
    assert out["status"] == "nothing_to_reconcile"
    assert out["invoices"] == []
    assert out["next_tool"] == "confirm_procurement"
    assert out["is_extension"] is True  # the banner opens the text


async def test_confirming_twice_reports_it_was_already_confirmed_and_keeps_one_invoice(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        placed = await s.ok("place_procurement", QUICKSTART)
        pid = placed["procurement"]["id"]
        first = await s.ok("confirm_procurement", {"procurement_id": pid})
        second = await s.ok("confirm_procurement", {"procurement_id": pid})
        invoices = await s.ok("reconcile_invoice", {"procurement_id": pid})
    assert first["was_already_confirmed"] is False
    assert second["was_already_confirmed"] is True
    assert second["procurement"]["status"] == "order_confirmed"
    assert second["procurement"]["updated_at"] == first["procurement"]["updated_at"]
    assert len(invoices["invoices"]) == 1


async def _place_with_s2_on_the_raw_wire(s: Session) -> str:
    """Bypass the guard: what another client of the same API could have done."""
    resp = await s.rails.client.repairer.procurements.insert(
        job_identity=m.ExternalIdentity(external=JOB_EXTERNAL),
        offer_selections=[
            m.OfferSelectionV1(
                sellable_id=UUID(offer(0x0B)),
                supplier_business_id=UUID(S2),
                job_part_ids=[UUID(part(6))],
                quantity=1,
            )
        ],
    )
    return str(resp.procurement.id)


async def test_the_supplier_view_of_another_suppliers_procurement_is_not_found(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        pid = await _place_with_s2_on_the_raw_wire(s)
        buyer = await s.ok("track_procurement", {"procurement_id": pid})
        error = await s.fail("track_procurement", {"procurement_id": pid, "view": "supplier"}, "not_found")
    assert buyer["procurement"]["supplier"]["id"] == S2
    assert error["wire_method"] == "supplier.procurements.get"
    assert "repairer" in error["fix"]  # the supplier view's own fix: use the buyer's view


async def test_confirming_a_procurement_placed_with_an_unconfirmable_supplier_is_refused(tmp_path: Path):
    rails, lossy = lossy_rails(tmp_path)
    async with session_over(rails) as s:
        pid = await _place_with_s2_on_the_raw_wire(s)
        before = await s.snapshot()
        error = await s.fail("confirm_procurement", {"procurement_id": pid}, "unconfirmable_supplier")
        assert await s.snapshot() == before
        tracked = await s.ok("track_procurement", {"procurement_id": pid})
        nothing = await s.ok("reconcile_invoice", {"procurement_id": pid})
    assert CONFIRM not in lossy.reached
    assert tracked["procurement"]["status"] == "order_requested"
    assert nothing["status"] == "nothing_to_reconcile"
    assert error["next_tool"] == "recommend_basket"
    assert error["retryable"] is False


async def test_changing_the_quantity_of_an_ordered_part_is_unprocessable_with_its_own_fix(tmp_path: Path):
    ordered = [{"description": "Front bumper cover", "quantity": 3, "identity": {"id": part(1)}}]
    async with mcp_session(tmp_path) as s:
        before = await s.snapshot()
        error = await s.fail("identify_parts", {"job": JOB, "parts": ordered}, "unprocessable")
        assert await s.snapshot() == before
    assert error["http_status"] == 422
    assert "ordered" in error["fix"]
    assert "list_parts" in error["fix"]


async def test_an_unknown_work_provider_points_to_list_work_providers(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        error = await s.fail(
            "open_repair_job",
            {"job": {"external": "NEW-1"}, "work_provider_id": MISSING},
            "work_provider_not_found",
        )
        await s.fail("get_repair_job", {"job": {"external": "NEW-1"}}, "not_found")
    assert error["next_tool"] == "list_work_providers"


async def test_opening_a_job_by_an_unknown_id_explains_that_new_jobs_use_external(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        error = await s.fail("open_repair_job", {"job": {"id": MISSING}}, "unprocessable")
    assert "external" in error["fix"]


async def test_an_unexpected_failure_inside_a_tool_is_an_internal_error_without_a_traceback(tmp_path: Path):
    class Exploding(httpx2.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            raise RuntimeError(f'Traceback File "/secret/path.py" for {request.url}')

    from rails_mcp.client import Credentials, RailsClient
    from rails_mcp.config import DEMO_REPAIRER
    from rails_mcp.tools import Rails

    client = RailsClient(
        base_url="http://x.invalid", repairer=Credentials(*DEMO_REPAIRER), transport=Exploding()
    )
    async with session_over(Rails(client)) as s:
        error = await s.fail("list_businesses", {}, "internal_error")
    assert error["retryable"] is True
    assert "/secret/path.py" not in error["message"]


@pytest.mark.parametrize("era", ERAS)
async def test_every_tool_fails_as_a_tool_result_and_never_as_a_protocol_error(tmp_path: Path, era: str):
    async with mcp_session(tmp_path, era) as s:
        for name in TOOL_NAMES:
            error = await s.fail(name, {"unexpected_argument": {"deep": [1, 2, 3]}})
            assert error["code"] == "invalid_arguments"


async def test_two_simultaneous_placements_of_the_same_offers_place_exactly_one_order(tmp_path: Path):
    outcomes: list[Any] = []
    async with mcp_session(tmp_path) as s:

        async def place() -> None:
            outcomes.append(await s.call("place_procurement", QUICKSTART))

        async with anyio.create_task_group() as tg:
            tg.start_soon(place)
            tg.start_soon(place)
        assert await s.procurement_count() == 2  # PR-1 and one new order
    placed = [r for r in outcomes if not r.is_error]
    refused = [r for r in outcomes if r.is_error]
    assert len(placed) == 1
    assert len(refused) == 1
    assert refused[0].structured_content is not None
    assert refused[0].structured_content["error"]["code"] == "part_already_ordered"


async def test_a_placement_that_loses_the_race_after_passing_the_guard_says_who_won(tmp_path: Path):
    rails, lossy = lossy_rails(tmp_path)
    async with session_over(rails) as s:

        async def rival() -> None:
            await s.rails.client.repairer.procurements.insert(
                job_identity=m.ExternalIdentity(external=JOB_EXTERNAL),
                offer_selections=[
                    m.OfferSelectionV1(
                        sellable_id=UUID(offer(0x07)),
                        supplier_business_id=UUID(S1),
                        job_part_ids=[UUID(part(4))],
                        quantity=1,
                    )
                ],
            )

        lossy.before[INSERT] = rival
        error = await s.fail("place_procurement", QUICKSTART, "part_already_ordered")
        assert await s.procurement_count() == 2  # PR-1 and the rival's order, nothing of ours
    assert part(4) in error["message"]
    assert part(6) not in error["message"]  # only the part the rival took
    assert "meanwhile" in error["message"]
    assert error["next_tool"] == "list_procurements"
    assert lossy.reached.count(INSERT) == 2


# --- lost answers: check whether a write landed, never retry it blindly -----------------------


async def test_a_placement_whose_answer_was_lost_after_it_landed_is_reported_as_placed(tmp_path: Path):
    rails, lossy = lossy_rails(tmp_path)
    lossy.lose_after[INSERT] = 1
    async with session_over(rails) as s:
        out = await s.ok("place_procurement", QUICKSTART)
        listed = await s.ok("list_procurements", {"job": JOB})
    assert "recovered" in out
    assert out["procurement"]["total"] == QUICKSTART_TOTAL
    assert lossy.reached.count(INSERT) == 1  # checked, not retried
    new = [p for p in listed["procurements"] if p["id"] != PR1]
    assert [p["id"] for p in new] == [out["procurement"]["id"]]


async def test_a_placement_lost_before_it_reached_the_server_reports_not_landed_and_is_retryable(
    tmp_path: Path,
):
    rails, lossy = lossy_rails(tmp_path)
    lossy.lose_before[INSERT] = 1
    async with session_over(rails) as s:
        before = await s.snapshot()
        error = await s.fail("place_procurement", QUICKSTART, "placement_not_landed")
        assert await s.snapshot() == before
        assert error["retryable"] is True
        assert INSERT not in lossy.reached
        again = await s.ok("place_procurement", QUICKSTART)  # the retry the error invites
        assert await s.procurement_count() == 2
    assert "recovered" not in again


async def test_a_placement_whose_outcome_cannot_be_checked_says_so_and_is_not_retryable(tmp_path: Path):
    rails, lossy = lossy_rails(tmp_path)
    lossy.lose_after[INSERT] = 1
    lossy.lose_before["repairer.procurements.list"] = 3  # every attempt of the check
    async with session_over(rails) as s:
        error = await s.fail("place_procurement", QUICKSTART, "placement_outcome_unknown")
        assert error["retryable"] is False
        assert error["next_tool"] == "list_procurements"
        assert await s.procurement_count() == 2  # it had in fact landed: placing again would be wrong


async def test_a_lost_confirmation_answer_still_reports_order_confirmed_with_one_invoice(tmp_path: Path):
    rails, lossy = lossy_rails(tmp_path)
    async with session_over(rails) as s:
        placed = await s.ok("place_procurement", QUICKSTART)
        lossy.lose_after[CONFIRM] = 1
        pid = placed["procurement"]["id"]
        out = await s.ok("confirm_procurement", {"procurement_id": pid})
        invoices = await s.ok("reconcile_invoice", {"procurement_id": pid})
    assert out["procurement"]["status"] == "order_confirmed"
    assert "recovered" in out
    assert lossy.reached.count(CONFIRM) == 1
    assert len(invoices["invoices"]) == 1
    assert invoices["status"] == "reconciled"


async def test_a_confirmation_lost_before_the_server_is_retryable_and_the_retry_confirms(tmp_path: Path):
    rails, lossy = lossy_rails(tmp_path)
    async with session_over(rails) as s:
        placed = await s.ok("place_procurement", QUICKSTART)
        pid = placed["procurement"]["id"]
        lossy.lose_before[CONFIRM] = 1
        error = await s.fail("confirm_procurement", {"procurement_id": pid}, "confirmation_not_landed")
        assert error["retryable"] is True
        out = await s.ok("confirm_procurement", {"procurement_id": pid})
        invoices = await s.ok("reconcile_invoice", {"procurement_id": pid})
    assert out["was_already_confirmed"] is False
    assert len(invoices["invoices"]) == 1


async def test_a_read_whose_answer_is_lost_once_is_retried_transparently(tmp_path: Path):
    rails, lossy = lossy_rails(tmp_path)
    lossy.lose_after["repairer.jobs.get"] = 1
    async with session_over(rails) as s:
        out = await s.ok("get_repair_job", {"job": JOB})
    assert out["job"]["id"] == JOB_ID
    assert lossy.reached.count("repairer.jobs.get") == 2


async def test_a_read_that_keeps_timing_out_is_a_retryable_timeout(tmp_path: Path):
    rails, lossy = lossy_rails(tmp_path)
    lossy.lose_before["repairer.jobs.get"] = 10
    async with session_over(rails) as s:
        error = await s.fail("get_repair_job", {"job": JOB}, "timeout")
    assert error["retryable"] is True
    assert error["wire_method"] == "repairer.jobs.get"
