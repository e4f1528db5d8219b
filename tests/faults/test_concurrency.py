"""A crowd of agents at once: no double order, no second invoice, no cross-talk between tenants."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server import Server

from rails_mcp.config import load_settings
from rails_mcp.runtime import open_rails
from rails_mcp.server import build_server
from tests.support.mcp_support import JOB, QUICKSTART

pytestmark = pytest.mark.anyio


def server_for(tmp_path: Path, tenant: str) -> Server[Any]:
    return build_server(open_rails(load_settings(state_dir=tmp_path, tenant=tenant)))


async def call(client: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(name, args)
    return {"is_error": result.is_error, **(result.structured_content or {})}


async def gather(n: int, make: Any) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []

    async def one() -> None:
        results.append(await make())

    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(one)
    return results


async def test_fifty_parallel_confirmations_confirm_once_and_create_one_invoice(tmp_path: Path):
    async with Client(server_for(tmp_path, "confirm50")) as client:
        placed = await call(client, "place_procurement", QUICKSTART)
        pid = placed["procurement"]["id"]
        results = await gather(50, lambda: call(client, "confirm_procurement", {"procurement_id": pid}))
        invoices = await call(client, "reconcile_invoice", {"procurement_id": pid})
    assert [r["is_error"] for r in results] == [False] * 50
    assert {r["procurement"]["status"] for r in results} == {"order_confirmed"}
    assert Counter(r["was_already_confirmed"] for r in results)[False] >= 1
    assert len(invoices["invoices"]) == 1
    assert invoices["invoices"][0]["total"] == "1099.00"


async def test_fifty_parallel_placements_of_the_same_offers_make_exactly_one_procurement(tmp_path: Path):
    async with Client(server_for(tmp_path, "place50")) as client:
        results = await gather(50, lambda: call(client, "place_procurement", QUICKSTART))
        listed = await call(client, "list_procurements", {"job": JOB})
    placed = [r for r in results if not r["is_error"]]
    refused = [r["error"] for r in results if r["is_error"]]
    assert len(placed) == 1
    assert len(refused) == 49
    assert {e["code"] for e in refused} == {"part_already_ordered"}
    assert all(e["retryable"] is False for e in refused)
    new = [p for p in listed["procurements"] if p["reference"] != "PR-1"]
    assert [p["id"] for p in new] == [placed[0]["procurement"]["id"]]


async def test_ten_tenants_driven_in_parallel_see_only_their_own_orders(tmp_path: Path):
    outcomes: dict[str, dict[str, Any]] = {}

    async def drive(tenant: str) -> None:
        async with Client(server_for(tmp_path, tenant)) as client:
            placed = await call(client, "place_procurement", QUICKSTART)
            pid = placed["procurement"]["id"]
            await call(client, "confirm_procurement", {"procurement_id": pid})
            listed = await call(client, "list_procurements", {"job": JOB})
            invoices = await call(client, "reconcile_invoice", {"job": JOB})
            outcomes[tenant] = {"pid": pid, "listed": listed, "invoices": invoices}

    tenants = [f"crowd-{i}" for i in range(10)]
    async with anyio.create_task_group() as tg:
        for tenant in tenants:
            tg.start_soon(drive, tenant)

    all_ids = {o["pid"] for o in outcomes.values()}
    assert len(all_ids) == 10
    for tenant in tenants:
        mine = outcomes[tenant]
        seen = {p["id"] for p in mine["listed"]["procurements"]}
        assert seen & all_ids == {mine["pid"]}, f"{tenant} sees another tenant's order"
        assert [i["procurement_id"] for i in mine["invoices"]["invoices"]] == [mine["pid"]]
