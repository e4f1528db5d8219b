"""Three ``rails-mcp serve`` replicas sharing one Postgres state store and one wire.

Real processes only: one ``rails-mcp sandbox`` (the wire), a throwaway Postgres cluster named by
``RAILS_STATE_URL``, and three replicas with one ``RAILS_APPROVAL_KEY``. An approval asked on one
replica is answered on another, even after the first is killed with ``kill -9``; after every
replica restarts, an answered state is still refused as replayed (a declined one too, which only
the shared store remembers: its parts were never ordered); and concurrent placements spread over
the replicas against one budget place exactly what it fits. Orders are counted on the wire.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp_types import CallToolResult, ElicitRequestParams, ElicitResult, InputRequiredResult, InputResponses

from rails_mcp.approval import APPROVAL_INPUT_KEY
from tests.support.mcp_support import AMI, JOB, QUICKSTART
from tests.support.postgres import fresh_database, postgres_cluster
from tests.support.process_support import rails_mcp_command
from tests.support.replicas import Cluster, cluster
from tests.support.secret_scan import scan_result
from tests.support.summary import SUMMARY

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

PLACE = "place_procurement"
#: Every order on a job the tests open is one radiator support at 468.00; 3300 a day fits seven of
#: the fifty racing placements.
RACE_ORDERS, RACE_BUDGET, RACE_FITS = 50, "3300/day", 7


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """One throwaway cluster for the module (a failure, not a skip, under CI without Postgres)."""
    with postgres_cluster() as url:
        yield url


async def person(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
    """A host that can ask a person; the answers in these tests travel with the second round."""
    return ElicitResult(action="accept", content={"decision": "approve"})


def data(tool: str, result: CallToolResult | InputRequiredResult) -> dict[str, Any]:
    assert isinstance(result, CallToolResult), result
    scan_result(tool, result)
    assert result.structured_content is not None
    return dict(result.structured_content)


async def call(c: Cluster, replica: int, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    async with Client(c.replica_url(replica), mode="auto", elicitation_callback=person) as client:
        return data(tool, await client.call_tool(tool, arguments))


async def ask(c: Cluster, replica: int, arguments: dict[str, Any]) -> str:
    """Round one on ``replica``: the approval request; its sealed state."""
    async with Client(c.replica_url(replica), mode="auto", elicitation_callback=person) as client:
        asked = await client.session.call_tool(PLACE, arguments, allow_input_required=True)
    assert isinstance(asked, InputRequiredResult), asked.structured_content
    assert asked.request_state is not None
    return asked.request_state


async def answer(
    c: Cluster, replica: int, arguments: dict[str, Any], state: str, decision: str
) -> dict[str, Any]:
    """Round two on ``replica``: the person's decision, returned with the sealed state."""
    responses: InputResponses = {
        APPROVAL_INPUT_KEY: ElicitResult(action="accept", content={"decision": decision})
    }
    async with Client(c.replica_url(replica), mode="auto", elicitation_callback=person) as client:
        result = await client.session.call_tool(
            PLACE, arguments, allow_input_required=True, input_responses=responses, request_state=state
        )
    return data(PLACE, result)


async def orders_on_wire(c: Cluster, replica: int, job: dict[str, Any] = JOB) -> list[str]:
    listed = await call(c, replica, "list_procurements", {"job": job})
    return [p["id"] for p in listed["procurements"]]


async def open_job(c: Cluster, replica: int, external: str) -> dict[str, Any]:
    """A job of its own with one radiator support; its ready-to-place selection (468.00)."""
    job = {"external": external}
    await call(c, replica, "open_repair_job", {"job": job, "work_provider_id": AMI})
    parts = [{"description": "Radiator support", "quantity": 1}]
    await call(c, replica, "identify_parts", {"job": job, "parts": parts})
    return (await call(c, replica, "recommend_basket", {"job": job}))["ready_selection"]


async def test_an_approval_crosses_replicas_survives_a_kill_and_stays_single_use_after_a_restart(
    tmp_path: Path, postgres: str
):
    state_url = fresh_database(postgres)
    with cluster(tmp_path, tenant="pg-approval", RAILS_STATE_URL=state_url) as c:
        second_order = await open_job(c, 1, "SECOND")
        declined_order = await open_job(c, 2, "DECLINED")
        jobs = [JOB, second_order["job"], declined_order["job"]]
        before = [await orders_on_wire(c, 0, job) for job in jobs]
        first_state = await ask(c, 0, QUICKSTART)
        c.kill(0)
        first = await answer(c, 1, QUICKSTART, first_state, "approve")
        after_first = await orders_on_wire(c, 2)

        second_state = await ask(c, 1, second_order)
        second = await answer(c, 2, second_order, second_state, "approve")
        declined_state = await ask(c, 2, declined_order)
        declined = await answer(c, 1, declined_order, declined_state, "decline")
        after_second = [await orders_on_wire(c, 1, job) for job in jobs]

        c.restart_all()
        replayed = await answer(c, 0, QUICKSTART, first_state, "approve")
        replayed_second = await answer(c, 1, second_order, second_state, "approve")
        replayed_declined = await answer(c, 2, declined_order, declined_state, "approve")
        after_restart = [await orders_on_wire(c, 0, job) for job in jobs]

    assert (first["placed"], first["approval"]) == (True, "approved"), first
    assert sorted(after_first) == sorted([*before[0], first["procurement"]["id"]])
    assert (second["placed"], second["approval"]) == (True, "approved"), second
    assert declined["approval"] == "declined"
    assert declined.get("placed") is not True
    assert before[1:] == [[], []]
    assert after_second == [after_first, [second["procurement"]["id"]], []]
    for refused in (replayed, replayed_second, replayed_declined):
        assert refused.get("error", {}).get("code") == "approval_replayed", refused
    assert after_restart == after_second
    SUMMARY.append(
        "replicas on Postgres: asked on 1, 1 killed -9, approved on 2; asked on 2, approved on 3; "
        "after restarting all three the used and the declined states are approval_replayed"
    )


async def test_concurrent_placements_over_three_replicas_place_exactly_what_the_budget_fits(
    tmp_path: Path, postgres: str
):
    state_url = fresh_database(postgres)
    with cluster(
        tmp_path,
        tenant="pg-race",
        RAILS_STATE_URL=state_url,
        RAILS_ORDER_APPROVAL="off",
        RAILS_BUDGET=RACE_BUDGET,
    ) as c:
        selections: dict[int, dict[str, Any]] = {}
        results: dict[int, dict[str, Any]] = {}

        async def prepare(n: int) -> None:
            selections[n] = await open_job(c, n % 3, f"RACE-{n}")

        async def place(n: int) -> None:
            results[n] = await call(c, n % 3, PLACE, selections[n])

        async with anyio.create_task_group() as tg:
            for n in range(RACE_ORDERS):
                tg.start_soon(prepare, n)
        started = anyio.current_time()
        async with anyio.create_task_group() as tg:
            for n in range(RACE_ORDERS):
                tg.start_soon(place, n)
        elapsed = anyio.current_time() - started
        on_wire = {n: await orders_on_wire(c, n % 3, selections[n]["job"]) for n in range(RACE_ORDERS)}

    placed = {n for n, r in results.items() if r.get("placed") is True}
    refused = Counter(r["error"]["code"] for r in results.values() if "error" in r)
    assert {results[n]["procurement"]["total"] for n in placed} == {"468.00"}
    assert (len(placed), refused) == (RACE_FITS, {"over_budget": RACE_ORDERS - RACE_FITS}), results
    assert {n for n, ids in on_wire.items() if ids} == placed
    assert all(len(ids) == 1 for n, ids in on_wire.items() if n in placed)
    SUMMARY.append(
        f"replicas on Postgres: {RACE_ORDERS} concurrent placements over 3 replicas against "
        f"{RACE_BUDGET}: {len(placed)} placed, {refused['over_budget']} over_budget in {elapsed:.2f}s"
    )


async def test_a_listener_on_one_replica_hears_a_confirm_served_by_another_within_two_seconds(
    tmp_path: Path, postgres: str
):
    state_url = fresh_database(postgres)
    with cluster(tmp_path, tenant="pg-listen", RAILS_STATE_URL=state_url, RAILS_ORDER_APPROVAL="off") as c:
        placed = await call(c, 0, PLACE, QUICKSTART)
        uri = f"rails://procurements/{placed['procurement']['id']}"
        async with (
            Client(c.replica_url(1), mode="2026-07-28") as listener,
            listener.listen(resource_subscriptions=[uri]) as stream,
        ):
            started = anyio.current_time()
            confirmed = await call(
                c, 2, "confirm_procurement", {"procurement_id": placed["procurement"]["id"]}
            )
            with anyio.fail_after(2):
                event = await anext(stream)
            heard_after = anyio.current_time() - started
    assert confirmed["procurement"]["status"] == "order_confirmed", confirmed
    assert getattr(event, "uri", None) == uri
    SUMMARY.append(
        "replicas on Postgres: a listener on replica 2 heard replica 3's confirm "
        f"{heard_after:.2f}s after it was sent"
    )


async def test_one_order_history_and_one_audit_trail_span_the_replicas(tmp_path: Path, postgres: str):
    """Placed on replica 1, confirmed on replica 3: replica 2 shows both events, and one export of
    the shared audit table has each replica's line, in time order."""
    state_url = fresh_database(postgres)
    with cluster(tmp_path, tenant="pg-trail", RAILS_STATE_URL=state_url, RAILS_ORDER_APPROVAL="off") as c:
        placed = await call(c, 0, PLACE, QUICKSTART)
        pid = placed["procurement"]["id"]
        await call(c, 2, "confirm_procurement", {"procurement_id": pid})
        tracked = await call(c, 1, "track_procurement", {"procurement_id": pid})
        env = c.replica_envs[0]
    assert [(e["source"], e["action"]) for e in tracked["events"]] == [
        ("server_write", "placed"),
        ("server_write", "confirmed"),
    ], tracked["events"]
    with anyio.fail_after(60):
        exported = await anyio.run_process(rails_mcp_command("audit", "export"), env=env)
    lines = [json.loads(line) for line in exported.stdout.decode().splitlines()]
    calls = [(line["tool"], line["pid"]) for line in lines if line.get("kind") != "intent"]
    tools = [tool for tool, _ in calls]
    assert tools.index(PLACE) < tools.index("confirm_procurement") < tools.index("track_procurement"), tools
    by_tool = dict(calls)
    assert len({by_tool[PLACE], by_tool["confirm_procurement"], by_tool["track_procurement"]}) == 3
