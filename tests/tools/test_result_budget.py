"""Every tool result and resource read stays within the token budget, whatever the world's size.

A big world is built through the tools: 1,000 parts on one job (identify_parts in batches of
200), 100 more jobs, 1,000 vehicle identifiers of which most are invalid. Every read then stays
≤ 10,000 tokens (characters ÷ 4 over the text block and the structured content as sent), a
result that had to be cut says so and how to get the rest, and the hard cap holds at 25,000.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp_types import CallToolResult, TextContent, TextResourceContents

from rails_mcp.config import ConfigError, load_settings
from rails_mcp.runtime import open_rails
from rails_mcp.server import build_server
from rails_mcp.wire.budget import DEFAULT_TOKEN_BUDGET, HARD_TOKEN_CAP, fit
from tests.support.mcp_support import JOB, JOB_EXTERNAL, PR1, Session, check_result, settings_for
from tests.support.orders import place_one_order_per_part

pytestmark = pytest.mark.anyio

BIG_JOB = {"external": "BIG-1"}
KINDS = ("Headlamp assembly RH", "Radiator support", "Grille assembly", "Front bumper cover")


def result_tokens(result: CallToolResult) -> float:
    """What the host counts: every text block plus the structured content, as sent."""
    text = sum(len(b.text) for b in result.content if isinstance(b, TextContent))
    structured = len(json.dumps(result.structured_content, ensure_ascii=False, separators=(",", ":")))
    return (text + structured) / 4


@asynccontextmanager
async def big_world(tmp_path: Path, budget: int = DEFAULT_TOKEN_BUDGET) -> AsyncIterator[Session]:
    rails = open_rails(settings_for(tmp_path, "big"))
    try:
        async with Client(build_server(rails, result_token_budget=budget)) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            s = Session(client, rails, tools)
            await s.ok("open_repair_job", {"job": BIG_JOB, "claim_number": "BIG-CLM"})
            for batch in range(5):
                parts = [
                    {"description": f"{KINDS[i % 4]} {batch * 200 + i:04d}", "quantity": 1}
                    for i in range(200)
                ]
                await s.ok("identify_parts", {"job": BIG_JOB, "parts": parts})
            for n in range(100):
                await s.ok("open_repair_job", {"job": {"external": f"JOB-{n:03d}"}})
            yield s
    finally:
        await rails.client.aclose()


READS: list[tuple[str, dict[str, Any]]] = [
    ("get_repair_job", {"job": BIG_JOB}),
    ("list_parts", {"job": BIG_JOB, "limit": 200}),
    ("recommend_basket", {"job": BIG_JOB}),
    ("list_procurements", {"job": JOB}),
    ("track_procurement", {"procurement_id": PR1}),
    ("list_businesses", {}),
    ("list_work_providers", {}),
]
RESOURCES = (
    "scenario://current",
    "rails://jobs/BIG-1/parts",
    "rails://jobs/BIG-1/basket",
    f"rails://jobs/{JOB_EXTERNAL}/parts",
    f"rails://procurements/{PR1}",
)


async def every_result(s: Session) -> list[tuple[str, CallToolResult]]:
    vins = [{"vin": f"BAD{n:04d}"} for n in range(990)] + [{"vin": "JTDBR32E730012345"}] * 10
    results = [("prepare_vehicle", await s.call("prepare_vehicle", {"identifiers": vins}))]
    more = [{"description": f"Extra grille {n:04d}", "quantity": 2} for n in range(200)]
    results.append(("identify_parts", await s.call("identify_parts", {"job": BIG_JOB, "parts": more})))
    for name, args in READS:
        results.append((name, await s.call(name, args)))
    return results


async def every_read(s: Session) -> list[tuple[str, str]]:
    read: list[tuple[str, str]] = []
    for uri in RESOURCES:
        (content,) = (await s.client.read_resource(uri, cache_mode="bypass")).contents
        assert isinstance(content, TextResourceContents)
        read.append((uri, content.text))
    prompt = await s.client.get_prompt("get_started")
    text = "".join(
        m.content.text
        if isinstance(m.content, TextContent)
        else json.dumps(m.content.model_dump(mode="json"))
        for m in prompt.messages
    )
    read.append(("get_started", text))
    return read


async def test_a_big_world_reads_within_the_default_budget_and_says_what_was_cut(tmp_path: Path):
    async with big_world(tmp_path) as s:
        results = await every_result(s)
        reads = await every_read(s)
    for name, result in results:
        assert not result.is_error, name
        assert result_tokens(result) <= DEFAULT_TOKEN_BUDGET, (name, result_tokens(result))
    by_name = dict(results)
    parts = by_name["list_parts"].structured_content or {}  # a 200-part page overflows the budget
    assert 0 < len(parts["parts"]) < 200
    assert f"parts: {len(parts['parts'])} of 200 shown" in parts["truncated"]
    assert "next_cursor" in parts["truncated"]
    assert "next_cursor" in parts  # continuing right after the last part shown
    assert parts["counts"] == {"estimated": 1200, "ordered": 0}  # the counts stay whole
    for uri, text in reads:
        assert len(text) / 4 <= DEFAULT_TOKEN_BUDGET, (uri, len(text) / 4)
    first_page = json.loads(dict(reads)["rails://jobs/BIG-1/parts"])  # paged: 50 of 1200, then a cursor
    assert len(first_page["parts"]) == 50
    assert "next_cursor" in first_page


async def test_write_tools_return_what_they_changed_not_the_whole_job(tmp_path: Path):
    async with big_world(tmp_path) as s:
        results = dict(await every_result(s))
    added = results["identify_parts"].structured_content or {}
    sent = [f"Extra grille {n:04d}" for n in range(200)]
    returned = [p["description"] for p in added["parts"]]
    assert returned == sent[: len(returned)]  # only what this call changed, in the order sent
    if len(returned) < 200:  # 200 parts twice over (text and structure) pass the budget: said so
        assert "parts: " + f"{len(returned)} of 200 shown" in added["truncated"]
        assert "list_parts" in added["truncated"]
    assert added["parts_on_job"] == 1200
    assert added["counts"] == {"estimated": 1200, "ordered": 0}
    prepared = results["prepare_vehicle"].structured_content or {}
    assert (prepared["submitted"], prepared["queued"], prepared["invalid"]) == (1000, 10, 990)
    assert len(prepared["invalid_identifiers"]) == 20
    assert sum(r["count"] for r in prepared["invalid_by_reason"]) == 990
    assert "truncated" not in prepared


async def test_the_scenario_summarises_a_hundred_jobs_and_links_to_the_rest(tmp_path: Path):
    async with big_world(tmp_path) as s:
        await s.client.read_resource("rails://jobs/BIG-1", cache_mode="bypass")  # remembered again
        (content,) = (await s.client.read_resource("scenario://current", cache_mode="bypass")).contents
    assert isinstance(content, TextResourceContents)
    scenario = json.loads(content.text)
    assert "truncated" not in scenario  # a summary by design, not a cut
    assert scenario["totals"]["jobs"] == 50  # the jobs this server remembers, at most
    assert scenario["totals"]["parts_estimated"] == 1000
    shown = scenario["jobs"]
    assert len(shown) + scenario["jobs_not_shown"] == 50
    assert shown[0]["needs_action"]
    assert all(j["resources"]["parts"].startswith("rails://jobs/") for j in shown)


async def test_at_the_hard_cap_results_may_grow_to_25000_tokens_and_no_further(tmp_path: Path):
    async with big_world(tmp_path, budget=HARD_TOKEN_CAP) as s:
        results = await every_result(s)
    sizes = {name: result_tokens(r) for name, r in results}
    assert max(sizes.values()) <= HARD_TOKEN_CAP
    assert sizes["list_parts"] > DEFAULT_TOKEN_BUDGET  # the setting really moved the budget


def test_a_budget_above_the_hard_cap_is_refused_at_start_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RAILS_RESULT_TOKEN_BUDGET", "30000")
    with pytest.raises(ConfigError) as refused:
        load_settings(state_dir=tmp_path)
    assert "RAILS_RESULT_TOKEN_BUDGET" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_fit_cuts_the_longest_list_and_keeps_the_rest_whole():
    value = {"small": [1, 2, 3], "big": [{"n": n, "pad": "x" * 40} for n in range(1000)], "count": 1000}
    fitted = fit(value, lambda v: len(json.dumps(v)), 4000, "Ask for less.", 1000)
    assert len(json.dumps(fitted)) <= 4000
    assert fitted["small"] == [1, 2, 3]
    assert 0 < len(fitted["big"]) < 1000
    assert fitted["big"] == value["big"][: len(fitted["big"])]
    assert fitted["truncated"].endswith(f"(big: {len(fitted['big'])} of 1000 shown). Ask for less.")
    assert len(value["big"]) == 1000  # the caller's value is untouched
    assert fit(value, lambda v: len(json.dumps(v)), 10**9, "", 1000) is value  # small enough: as it was


async def test_a_cut_result_still_validates_against_the_output_schema(tmp_path: Path):
    async with big_world(tmp_path) as s:
        result = await s.call("recommend_basket", {"job": BIG_JOB})
        check_result(s.tools["recommend_basket"], result)
    assert "truncated" in (result.structured_content or {})


async def _every_page(s: Session, tool: str, args: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    out = await s.ok(tool, args)
    while True:
        assert len(json.dumps(out)) / 4 <= DEFAULT_TOKEN_BUDGET
        items += out[key]
        if "next_cursor" not in out:
            return items
        out = await s.ok(tool, {**args, "cursor": out["next_cursor"]})


async def test_a_thousand_parts_a_thousand_orders_and_a_hundred_jobs_page_out_once_within_budget(
    tmp_path: Path,
):
    async with big_world(tmp_path) as s:
        await place_one_order_per_part(s.rails.client, BIG_JOB["external"], 1000)
        results = await every_result(s)
        results += [
            (name, await s.call(name, {"job": BIG_JOB, **extra}))
            for name, extra in (("list_procurements", {}), ("list_parts", {}), ("reconcile_invoice", {}))
        ]
        reads = await every_read(s)
        orders = await _every_page(s, "list_procurements", {"job": BIG_JOB, "limit": 200}, "procurements")
        parts = await _every_page(s, "list_parts", {"job": BIG_JOB, "limit": 200}, "parts")
    for name, result in results:
        assert not result.is_error, (name, result.structured_content)
        assert result_tokens(result) <= DEFAULT_TOKEN_BUDGET, (name, result_tokens(result))
    for uri, text in reads:
        assert len(text) / 4 <= DEFAULT_TOKEN_BUDGET, (uri, len(text) / 4)
    assert len(orders) == len({o["id"] for o in orders}) == 1000
    assert len(parts) == len({p["id"] for p in parts}) == 1200  # every_result added 200
