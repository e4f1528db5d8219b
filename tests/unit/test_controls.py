"""Read-only mode, the tool allow-list and the spending limit as pure rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rails_mcp.config import ConfigError
from rails_mcp.controls import Controls, check_spending_limit, parse_allow_list
from rails_mcp.guard import GuardRefusal
from tests.support.mcp_support import TOOL_NAMES


def test_an_allow_list_of_known_names_is_accepted_with_spaces_trimmed():
    assert parse_allow_list(" list_parts, recommend_basket ", TOOL_NAMES) == {
        "list_parts",
        "recommend_basket",
    }


def test_no_allow_list_means_every_tool():
    assert parse_allow_list(None, TOOL_NAMES) is None


def test_an_unknown_tool_name_stops_start_up_listing_the_valid_ones():
    with pytest.raises(ConfigError) as exc:
        parse_allow_list("list_parts,place_order", TOOL_NAMES)
    text = str(exc.value)
    assert "place_order" in text
    assert "did you mean place_procurement" in text
    for name in TOOL_NAMES:
        assert name in text


def test_an_empty_allow_list_is_a_start_up_error():
    with pytest.raises(ConfigError):
        parse_allow_list(" , ", TOOL_NAMES)


def test_read_only_lists_only_read_only_tools_and_refuses_the_rest():
    controls = Controls(read_only=True)
    assert controls.listed("list_parts", read_only_tool=True)
    assert not controls.listed("place_procurement", read_only_tool=False)
    refusal = controls.refusal("place_procurement", False, ["list_parts"])
    assert refusal is not None
    assert refusal.code == "read_only_mode"
    assert "nothing was written" in refusal.message
    assert controls.refusal("list_parts", True, ["list_parts"]) is None


def test_an_unlisted_tool_is_neither_listed_nor_callable():
    controls = Controls(allowed=frozenset({"list_parts"}))
    assert not controls.listed("recommend_basket", read_only_tool=True)
    refusal = controls.refusal("recommend_basket", True, ["list_parts"])
    assert refusal is not None
    assert refusal.code == "tool_not_allowed"
    assert refusal.valid_values == ["list_parts"]


def test_an_order_above_the_limit_is_refused_with_the_total_and_the_limit():
    with pytest.raises(GuardRefusal) as exc:
        check_spending_limit(Decimal("1099.00"), Decimal("1000"), "NZD")
    assert exc.value.code == "over_spending_limit"
    assert "1099.00 NZD" in exc.value.message
    assert "1000.00 NZD" in exc.value.message


def test_an_order_at_the_limit_or_without_a_limit_passes():
    check_spending_limit(Decimal("1000.00"), Decimal("1000"))
    check_spending_limit(Decimal("99999"), None)
