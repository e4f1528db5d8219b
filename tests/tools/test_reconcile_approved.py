"""reconcile_invoice compares against what a person approved, not only against what was ordered:
an order placed after an approval is kept in the state store, and each invoice line is matched
against the ordered line and the approved line alike, across a restart too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp_types import ElicitRequestParams, ElicitResult

from rails_mcp.approval import ApprovalGate
from rails_mcp.runtime import open_client, open_rails
from rails_mcp.server import build_server
from rails_mcp.state import STATE_FILE_NAME, open_state_store
from rails_mcp.tools import Rails
from tests.support.mcp_support import ERAS, QUICKSTART, QUICKSTART_TOTAL, Session, offer, settings_for

pytestmark = pytest.mark.anyio

KEY = b"approval-key-for-the-tests-0123456789abcdef"
DEV_ROUTE = "/__dev/invoice_discrepancy"


async def approve(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
    """The person behind the host approves every order they are shown."""
    return ElicitResult(action="accept", content={"decision": "approve"})


@asynccontextmanager
async def served(rails: Rails, mode: str = "legacy") -> AsyncIterator[Session]:
    """A server asking a person to approve each placement (who approves)."""
    gate = ApprovalGate("ask", KEY, audience="rails-mcp/approval|tests")
    try:
        async with Client(
            build_server(rails, approval=gate), mode=mode, elicitation_callback=approve
        ) as client:
            yield Session(client, rails, {t.name: t for t in (await client.list_tools()).tools})
    finally:
        await rails.client.aclose()


async def approved_and_confirmed(s: Session, **change: Any) -> str:
    """QUICKSTART placed after approval; the supplier invoices it with ``change`` and confirms."""
    placed = await s.ok("place_procurement", QUICKSTART)
    assert placed["approval"] == "approved"
    pid = placed["procurement"]["id"]
    if change:
        body = {"procurement_id": pid, "sellable_id": offer(0x07), **change}
        answer = await s.rails.client.dev_post(DEV_ROUTE, body, credential="supplier")
        assert answer.status_code == 200, answer.text
    await s.ok("confirm_procurement", {"procurement_id": pid})
    return pid


@pytest.mark.parametrize("mode", ERAS)
async def test_an_invoice_at_another_price_than_approved_needs_attention_citing_the_approved_price(
    tmp_path: Path, mode: str
):
    async with served(open_rails(settings_for(tmp_path)), mode) as s:
        pid = await approved_and_confirmed(s, unit_price="650.00")
        out = await s.ok("reconcile_invoice", {"procurement_id": pid})
    assert out["status"] == "needs_attention"
    (order,) = out["orders"]
    assert order["matched"] is False
    (approval,) = [p for p in order["problems"] if "approved" in p]
    assert approval.endswith(f"({offer(0x07)}): approved 1 × 631.00, invoiced 1 × 650.00.")
    assert approval.startswith('"')  # the part's name is the wire's: shown quoted, as data


async def test_the_seeded_order_approved_and_invoiced_unchanged_reconciles_at_1099_nzd(tmp_path: Path):
    settings = settings_for(tmp_path)
    async with served(open_rails(settings)) as s:
        pid = await approved_and_confirmed(s)
        out = await s.ok("reconcile_invoice", {"procurement_id": pid})
    (order,) = out["orders"]
    assert (out["status"], order["matched"], "problems" in order) == ("reconciled", True, False)
    assert (order["invoiced_total"], out["invoices"][0]["currency_code"]) == (QUICKSTART_TOTAL, "NZD")
    kept = open_state_store(settings.resolved_state_dir() / STATE_FILE_NAME).approved_order(pid)
    assert kept is not None
    assert (kept["total"], kept["currency"]) == (QUICKSTART_TOTAL, "NZD")
    assert [(line["sellable_id"], line["quantity"], line["trade_price"]) for line in kept["lines"]] == [
        (offer(0x07), 1, "631.00"),
        (offer(0x0A), 1, "468.00"),
    ]


async def test_an_order_that_differs_from_its_approval_needs_attention_though_the_invoice_matches_it(
    tmp_path: Path,
):
    """The third side on its own: ordered and invoiced agree, the approval said otherwise."""
    settings = settings_for(tmp_path)
    rails = open_rails(settings)
    assert rails.store is not None
    async with served(rails) as s:
        pid = await approved_and_confirmed(s)
        kept = rails.store.approved_order(pid)
        assert kept is not None
        kept["lines"][0]["trade_price"] = "600.00"  # what the person saw, had the wire priced it so
        rails.store.record_approved_order(pid, kept)
        out = await s.ok("reconcile_invoice", {"procurement_id": pid})
    assert out["status"] == "needs_attention"
    problems = out["orders"][0]["problems"]
    assert any(p.endswith("approved 1 × 600.00, ordered 1 × 631.00.") for p in problems)
    assert any(p.endswith("approved 1 × 600.00, invoiced 1 × 631.00.") for p in problems)
    assert "differences" not in out["orders"][0]  # against the order alone, every line matched


async def test_after_a_restart_the_invoice_is_still_compared_with_the_approval(tmp_path: Path):
    settings = settings_for(tmp_path)
    async with served(open_rails(settings)) as s:
        pid = await approved_and_confirmed(s, unit_price="650.00")
    # A new server over the same state directory, reading the state file afresh.
    fresh = open_state_store(settings.resolved_state_dir() / STATE_FILE_NAME)
    async with served(Rails(open_client(settings), fresh)) as s:
        out = await s.ok("reconcile_invoice", {"procurement_id": pid})
    assert out["status"] == "needs_attention"
    assert any("approved 1 × 631.00, invoiced 1 × 650.00" in p for p in out["orders"][0]["problems"])
