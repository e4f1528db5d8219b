"""A basket, an order and an invoice read the same through a tool and through a resource."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp_types import TextResourceContents

from rails_mcp.resources.hub import SCENARIO_URI
from tests.support.mcp_support import lossy_rails, session_over
from tests.support.sandbox_support import JOB_EXTERNAL, PR1
from tests.tools.test_resources import QUICKSTART_PICK, served

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore:resources/(un)?subscribe is removed")]

BASKET_URI = f"rails://jobs/{JOB_EXTERNAL}/basket"


async def test_the_basket_resource_shows_what_recommend_basket_shows(tmp_path: Path):
    async with served(tmp_path, "2026-07-28") as s:
        job = {"external": JOB_EXTERNAL}
        tool = await s.ok(
            "recommend_basket", {"job": job, "include_ordered": True, "confirmable_only": False}
        )
        resource = await s.world.read_json(BASKET_URI)
    assert resource["suppliers"] == tool["suppliers"]  # the resource shows ordered parts' offers too
    assert resource["currency_note"] == tool["currency_note"]
    ready = resource["ready_order"]
    assert ready["total"] == tool["ready_selection_total"] == "1099.00"
    assert [o["sellable_id"] for o in ready["offers"]] == [
        o["sellable_id"] for o in tool["ready_selection"]["offer_selections"]
    ]
    assert [p["id"] for p in resource["estimated_parts_not_confirmable"]] == tool[
        "estimated_parts_not_confirmable"
    ]


async def test_an_order_and_its_invoices_read_alike_through_tools_and_resources(tmp_path: Path):
    async with served(tmp_path, "2026-07-28") as s:
        tracked = (await s.ok("track_procurement", {"procurement_id": PR1}))["procurement"]
        read = await s.world.read_json(f"rails://procurements/{PR1}")
        assert {k: v for k, v in read.items() if k not in ("events", "resources")} == tracked
        placed = await s.ok("place_procurement", {"job": {"external": JOB_EXTERNAL}, **QUICKSTART_PICK})
        pid = placed["procurement"]["id"]
        assert placed["procurement"]["total"] == "1099.00"
        await s.ok("confirm_procurement", {"procurement_id": pid})
        reconciled = await s.ok("reconcile_invoice", {"procurement_id": pid})
        listed = await s.world.read_json(f"rails://procurements/{pid}/invoices")
    assert listed["invoices"] == reconciled["invoices"]
    assert [i["all_lines_matched"] for i in listed["invoices"]] == [True]


async def test_the_supplier_credential_is_asked_once_who_it_confirms_for_by_tools_and_resources(
    tmp_path: Path,
):
    rails, wire = lossy_rails(tmp_path)
    async with session_over(rails, "2026-07-28") as s:
        for _ in range(2):
            scenario = await s.client.read_resource(SCENARIO_URI, cache_mode="bypass")
            assert isinstance(scenario.contents[0], TextResourceContents)
            assert "Christchurch Toyota" in scenario.contents[0].text
            basket = await s.ok("recommend_basket", {"job": {"external": JOB_EXTERNAL}})
            assert [x["name"] for x in basket["suppliers"] if x["confirmable"]] == [
                "Christchurch Toyota — Parts"
            ]
        await s.ok("confirm_procurement", {"procurement_id": PR1})
    assert wire.reached.count("businesses.list") == 1
