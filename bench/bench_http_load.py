"""Load on the streamable HTTP transport: N concurrent MCP clients × M tool calls each.

Starts ``rails-mcp serve --transport streamable-http`` on a free loopback port (embedded
sandbox, throw-away state), connects N real MCP clients at once, has each make M
``get_repair_job`` calls, and prints errors, calls/s, and p50/p99 latency. Loopback only;
bounded in count; stops by itself.

Run: ``python bench/bench_http_load.py [--clients 50] [--calls 20]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from bench.processes import clean_env, free_port, running

JOB = {"external": "CCC-2026-04817"}


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list[float])
    errors: list[str] = field(default_factory=list[str])
    elapsed: float = 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


async def drive(url: str, clients: int, calls: int) -> LoadResult:
    result = LoadResult()

    async def one_client() -> None:
        try:
            async with Client(url, mode="legacy") as client:
                for _ in range(calls):
                    t = time.perf_counter()
                    r = await client.call_tool("get_repair_job", {"job": JOB})
                    result.latencies.append(time.perf_counter() - t)
                    if r.is_error:
                        result.errors.append(str(r.structured_content))
        except Exception as exc:  # a load run counts failures, it does not stop at the first
            result.errors.append(f"{type(exc).__name__}: {exc}")

    started = time.perf_counter()
    with anyio.fail_after(300):
        async with anyio.create_task_group() as tg:
            for _ in range(clients):
                tg.start_soon(one_client)
    result.elapsed = time.perf_counter() - started
    return result


def run(clients: int, calls: int) -> LoadResult:
    with tempfile.TemporaryDirectory() as state:
        port = free_port()
        command = ["serve", "--transport", "streamable-http", "--port", str(port)]
        env = clean_env(Path(state), RAILS_TENANT="load")
        with running(command, env, port=port, ready_path="/mcp"):
            return anyio.run(drive, f"http://127.0.0.1:{port}/mcp", clients, calls)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--calls", type=int, default=20)
    ns = parser.parse_args()
    result = run(ns.clients, ns.calls)
    total = len(result.latencies)
    print(f"streamable HTTP load: {ns.clients} clients x {ns.calls} calls = {total} tool calls")
    print(f"  errors      {len(result.errors)}")
    print(f"  throughput  {total / result.elapsed:8.1f} calls/s over {result.elapsed:.1f} s")
    print(f"  p50         {result.percentile(0.50):8.2f} ms")
    print(f"  p99         {result.percentile(0.99):8.2f} ms")
    print(f"  mean        {statistics.fmean(result.latencies) * 1000 if total else float('nan'):8.2f} ms")
    for err in result.errors[:5]:
        print(f"  ! {err}")


if __name__ == "__main__":
    main()
