"""Budgets and idempotency keys as an agent meets them through place_procurement, on both backends;
and the budget race: 50 placements at once across 3 servers sharing one store and one wire."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from jsonschema import Draft202012Validator
from mcp import Client

from rails_mcp.config import load_settings
from rails_mcp.runtime import open_rails
from rails_mcp.server import build_server
from rails_mcp.spending import call_digest
from rails_mcp.state import BudgetRule, Ledger, StateStore
from rails_mcp.telemetry import metrics_of
from tests.support.mcp_support import AMI, QUICKSTART, QUICKSTART_TOTAL
from tests.support.postgres import fresh_database

pytestmark = pytest.mark.anyio

Open = Callable[[], StateStore]


def server(tmp_path: Path, store: StateStore, budget: str | None, tenant: str = "budget", **ledger: Any):
    rule = None
    if budget is not None:
        amount, period = budget.split("/")
        rule = BudgetRule(Decimal(amount), period)  # pyright: ignore[reportArgumentType]
    rails = open_rails(load_settings(state_dir=tmp_path, tenant=tenant))
    return build_server(rails, ledger=Ledger(store, tenant=tenant, budget=rule, **ledger))


async def call(client: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(name, args)
    return {"is_error": result.is_error, **(result.structured_content or {})}


async def test_a_placement_over_the_budget_is_refused_with_what_is_left_and_when_it_resets(
    open_store: Open, tmp_path: Path
):
    now = datetime(2026, 12, 2, 10, 0, tzinfo=UTC).timestamp()
    async with Client(server(tmp_path, open_store(), "1000/day", clock=lambda: now)) as client:
        refused = await call(client, "place_procurement", QUICKSTART)
        (tool,) = [t for t in (await client.list_tools()).tools if t.name == "place_procurement"]
    assert tool.output_schema is not None
    Draft202012Validator(tool.output_schema).validate({k: v for k, v in refused.items() if k != "is_error"})
    error = refused["error"]
    assert (refused["is_error"], error["code"], error["retryable"]) == (True, "over_budget", False)
    assert error["budget"] == {"remaining": "1000.00", "period": "day", "resets_at": "2026-12-03T00:00:00Z"}
    assert "field" not in error  # no argument is at fault
    assert "valid_values" not in error
    assert "2026-12-03T00:00:00Z" in error["message"]


async def test_a_placed_order_is_counted_and_the_window_rolls_over_at_midnight_utc(
    open_store: Open, tmp_path: Path
):
    clock = [datetime(2026, 12, 2, 23, 0, tzinfo=UTC).timestamp()]
    store = open_store()
    async with Client(server(tmp_path, store, "1500/day", clock=lambda: clock[0])) as client:
        placed = await call(client, "place_procurement", QUICKSTART)
        job = {"external": "BUDGET-2"}
        await call(client, "open_repair_job", {"job": job, "work_provider_id": AMI})
        await call(
            client,
            "identify_parts",
            {"job": job, "parts": [{"description": "Radiator support", "quantity": 1}]},
        )
        selection = (await call(client, "recommend_basket", {"job": job}))["ready_selection"]
        second = await call(client, "place_procurement", selection)
        clock[0] += 3600  # 00:00 UTC: a new day, a new window
        third = await call(client, "place_procurement", selection)
    assert placed["placed"] is True
    assert (second["error"]["code"], second["error"]["budget"]["remaining"]) == ("over_budget", "401.00")
    assert second["error"]["budget"]["currency_code"] == placed["procurement"]["currency_code"]
    assert third["placed"] is True


async def test_an_idempotency_key_replays_the_first_placement_and_refuses_other_arguments(
    open_store: Open, tmp_path: Path
):
    keyed = {**QUICKSTART, "idempotency_key": "order-7"}
    async with Client(server(tmp_path, open_store(), "1500/day")) as client:
        first = await call(client, "place_procurement", keyed)
        again = await call(client, "place_procurement", keyed)
        other = await call(client, "place_procurement", {**keyed, "dry_run": True})
        listed = await call(client, "list_procurements", {"job": QUICKSTART["job"]})
    assert first["placed"] is True
    assert "idempotent_replay" not in first
    assert again["idempotent_replay"] is True
    assert again["procurement"]["id"] == first["procurement"]["id"]
    assert (other["error"]["code"], other["error"]["field"]) == ("idempotency_conflict", "idempotency_key")
    placed_ids = [p["id"] for p in listed["procurements"]]
    assert placed_ids.count(first["procurement"]["id"]) == 1  # the replay placed nothing, counted nothing


async def test_a_retry_while_the_first_call_runs_is_told_to_wait(open_store: Open, tmp_path: Path):
    keyed = {**QUICKSTART, "idempotency_key": "slow-1"}
    store = open_store()
    store.begin_idempotent("budget", "slow-1", call_digest(keyed))  # a call on another replica, running
    async with Client(server(tmp_path, store, None)) as client:
        waiting = await call(client, "place_procurement", keyed)
    assert (waiting["error"]["code"], waiting["error"]["retryable"]) == ("idempotency_in_flight", True)


async def test_fifty_placements_across_three_servers_place_exactly_what_the_budget_fits(
    postgres_url: str, tmp_path: Path
):
    """One Postgres store, one wire, three servers; each order is 468.00 and 3300 fits seven."""
    from rails_mcp.state import open_state_store

    url = fresh_database(postgres_url)
    stores = [open_state_store(url) for _ in range(3)]
    servers = [server(tmp_path, s, "3300/day", tenant="race") for s in stores]
    selections: list[dict[str, Any]] = []
    async with Client(servers[0]) as setup:
        for n in range(50):
            job = {"external": f"RACE-{n}"}
            await call(setup, "open_repair_job", {"job": job, "work_provider_id": AMI})
            await call(
                setup,
                "identify_parts",
                {"job": job, "parts": [{"description": "Radiator support", "quantity": 1}]},
            )
            selections.append((await call(setup, "recommend_basket", {"job": job}))["ready_selection"])
    results: list[dict[str, Any]] = []
    async with Client(servers[0]) as a, Client(servers[1]) as b, Client(servers[2]) as c:
        clients = [a, b, c]

        async def place(n: int) -> None:
            results.append(await call(clients[n % 3], "place_procurement", selections[n]))

        async with anyio.create_task_group() as tg:
            for n in range(50):
                tg.start_soon(place, n)
    for s in stores:
        s.close()
    placed = [r for r in results if not r["is_error"]]
    refused = {r["error"]["code"] for r in results if r["is_error"]}
    assert {r["procurement"]["total"] for r in placed} == {"468.00"}
    assert (len(placed), refused) == (7, {"over_budget"})


def budget_left(built: Any) -> dict[str, float]:
    """What ``/metrics`` serves as ``rails_mcp_budget_remaining``, by currency."""
    metrics = metrics_of(built)
    assert metrics is not None
    (family,) = [f for f in metrics.registry.collect() if f.name == "rails_mcp_budget_remaining"]
    return {s.labels["currency"]: s.value for s in family.samples}


async def test_the_budget_gauge_shows_what_is_left_after_a_placement(open_store: Open, tmp_path: Path):
    built = server(tmp_path, open_store(), "5000/day")
    before = budget_left(built)
    async with Client(built) as client:
        placed = await call(client, "place_procurement", QUICKSTART)
    procurement = placed["procurement"]
    left = budget_left(built)
    assert before == {"unknown": 5000.0}  # no order yet: the budget counts no currency so far
    assert left == {procurement["currency_code"]: 5000.0 - float(procurement["total"])}
    assert left == {procurement["currency_code"]: 5000.0 - float(QUICKSTART_TOTAL)}


async def test_the_budget_gauge_is_empty_without_a_budget_or_with_budgets_per_principal(
    open_store: Open, tmp_path: Path
):
    store = open_store()
    unbudgeted = server(tmp_path, store, None)
    per_principal = server(tmp_path, store, "5000/day", per_principal=True)
    async with Client(per_principal) as client:
        placed = await call(client, "place_procurement", QUICKSTART)
    assert placed["placed"] is True
    assert budget_left(unbudgeted) == {}
    assert budget_left(per_principal) == {}
