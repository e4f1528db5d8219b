"""recommend_basket shows what can still be ordered (offers for ordered parts only when asked),
filters by supplier or confirmability, and when nothing can be placed says why and which step,
if any, can change that, instead of pointing at place_procurement."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.mcp_support import AMI, JOB, QUICKSTART, S1, S2, mcp_session, offer

pytestmark = pytest.mark.anyio


def _offers(out: dict[str, object]) -> list[str]:
    return [o["sellable_id"] for s in out["suppliers"] for o in s["offers"]]  # type: ignore[index,union-attr]


async def test_offers_for_ordered_parts_are_left_out_unless_asked(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        every = {"job": JOB, "confirmable_only": False}
        lean = await s.ok("recommend_basket", every)
        full = await s.ok("recommend_basket", {**every, "include_ordered": True})
    assert offer(1) not in _offers(lean)  # the seeded PR-1 ordered part 1 through offer 1
    assert offer(1) in _offers(full)
    assert len(_offers(full)) == 12
    assert all("ordered" not in o["part_status"] for x in lean["suppliers"] for o in x["offers"])
    assert lean["ready_selection"] == full["ready_selection"]


async def test_the_supplier_and_confirmable_filters_keep_only_those_suppliers(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        one = await s.ok(
            "recommend_basket", {"job": JOB, "supplier_business_id": S2, "confirmable_only": False}
        )
        confirmable = await s.ok("recommend_basket", {"job": JOB})  # by default: only who can confirm
        hidden = await s.ok("recommend_basket", {"job": JOB, "supplier_business_id": S2})
        other = {"job": JOB, "supplier_business_id": "99999999-0000-4000-8000-000000000099"}
        none = await s.ok("recommend_basket", other)
    assert [x["business_id"] for x in one["suppliers"]] == [S2]
    assert [x["business_id"] for x in confirmable["suppliers"]] == [S1]
    assert hidden["suppliers"] == []  # S2 cannot confirm: its offers only when asked
    assert none["suppliers"] == []  # a supplier with no offer here: nothing shown, nothing refused
    assert none["ready_selection"] == one["ready_selection"]  # the filters shape what is shown only


async def test_when_only_unconfirmable_suppliers_are_left_it_says_so_and_names_no_tool(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        await s.ok("place_procurement", QUICKSTART)
        out = await s.ok("recommend_basket", {"job": JOB})
    assert "ready_selection" not in out
    assert "next_tool" not in out
    assert "cannot confirm" in out["reason"]
    assert out["estimated_parts_not_confirmable"]


async def test_when_every_part_is_ordered_or_none_is_known_it_points_at_the_real_next_step(tmp_path: Path):
    job = {"external": "NEXT-1"}
    async with mcp_session(tmp_path) as s:
        await s.ok("open_repair_job", {"job": job, "work_provider_id": AMI})
        empty = await s.ok("recommend_basket", {"job": job})
        await s.ok(
            "identify_parts", {"job": job, "parts": [{"description": "Headlamp assembly", "quantity": 1}]}
        )
        unpriced = await s.ok("recommend_basket", {"job": job})
        ordered = {"external": "DONE-1"}
        await s.ok("open_repair_job", {"job": ordered, "work_provider_id": AMI})
        radiator = [{"description": "Radiator support", "quantity": 1}]
        await s.ok("identify_parts", {"job": ordered, "parts": radiator})
        await s.ok("place_procurement", (await s.ok("recommend_basket", {"job": ordered}))["ready_selection"])
        done = await s.ok("recommend_basket", {"job": ordered})
    assert (empty["next_tool"], "no parts" in empty["reason"]) == ("identify_parts", True)
    assert unpriced["next_tool"] == "identify_parts"
    assert "describe them more exactly" in unpriced["reason"]
    assert "next_tool" not in done
    assert "list_procurements" in done["reason"]
