"""Three ``rails-mcp serve`` replicas behind a balancer without sticky sessions (2026-07-28).

One ``rails-mcp sandbox`` is the shared wire; the replicas share nothing else but
``RAILS_APPROVAL_KEY``. A client's calls land on different replicas, an approval started on
one is answered on another, and 50 concurrent placements of the same parts spread over the
replicas place exactly one order. The figures are printed with the test summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, ElicitRequestParams, ElicitResult, ErrorData, InputRequiredResult

from tests.support.mcp_support import JOB, QUICKSTART
from tests.support.replicas import Cluster, RoundRobin, cluster
from tests.support.secret_scan import scan_result
from tests.support.summary import SUMMARY

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

PLACE = "place_procurement"


async def approve(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
    return ElicitResult(action="accept", content={"decision": "approve"})


@asynccontextmanager
async def balanced_client(c: Cluster, balancer: RoundRobin, *, person: Any = None) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(transport=balancer, timeout=60) as http,
        Client(streamable_http_client(c.url, http_client=http), elicitation_callback=person) as client,
    ):
        assert client.protocol_version == "2026-07-28"
        yield client


def result_of(result: CallToolResult) -> dict[str, Any]:
    scan_result(PLACE, result)
    assert result.structured_content is not None
    return dict(result.structured_content)


async def count_orders(client: Client) -> int:
    listed = await client.call_tool("list_procurements", {"job": JOB})
    assert listed.structured_content is not None
    return len(listed.structured_content["procurements"])


async def test_calls_spread_over_replicas_and_an_approval_crosses_them(tmp_path: Path):
    with cluster(tmp_path) as c:
        balancer = RoundRobin(c.replica_ports)
        async with balanced_client(c, balancer, person=approve) as client:
            before = await count_orders(client)
            first = await client.session.call_tool(PLACE, QUICKSTART, allow_input_required=True)
            assert isinstance(first, InputRequiredResult)
            asked_on = balancer.served[-1].replica
            assert first.input_requests is not None
            (request,) = first.input_requests.values()
            answer = await approve(None, request.params)  # type: ignore[arg-type]
            placed = await client.session.call_tool(
                PLACE,
                QUICKSTART,
                allow_input_required=True,
                input_responses={next(iter(first.input_requests)): answer},  # type: ignore[dict-item]
                request_state=first.request_state,
            )
            answered_on = balancer.served[-1].replica
            assert isinstance(placed, CallToolResult)
            data = result_of(placed)
            again = await client.session.call_tool(
                PLACE,
                QUICKSTART,
                allow_input_required=True,
                input_responses={next(iter(first.input_requests)): answer},  # type: ignore[dict-item]
                request_state=first.request_state,
            )
            replayed_on = balancer.served[-1].replica
            after = await count_orders(client)
    assert not placed.is_error, data
    assert data["approval"] == "approved"
    assert asked_on != answered_on
    assert isinstance(again, CallToolResult)
    assert result_of(again)["error"]["code"] == "approval_replayed"
    assert replayed_on not in {answered_on}
    assert after == before + 1
    calls = [s.replica for s in balancer.served if s.rpc_method == "tools/call"]
    assert len(set(calls)) >= 2
    SUMMARY.append(
        f"replicas: approval asked on replica {asked_on}, answered on {answered_on}, replay refused on "
        f"{replayed_on}; tools/call spread {dict(sorted(Counter(calls).items()))}"
    )


async def test_fifty_concurrent_placements_over_three_replicas_place_exactly_one_order(tmp_path: Path):
    with cluster(tmp_path, tenant="race") as c:
        balancer = RoundRobin(c.replica_ports)
        outcomes: list[str] = []
        async with balanced_client(c, balancer) as client:
            before = await count_orders(client)
            start = len(balancer.served)

            async def place() -> None:
                data = result_of(await client.call_tool(PLACE, QUICKSTART))
                outcomes.append(data["error"]["code"] if "error" in data else f"placed ({data['approval']})")

            started = anyio.current_time()
            async with anyio.create_task_group() as tg:
                for _ in range(50):
                    tg.start_soon(place)
            elapsed = anyio.current_time() - started
            after = await count_orders(client)
        spread = Counter(s.replica for s in balancer.served[start:] if s.tool == PLACE)
    counted = Counter(outcomes)
    assert counted == {"placed (not_requested (host cannot ask))": 1, "part_already_ordered": 49}, counted
    assert after == before + 1
    assert len(spread) == 3
    SUMMARY.append(
        f"replicas: 50 concurrent placements over 3 replicas {dict(sorted(spread.items()))}: "
        f"1 procurement, {counted['part_already_ordered']} part_already_ordered in {elapsed:.2f}s"
    )
