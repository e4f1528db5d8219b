"""The thirteen tools' success paths, over an in-memory MCP client, in both protocol eras."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.support.mcp_support import (
    AMI,
    ERAS,
    EXTENSION_TOOLS,
    JOB,
    JOB_EXTERNAL,
    JOB_ID,
    PR1,
    QUICKSTART,
    QUICKSTART_TOTAL,
    READ_TOOLS,
    S1,
    S2,
    S3,
    SITE,
    TOOL_NAMES,
    Session,
    isolate_environment,
    mcp_session,
    offer,
    part,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path)


# --- tools/list ------------------------------------------------------------------------------


@pytest.mark.parametrize("era", ERAS)
async def test_tools_list_returns_the_thirteen_tools_in_spec_order_with_complete_metadata(
    tmp_path: Path, era: str
):
    async with mcp_session(tmp_path, era) as s:
        listed = await s.client.list_tools()
    assert tuple(t.name for t in listed.tools) == TOOL_NAMES
    for tool in listed.tools:
        assert tool.title, tool.name
        assert tool.description, tool.name
        assert len(tool.description) > 40, tool.name
        assert tool.annotations is not None, tool.name
        assert tool.input_schema["type"] == "object", tool.name
        assert tool.input_schema["additionalProperties"] is False, tool.name
        assert tool.output_schema is not None, tool.name
        assert tool.output_schema["type"] == "object", tool.name
        assert "is_extension" in tool.output_schema["required"], tool.name
        assert "error" in tool.output_schema["properties"], tool.name


@pytest.mark.parametrize("era", ERAS)
async def test_every_published_schema_is_valid_draft_2020_12(tmp_path: Path, era: str):
    async with mcp_session(tmp_path, era) as s:
        listed = await s.client.list_tools()
    for tool in listed.tools:
        Draft202012Validator.check_schema(tool.input_schema)
        assert tool.output_schema is not None
        Draft202012Validator.check_schema(tool.output_schema)


@pytest.mark.parametrize("era", ERAS)
async def test_the_input_schemas_name_the_spec_arguments(tmp_path: Path, era: str):
    paged = {"limit", "cursor"}
    expected = {
        "prepare_vehicle": {"identifiers"},
        "list_businesses": paged,
        "list_work_providers": paged,
        "open_repair_job": {
            "job",
            "repairer_site_id",
            "work_provider_id",
            "vehicle",
            "claim_number",
            "job_number",
        },
        "get_repair_job": {"job"},
        "identify_parts": {"job", "parts"},
        "list_parts": {"job", "status", *paged},
        "recommend_basket": {"job", "supplier_business_id", "confirmable_only", "include_ordered", *paged},
        "place_procurement": {"job", "offer_selections", "dry_run", "idempotency_key"},
        "list_procurements": {"job", "status", "supplier_business_id", *paged},
        "track_procurement": {"procurement_id", "view", *paged},
        "confirm_procurement": {"procurement_id"},
        "reconcile_invoice": {"procurement_id", "job", "invoice_id", *paged},
    }
    async with mcp_session(tmp_path, era) as s:
        listed = await s.client.list_tools()
    for tool in listed.tools:
        assert set(tool.input_schema.get("properties", {})) == expected[tool.name], tool.name


#: SPEC §3 and the brief: what each tool's annotations must say.
IDEMPOTENT_WRITES = {"open_repair_job", "identify_parts", "confirm_procurement"}


@pytest.mark.parametrize("name", TOOL_NAMES)
async def test_annotations_tell_the_truth_about_reading_writing_and_repeating(tmp_path: Path, name: str):
    async with mcp_session(tmp_path) as s:
        ann = s.tools[name].annotations
    assert ann is not None
    wire = ann.model_dump(by_alias=True, exclude_none=True)
    assert {"readOnlyHint", "idempotentHint", "destructiveHint", "openWorldHint"} <= set(wire)
    if name in READ_TOOLS:
        assert ann.read_only_hint is True
        assert ann.idempotent_hint is True
        assert ann.destructive_hint is False
    else:
        assert ann.read_only_hint is False
    if name == "place_procurement":
        assert ann.idempotent_hint is False
    if name in IDEMPOTENT_WRITES:
        assert ann.idempotent_hint is True
    # No tool deletes or overwrites anything: parts and jobs are upserts, orders only move forward.
    assert ann.destructive_hint is False


# --- the full loops --------------------------------------------------------------------------


async def _reconciled_single_invoice(s: Session, args: dict[str, Any], total: str) -> dict[str, Any]:
    out = await s.ok("reconcile_invoice", args)
    assert out["status"] == "reconciled"
    assert out["is_extension"] is True  # the banner opens the text
    (invoice,) = out["invoices"]
    assert invoice["document_type"] == "invoice"
    assert invoice["status"] == "reconciled"
    assert invoice["currency_code"] == "NZD"
    assert invoice["total"] == total
    assert invoice["all_lines_matched"] is True
    assert invoice["line_items"]
    assert {li["reconciliation"] for li in invoice["line_items"]} == {"matched"}
    return invoice


@pytest.mark.parametrize("era", ERAS)
async def test_the_quickstart_loop_ends_in_one_reconciled_invoice_of_1099_nzd(tmp_path: Path, era: str):
    async with mcp_session(tmp_path, era) as s:
        placed = await s.ok("place_procurement", QUICKSTART)
        proc = placed["procurement"]
        assert placed["is_extension"] is True  # the banner opens the text
        assert proc["status"] == "order_requested"
        assert proc["total"] == QUICKSTART_TOTAL
        assert proc["currency_code"] == "NZD"
        assert proc["supplier"]["id"] == S1
        assert proc["job_id"] == JOB_ID
        assert [li["sellable_id"] for li in proc["lines"]] == [offer(0x07), offer(0x0A)]
        assert sorted(placed["parts_ordered"]) == [part(4), part(6)]
        assert placed["next_tool"] == "confirm_procurement"

        parts = await s.ok("list_parts", {"job": JOB})
        status = {p["id"]: p["status"] for p in parts["parts"]}
        assert status[part(4)] == status[part(6)] == status[part(1)] == "ordered"
        assert parts["counts"] == {"estimated": 3, "ordered": 3}

        tracked = await s.ok("track_procurement", {"procurement_id": proc["id"]})
        assert tracked["procurement"]["status"] == "order_requested"
        assert tracked["next_tool"] == "confirm_procurement"

        confirmed = await s.ok("confirm_procurement", {"procurement_id": proc["id"]})
        assert confirmed["procurement"]["status"] == "order_confirmed"
        assert confirmed["procurement"]["total"] == QUICKSTART_TOTAL
        assert confirmed["was_already_confirmed"] is False
        assert sorted(p["id"] for p in confirmed["parts"]) == [part(4), part(6)]
        assert {p["status"] for p in confirmed["parts"]} == {"ordered"}
        assert confirmed["next_tool"] == "reconcile_invoice"

        invoice = await _reconciled_single_invoice(s, {"procurement_id": proc["id"]}, QUICKSTART_TOTAL)
        assert invoice["procurement_id"] == proc["id"]
        assert sorted(li["sellable_id"] for li in invoice["line_items"]) == [offer(0x07), offer(0x0A)]
        by_job = await s.ok("reconcile_invoice", {"job": JOB})
        assert [i["id"] for i in by_job["invoices"]] == [invoice["id"]]
        alone = await _reconciled_single_invoice(s, {"invoice_id": invoice["id"]}, QUICKSTART_TOTAL)
        assert alone["id"] == invoice["id"]

        listed = await s.ok("list_procurements", {"job": JOB})
        statuses = {p["id"]: p["status"] for p in listed["procurements"]}
        assert statuses == {PR1: "order_requested", proc["id"]: "order_confirmed"}


@pytest.mark.parametrize("era", ERAS)
async def test_a_new_job_goes_from_opened_to_reconciled_through_the_tools(tmp_path: Path, era: str):
    new_job = {"external": "NEW-1"}
    async with mcp_session(tmp_path, era) as s:
        opened = await s.ok(
            "open_repair_job",
            {
                "job": new_job,
                "work_provider_id": AMI,
                "claim_number": "AMI-CLM-1",
                "vehicle": {"plate_number": "ABC123", "plate_state": "NZ"},
            },
        )
        assert opened["job"]["external_id"] == "NEW-1"
        assert opened["job"]["repairer_site_id"] == SITE  # defaulted to the only site
        assert opened["next_tool"] == "identify_parts"
        job_id = opened["job"]["id"]
        assert job_id != JOB_ID

        header = await s.ok("get_repair_job", {"job": {"id": job_id}})
        assert header["job"]["claim_number"] == "AMI-CLM-1"
        assert header["job"]["work_provider_id"] == AMI

        identified = await s.ok(
            "identify_parts",
            {
                "job": new_job,
                "parts": [
                    {"description": "Headlamp assembly RH", "quantity": 1},
                    {"description": "Radiator support", "quantity": 1},
                ],
            },
        )
        assert identified["counts"] == {"estimated": 2, "ordered": 0}
        assert identified["next_tool"] == "recommend_basket"
        part_ids = {p["description"]: p["id"] for p in identified["parts"]}

        basket = await s.ok("recommend_basket", {"job": new_job})
        confirmable = {x["business_id"]: x["confirmable"] for x in basket["suppliers"]}
        assert confirmable[S1] is True
        assert [k for k, v in confirmable.items() if v] == [S1]
        assert basket["unpriced_parts"] == []
        assert basket["estimated_parts_not_confirmable"] == []
        ready = basket["ready_selection"]
        assert ready["job"] == new_job
        assert len(ready["offer_selections"]) == 2
        assert basket["ready_selection_total"] == "1099.00"  # 631.00 + 468.00, S1

        placed = await s.ok("place_procurement", ready)
        proc = placed["procurement"]
        assert proc["total"] == "1099.00"
        assert proc["supplier"]["id"] == S1
        assert proc["job_id"] == job_id
        assert sorted(placed["parts_ordered"]) == sorted(part_ids.values())

        confirmed = await s.ok("confirm_procurement", {"procurement_id": proc["id"]})
        assert confirmed["procurement"]["status"] == "order_confirmed"

        await _reconciled_single_invoice(s, {"job": new_job}, "1099.00")
        parts = await s.ok("list_parts", {"job": new_job})
        assert parts["counts"] == {"estimated": 0, "ordered": 2}
        after = await s.ok("recommend_basket", {"job": new_job})
        assert "ready_selection" not in after  # nothing left to order


@pytest.mark.parametrize("era", ERAS)
async def test_every_tool_answers_with_is_extension_true_exactly_for_the_two_extensions(
    tmp_path: Path, era: str
):
    calls: list[tuple[str, dict[str, Any]]] = [
        ("prepare_vehicle", {"identifiers": [{"vin": "JTDBR32E730012345"}]}),
        ("list_businesses", {}),
        ("list_work_providers", {}),
        ("open_repair_job", {"job": JOB}),
        ("get_repair_job", {"job": JOB}),
        ("identify_parts", {"job": JOB, "parts": [{"description": "Grille assembly", "quantity": 1}]}),
        ("list_parts", {"job": JOB}),
        ("recommend_basket", {"job": JOB}),
        ("place_procurement", QUICKSTART),
        ("list_procurements", {"job": JOB}),
        ("track_procurement", {"procurement_id": PR1}),
        ("confirm_procurement", {"procurement_id": PR1}),
        ("reconcile_invoice", {"procurement_id": PR1}),
    ]
    assert tuple(name for name, _ in calls) == TOOL_NAMES
    flagged: set[str] = set()
    async with mcp_session(tmp_path, era) as s:
        for name, args in calls:
            out = await s.ok(name, args)
            if out["is_extension"]:
                flagged.add(name)
    assert flagged == EXTENSION_TOOLS


# --- tool by tool ----------------------------------------------------------------------------


async def test_prepare_vehicle_queues_valid_identifiers_and_returns_invalid_ones_with_the_reason(
    tmp_path: Path,
):
    async with mcp_session(tmp_path) as s:
        out = await s.ok(
            "prepare_vehicle",
            {"identifiers": [{"vin": "JTDBR32E730012345"}, {"vrm": "MJL472"}, {"vin": "SHORT"}]},
        )
    assert out["submitted"] == 3
    assert out["queued"] == 2
    (bad,) = out["invalid_identifiers"]
    assert bad["identifier"] == {"vin": "SHORT"}
    assert "17" in bad["reason"]


async def test_list_businesses_gives_the_repairer_site_to_use_as_repairer_site_id(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        out = await s.ok("list_businesses")
    assert out["businesses"] == [{"id": SITE, "name": "Riccarton Collision Centre"}]
    assert out["next_tool"] == "open_repair_job"


async def test_list_work_providers_lists_the_three_insurers(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        out = await s.ok("list_work_providers")
    names = {w["id"]: w["name"] for w in out["work_providers"]}
    assert names[AMI] == "AMI Insurance"
    assert set(names.values()) == {"AMI Insurance", "State Insurance", "Tower Insurance"}


@pytest.mark.parametrize("job", [JOB, {"id": JOB_ID}], ids=["external", "id"])
async def test_get_repair_job_returns_the_seeded_header_by_either_identity(tmp_path: Path, job: Any):
    async with mcp_session(tmp_path) as s:
        out = await s.ok("get_repair_job", {"job": job})
    header = out["job"]
    assert header["id"] == JOB_ID
    assert header["external_id"] == JOB_EXTERNAL
    assert header["job_number"] == "J-4817"
    assert header["claim_number"] == "AMI-CLM-771204"
    assert header["work_provider_id"] == AMI
    assert header["vehicle"]["plate_number"] == "MJL472"
    assert "list_parts" in out["note"]


async def test_open_repair_job_upserts_an_existing_job_and_keeps_the_fields_left_out(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        out = await s.ok("open_repair_job", {"job": JOB, "job_number": "J-4817-B"})
        again = await s.ok("get_repair_job", {"job": JOB})
    assert out["job"]["id"] == JOB_ID
    assert again["job"]["job_number"] == "J-4817-B"
    assert again["job"]["claim_number"] == "AMI-CLM-771204"
    assert again["job"]["work_provider_id"] == AMI
    assert again["job"]["vehicle"]["chassis_number"] == "JTDBR32E730012345"


async def test_identify_parts_is_an_upsert_keyed_by_description_that_never_unorders(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        first = await s.ok(
            "identify_parts",
            {"job": JOB, "parts": [{"description": "Bonnet hinge LH", "quantity": 2}]},
        )
        second = await s.ok(
            "identify_parts",
            {"job": JOB, "parts": [{"description": "Bonnet hinge LH", "quantity": 2}]},
        )
    assert first == second
    assert first["counts"] == {"estimated": 6, "ordered": 1}
    hinge = [p for p in first["parts"] if p["description"] == "Bonnet hinge LH"]
    assert len(hinge) == 1
    assert hinge[0]["quantity"] == 2


async def test_list_parts_reports_one_ordered_and_five_estimated_seeded_parts(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        out = await s.ok("list_parts", {"job": JOB})
    assert [p["id"] for p in out["parts"]] == [part(n) for n in range(1, 7)]
    assert out["counts"] == {"estimated": 5, "ordered": 1}
    assert next(p for p in out["parts"] if p["id"] == part(1))["status"] == "ordered"


async def test_recommend_basket_groups_offers_by_supplier_and_marks_only_s1_confirmable(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        out = await s.ok("recommend_basket", {"job": JOB, "include_ordered": True, "confirmable_only": False})
    suppliers = {x["business_id"]: x for x in out["suppliers"]}
    assert {k: v["confirmable"] for k, v in suppliers.items()} == {S1: True, S2: False, S3: False}
    assert sum(len(x["offers"]) for x in out["suppliers"]) == 12
    for supplier in out["suppliers"]:
        for o in supplier["offers"]:
            assert "currency" not in " ".join(o)  # the basket carries no currency (D52)
    first = suppliers[S1]["offers"][0]
    assert first["sellable_id"] == offer(1)
    assert first["part_status"] == ["ordered"]
    assert first["trade_price"] == "512.00"
    ready = out["ready_selection"]
    assert ready["job"] == JOB
    assert [x["sellable_id"] for x in ready["offer_selections"]] == [offer(n) for n in (0x07, 0x0A)]
    assert out["ready_selection_total"] == "1099.00"
    # Offers 03, 05 and 09 are with suppliers that cannot confirm: their parts are named.
    assert sorted(out["estimated_parts_not_confirmable"]) == sorted(part(n) for n in (2, 3, 5))
    assert out["unpriced_parts"] == []
    assert "carries no currency" in out["currency_note"]
    assert "D52" not in out["currency_note"]
    assert out["next_tool"] == "place_procurement"


async def test_the_ready_selection_is_placeable_exactly_as_given(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        basket = await s.ok("recommend_basket", {"job": JOB})
        placed = await s.ok("place_procurement", basket["ready_selection"])
        parts = await s.ok("list_parts", {"job": JOB})
    assert placed["procurement"]["total"] == basket["ready_selection_total"] == "1099.00"
    assert parts["counts"] == {"estimated": 3, "ordered": 3}


async def test_recommend_basket_lists_parts_it_cannot_price_and_those_no_confirmable_supplier_has(
    tmp_path: Path,
):
    async with mcp_session(tmp_path) as s:
        identified = await s.ok(
            "identify_parts",
            {
                "job": JOB,
                "parts": [{"description": "Headlamp assembly", "quantity": 1}],  # no side: unpriced
            },
        )
        out = await s.ok("recommend_basket", {"job": JOB})
    headlamp = next(p["id"] for p in identified["parts"] if p["description"] == "Headlamp assembly")
    assert out["unpriced_parts"] == [headlamp]
    assert headlamp in out["estimated_parts_not_confirmable"]


async def test_list_procurements_shows_the_seeded_pr1_with_its_total(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        out = await s.ok("list_procurements", {"job": JOB})
    (pr1,) = out["procurements"]
    assert pr1["id"] == PR1
    assert pr1["reference"] == "PR-1"
    assert pr1["status"] == "order_requested"
    assert pr1["currency_code"] == "NZD"
    assert pr1["total"] == "512.00"
    assert pr1["supplier"]["id"] == S1
    assert pr1["lines"][0]["job_part_ids"] == [part(1)]


@pytest.mark.parametrize("view", ["repairer", "supplier"])
async def test_track_procurement_shows_pr1_from_the_buyer_and_the_supplier_side(tmp_path: Path, view: str):
    async with mcp_session(tmp_path) as s:
        out = await s.ok("track_procurement", {"procurement_id": PR1, "view": view})
    assert out["view"] == view
    proc = out["procurement"]
    assert proc["id"] == PR1
    assert proc["status"] == "order_requested"
    assert proc["total"] == "512.00"
    if view == "repairer":
        assert proc["supplier"]["id"] == S1
        assert "buyer" not in proc
    else:
        assert proc["buyer"]["id"] == SITE
        assert proc["buyer_shipping_address"]["country_code"]
        assert "supplier" not in proc
    assert out["next_tool"] == "confirm_procurement"


async def test_confirming_the_seeded_pr1_reconciles_its_512_invoice(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        before = await s.ok("reconcile_invoice", {"procurement_id": PR1})
        confirmed = await s.ok("confirm_procurement", {"procurement_id": PR1})
        tracked = await s.ok("track_procurement", {"procurement_id": PR1, "view": "supplier"})
        await _reconciled_single_invoice(s, {"procurement_id": PR1}, "512.00")
    assert before["status"] == "nothing_to_reconcile"
    assert confirmed["procurement"]["status"] == "order_confirmed"
    assert [p["id"] for p in confirmed["parts"]] == [part(1)]
    assert tracked["procurement"]["status"] == "order_confirmed"
    assert tracked["next_tool"] == "reconcile_invoice"
