"""Figures for three ``rails-mcp serve`` replicas behind a round-robin balancer (2026-07-28).

    python -m bench.replicas [--rounds 30] [--racers 50]

Starts one ``rails-mcp sandbox`` (the shared wire) and three streamable-HTTP replicas that
share only ``RAILS_APPROVAL_KEY``, then measures: start-up, a read call, a two-round approval
(asked on one replica, answered on the next; declined so it can be repeated), and N
concurrent placements of the same parts spread over the replicas (exactly one must win).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import anyio
import httpx2
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, ElicitRequestParams, ElicitResult, ErrorData

from tests.support.mcp_support import JOB, QUICKSTART
from tests.support.replicas import RoundRobin, cluster


async def decline(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
    return ElicitResult(action="accept", content={"decision": "decline"})


def ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms (n={len(ordered)})"


async def measure(ports: list[int], rounds: int, racers: int) -> None:
    url = "http://balancer.invalid/mcp"
    balancer = RoundRobin(ports)
    async with (
        httpx2.AsyncClient(transport=balancer, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http), elicitation_callback=decline) as client,
    ):
        reads: list[float] = []
        for _ in range(rounds):
            t = time.perf_counter()
            await client.call_tool("list_procurements", {"job": JOB})
            reads.append(time.perf_counter() - t)
        approvals: list[float] = []
        crossed = 0
        for _ in range(rounds):
            mark = len(balancer.served)
            t = time.perf_counter()
            result = await client.call_tool("place_procurement", QUICKSTART)
            approvals.append(time.perf_counter() - t)
            assert result.structured_content is not None
            assert result.structured_content.get("approval") == "declined"
            rounds_on = [s.replica for s in balancer.served[mark:] if s.tool == "place_procurement"]
            crossed += len(set(rounds_on)) > 1
        print(f"read call (list_procurements) through the balancer: {ms(reads)}")
        print(
            f"approval, two rounds, declined: {ms(approvals)}; answered on another replica {crossed}/{rounds}"
        )
        calls = Counter(s.replica for s in balancer.served if s.rpc_method == "tools/call")
        print(f"tools/call per replica: {dict(sorted(calls.items()))}")

    race = RoundRobin(ports)
    async with (
        httpx2.AsyncClient(transport=race, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        outcomes: list[str] = []

        async def place() -> None:
            result: CallToolResult = await client.call_tool("place_procurement", QUICKSTART)
            data = result.structured_content or {}
            outcomes.append(data["error"]["code"] if "error" in data else "placed")

        t = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(racers):
                tg.start_soon(place)
        elapsed = time.perf_counter() - t
        spread = Counter(s.replica for s in race.served if s.tool == "place_procurement")
        print(
            f"{racers} concurrent placements of the same parts: {dict(Counter(outcomes))} in "
            f"{elapsed:.2f} s; per replica {dict(sorted(spread.items()))}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--racers", type=int, default=50)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        t = time.perf_counter()
        with cluster(Path(root), tenant="bench") as c:
            print(f"sandbox + 3 replicas up in {time.perf_counter() - t:.1f} s (ports {c.replica_ports})")
            anyio.run(measure, c.replica_ports, opts.rounds, opts.racers)


if __name__ == "__main__":
    main()
