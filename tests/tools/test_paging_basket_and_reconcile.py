"""Paging the basket's offers and a job's reconciliation: every offer and every order exactly once,
the verdict (ready_selection, status) of the whole answer on every page, and cursors that cannot
be altered or carried to another filter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from rails_mcp.runtime import open_rails
from rails_mcp.server import build_server
from rails_mcp.tools.basket import SELECTION_LIMIT
from tests.support.mcp_support import JOB, S1, Session, mcp_session, settings_for, text_of
from tests.tools.test_paging import altered

pytestmark = pytest.mark.anyio

BASKET_JOB = {"external": "PAGING-BASKET"}
#: A result budget small enough that a default page is cut to fit (tokens).
SMALL_BUDGET = 2_500
#: More pages than any list here has: a cursor that does not move on fails, not hangs.
MAX_PAGES = 200
PRICED_PARTS = 120


async def _priced_job(s: Session, parts: int = PRICED_PARTS) -> None:
    """A job of ``parts`` parts every basket supplier prices (one offer per part and supplier)."""
    await s.ok("open_repair_job", {"job": BASKET_JOB})
    for start in range(0, parts, 60):
        batch = [
            {"description": f"Front bumper cover {n}", "quantity": 1}
            for n in range(start, min(parts, start + 60))
        ]
        await s.ok("identify_parts", {"job": BASKET_JOB, "parts": batch})


@asynccontextmanager
async def _budgeted(tmp_path: Path, budget: int) -> AsyncIterator[Session]:
    """A seeded tenant served with a result budget of ``budget`` tokens."""
    rails = open_rails(settings_for(tmp_path, "small"))
    try:
        async with Client(build_server(rails, result_token_budget=budget)) as client:
            yield Session(client, rails, {t.name: t for t in (await client.list_tools()).tools})
    finally:
        await rails.client.aclose()


async def _pages(s: Session, tool: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page from the first to the one without next_cursor, whole."""
    pages = [await s.ok(tool, args)]
    while "next_cursor" in pages[-1]:
        assert len(pages) < MAX_PAGES, "next_cursor never ends"
        pages.append(await s.ok(tool, {**args, "cursor": pages[-1]["next_cursor"]}))
    return pages


def _offers(page: dict[str, Any]) -> list[tuple[str, str]]:
    return [(block["business_id"], o["sellable_id"]) for block in page["suppliers"] for o in block["offers"]]


async def test_paging_the_basket_shows_every_offer_once_and_the_whole_basket_s_selection(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        await _priced_job(s)
        every = {"job": BASKET_JOB, "confirmable_only": False}
        pages = await _pages(s, "recommend_basket", every)
        small = await _pages(s, "recommend_basket", {**every, "limit": 7})
        confirmable = await _pages(s, "recommend_basket", {"job": BASKET_JOB})
        summary = text_of(s.results[-1])
    offers = [o for page in pages for o in _offers(page)]
    suppliers = {supplier for supplier, _ in offers}
    assert len(suppliers) >= 2
    assert len(offers) == PRICED_PARTS * len(suppliers)
    assert len(set(offers)) == len(offers)
    assert [len(_offers(p)) for p in pages] == [50] * (len(offers) // 50) + [len(offers) % 50]
    assert sorted(o for p in small for o in _offers(p)) == sorted(offers)
    assert all(len(_offers(p)) <= 7 for p in small)
    # A supplier whose offers run on past a page is named again on the next, never twice on one.
    for page in pages:
        named = [block["business_id"] for block in page["suppliers"]]
        assert len(named) == len(set(named))
    assert any(len(page["suppliers"]) == 2 for page in pages)
    # The selection and the next step are the whole basket's, the same on every page.
    selection = pages[0]["ready_selection"]
    assert len(selection["offer_selections"]) == SELECTION_LIMIT  # what one place_procurement takes
    assert all(p["ready_selection"] == selection and p["next_tool"] == "place_procurement" for p in pages)
    assert {o for p in confirmable for o in _offers(p)} == {o for o in offers if o[0] == S1}
    assert "next_cursor" not in pages[-1]
    assert f"the first {SELECTION_LIMIT} of {PRICED_PARTS} ready offers" in summary


async def test_a_ready_selection_over_one_call_s_limit_places_as_is_and_the_rest_follows(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        await _priced_job(s)
        first = (await s.ok("recommend_basket", {"job": BASKET_JOB}))["ready_selection"]
        await s.ok("place_procurement", first)
        rest = await s.ok("recommend_basket", {"job": BASKET_JOB})
    placed = {o["sellable_id"] for o in first["offer_selections"]}
    assert len(rest["ready_selection"]["offer_selections"]) == PRICED_PARTS - SELECTION_LIMIT
    assert not placed & {o["sellable_id"] for o in rest["ready_selection"]["offer_selections"]}


async def test_a_basket_cursor_altered_or_sent_with_another_filter_is_invalid_cursor(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        await _priced_job(s)
        first = await s.ok("recommend_basket", {"job": BASKET_JOB})
        cursor = first["next_cursor"]
        refused = [
            await s.fail(
                "recommend_basket", {"job": BASKET_JOB, "cursor": altered(cursor)}, "invalid_cursor"
            ),
            await s.fail(
                "recommend_basket",
                {"job": BASKET_JOB, "confirmable_only": True, "cursor": cursor},
                "invalid_cursor",
            ),
            await s.fail("recommend_basket", {"job": JOB, "cursor": cursor}, "invalid_cursor"),
            await s.fail("list_parts", {"job": BASKET_JOB, "cursor": cursor}, "invalid_cursor"),
        ]
        again = await s.ok("recommend_basket", refused[0]["example_arguments"])
    assert all(error["field"] == "cursor" for error in refused)
    assert refused[0]["example_arguments"] == {"job": BASKET_JOB}
    assert again["suppliers"] == first["suppliers"]


async def _orders_one_by_one(s: Session) -> list[str]:
    """Five confirmed orders on one job, an offer each; the third invoiced above its ordered price."""
    await _priced_job(s, parts=5)
    selection = (await s.ok("recommend_basket", {"job": BASKET_JOB}))["ready_selection"]
    placed: list[str] = []
    for n, chosen in enumerate(selection["offer_selections"]):
        order = await s.ok("place_procurement", {"job": BASKET_JOB, "offer_selections": [chosen]})
        pid = order["procurement"]["id"]
        if n == 2:
            answer = await s.rails.client.dev_post(
                "/__dev/invoice_discrepancy",
                {"procurement_id": pid, "unit_price": "9999.00"},
                credential="supplier",
            )
            assert answer.status_code == 200, answer.text
        await s.ok("confirm_procurement", {"procurement_id": pid})
        placed.append(pid)
    assert len(placed) == 5
    return placed


async def test_reconcile_by_job_pages_every_order_once_needing_attention_first(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        placed = await _orders_one_by_one(s)
        whole = await s.ok("reconcile_invoice", {"job": BASKET_JOB})
        pages = await _pages(s, "reconcile_invoice", {"job": BASKET_JOB, "limit": 2})
        refused = await s.fail(
            "reconcile_invoice",
            {"job": BASKET_JOB, "limit": 2, "cursor": altered(pages[0]["next_cursor"])},
            "invalid_cursor",
        )
        foreign = await s.fail(
            "reconcile_invoice",
            {"procurement_id": placed[0], "cursor": pages[0]["next_cursor"]},
            "invalid_cursor",
        )
    every = [o["procurement_id"] for o in whole["orders"]]
    paged = [o["procurement_id"] for page in pages for o in page["orders"]]
    assert set(placed) <= set(every)
    assert "next_cursor" not in whole
    assert paged == every  # the same orders in the same order, each exactly once
    assert len(paged) == len(set(paged))
    assert len(pages) == -(-len(every) // 2)
    assert all(len(page["orders"]) <= 2 for page in pages)
    assert pages[0]["orders"][0]["procurement_id"] == placed[2]
    assert pages[0]["orders"][0]["matched"] is False
    assert all(page["status"] == "needs_attention" for page in pages)
    for page in pages:  # each page carries the invoices of its own orders only
        assert {i["procurement_id"] for i in page["invoices"]} == {
            o["procurement_id"] for o in page["orders"]
        }
    assert refused["example_arguments"] == {"job": BASKET_JOB, "limit": 2}
    assert foreign["field"] == "cursor"


async def test_a_basket_page_cut_to_fit_the_budget_continues_after_its_last_offer(tmp_path: Path):
    async with mcp_session(tmp_path, tenant="small") as whole:
        await _priced_job(whole)
        every = [
            o for page in await _pages(whole, "recommend_basket", {"job": BASKET_JOB}) for o in _offers(page)
        ]
    async with _budgeted(tmp_path, SMALL_BUDGET) as s:
        pages = await _pages(s, "recommend_basket", {"job": BASKET_JOB})
    cut = [p for p in pages if "truncated" in p]
    assert cut  # the budget really cut pages short
    assert all(_offers(p) for p in pages)  # and every page still moves on
    assert [o for p in pages for o in _offers(p)] == every  # each offer once, in order


async def test_a_reconcile_page_cut_to_fit_the_budget_continues_after_its_last_order(tmp_path: Path):
    async with mcp_session(tmp_path, tenant="small") as whole:
        await _orders_one_by_one(whole)
        every = [
            o["procurement_id"] for o in (await whole.ok("reconcile_invoice", {"job": BASKET_JOB}))["orders"]
        ]
    async with _budgeted(tmp_path, 1_500) as s:
        pages = await _pages(s, "reconcile_invoice", {"job": BASKET_JOB})
    assert any("truncated" in p for p in pages)
    assert all(p["orders"] for p in pages)
    assert [o["procurement_id"] for p in pages for o in p["orders"]] == every
