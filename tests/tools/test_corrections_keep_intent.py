"""A corrected call never quietly changes what the agent asked for: the person decides instead."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from mcp import Client

from rails_mcp.controls import Controls
from rails_mcp.runtime import open_rails
from rails_mcp.server import build_server
from tests.support.mcp_support import JOB, mcp_session, offer, part, pick, settings_for

pytestmark = pytest.mark.anyio


async def test_a_quantity_above_the_offer_gets_no_example_that_would_order_fewer(tmp_path: Path):
    async with mcp_session(tmp_path, tenant="intent-qty") as s:
        args = {"job": JOB, "offer_selections": [{"sellable_id": offer(7), "quantity": 2}]}
        error = (await s.call("place_procurement", args)).structured_content["error"]  # type: ignore[index]
    assert error.get("example_arguments") is None


async def test_swapping_in_the_confirmable_suppliers_offer_states_both_prices_and_says_to_ask(
    tmp_path: Path,
):
    async with mcp_session(tmp_path, tenant="intent-swap") as s:
        # Offer 08 is PartsMaster's RH headlamp at 389.00; Toyota's (07) costs 631.00.
        error = (await s.call("place_procurement", pick(8, 10))).structured_content["error"]  # type: ignore[index]
    assert error["example_arguments"]["offer_selections"] == [
        {"sellable_id": offer(7)},
        {"sellable_id": offer(10)},
    ]
    assert "389.00" in error["fix"]
    assert "631.00" in error["fix"]
    assert "+242.00" in error["fix"]
    assert "ask the person" in error["fix"]


async def test_raising_an_ordered_parts_quantity_asks_instead_of_offering_a_call_that_changes_nothing(
    tmp_path: Path,
):
    async with mcp_session(tmp_path, tenant="intent-ordered") as s:
        args = {
            "job": JOB,
            "parts": [{"identity": {"id": part(1)}, "description": "Front bumper cover", "quantity": 2}],
        }
        error = (await s.call("identify_parts", args)).structured_content["error"]  # type: ignore[index]
    assert error.get("example_arguments") is None
    assert "Ask the person" in error["fix"]


async def test_an_order_over_the_spending_limit_offers_no_call_to_retry_and_no_next_tool(tmp_path: Path):
    rails = open_rails(settings_for(tmp_path, "intent-limit"))
    server = build_server(rails, controls=Controls(max_order_total=Decimal("700")))
    try:
        async with Client(server) as client:
            result = await client.call_tool("place_procurement", pick(7, 10))
    finally:
        await rails.client.aclose()
    error = (result.structured_content or {})["error"]
    assert error["code"] == "over_spending_limit"
    assert error.get("example_arguments") is None
    assert error.get("next_tool") is None
