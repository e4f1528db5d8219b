"""Mistakes that used to get a fix an agent could not act on: a VIN sent as its own argument, a
misspelt argument name, and a spending limit reported as if it were a valid selection."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from mcp import Client

from rails_mcp.controls import Controls
from rails_mcp.runtime import open_rails
from rails_mcp.server import build_server
from tests.support.mcp_support import JOB, QUICKSTART, Session, mcp_session, offer, settings_for

pytestmark = pytest.mark.anyio

VIN = "JTDBR32E730012345"


@pytest.mark.parametrize(("key", "kind"), [("vin", "vin"), ("plate", "vrm")])
async def test_a_vehicle_sent_as_its_own_argument_is_shown_inside_identifiers(
    tmp_path: Path, key: str, kind: str
):
    value = VIN if kind == "vin" else "MJL472"
    async with mcp_session(tmp_path) as s:
        error = await s.fail("prepare_vehicle", {key: value}, code="invalid_arguments")
        assert "Remove" not in error["fix"]
        assert f'"identifiers": [{{"{kind}": "{value}"}}]' in error["fix"]
        assert error["did_you_mean"] == "identifiers"
        assert "required" not in error["message"]  # it was sent, under another name
        assert error["example_arguments"] == {"identifiers": [{kind: value}]}
        await s.ok("prepare_vehicle", error["example_arguments"])


@pytest.mark.parametrize("misspelt", ["offer_selectons", "offerselections", "Offer_Selection"])
async def test_a_misspelt_argument_is_renamed_not_removed(tmp_path: Path, misspelt: str):
    selections = [{"sellable_id": offer(7)}]
    async with mcp_session(tmp_path) as s:
        error = await s.fail(
            "place_procurement", {"job": JOB, misspelt: selections}, code="invalid_arguments"
        )
        assert error["fix"] == f"Use `offer_selections` instead of `{misspelt}`."
        assert error["did_you_mean"] == "offer_selections"
        assert "valid_values" not in error
        assert error["example_arguments"]["offer_selections"] == selections


async def test_over_the_spending_limit_the_limit_is_reported_as_the_limit_not_as_a_valid_value(
    tmp_path: Path,
):
    rails = open_rails(settings_for(tmp_path))
    try:
        async with Client(build_server(rails, controls=Controls(max_order_total=Decimal("1000")))) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            # The checked session validates the error against the published output schema.
            error = await Session(client, rails, tools).fail("place_procurement", QUICKSTART)
    finally:
        await rails.client.aclose()
    assert error["code"] == "over_spending_limit"
    assert error["spending_limit"] == {"amount": "1000.00"}
    assert "valid_values" not in error
    assert "field" not in error  # no argument is at fault: the person decides
