"""rails-mcp's overhead, side by side in one run (issue 3's three figures).

1. Tool-call p50 through MCP over stdio (``get_repair_job``) against the raw wire call
   (``repairer.jobs.get``) to the same ``rails-mcp sandbox`` over loopback HTTP. Target ≤ 2.0.
2. Cold start to a ``tools/list`` answer: ``python -m rails_mcp`` against a bare MCPServer
   with one tool (``bench/bare_server.py``). Target ≤ 1.3.
3. The size of ``tools/list`` in tokens (characters ÷ 4). Target ≤ 6,000.

Run: ``python bench/bench_mcp.py [--calls 300] [--starts 7]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
import httpx2
from mcp import Client, StdioServerParameters

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from bench.processes import clean_env, free_port, running

HERE = Path(__file__).resolve().parent
JOB = {"external": "CCC-2026-04817"}
HEADERS = {
    "Authorization": "Bearer partly_demo_repairer_3f8a1c0d9e2b4a67b1c2",
    "Partly-Integration-ID": "0c000000-0000-4000-8000-000000000001",
}


def p50_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def raw_wire(base: str, calls: int) -> list[float]:
    samples: list[float] = []
    async with httpx2.AsyncClient(base_url=base, headers=HEADERS) as http:
        for i in range(calls + 20):
            t = time.perf_counter()
            r = await http.post("/api/2026-01/repairer.jobs.get", json={"identity": JOB})
            r.raise_for_status()
            if i >= 20:
                samples.append(time.perf_counter() - t)
    return samples


async def stdio_calls(
    args: list[str], env: dict[str, str], tool: str, arguments: dict[str, object], calls: int, mode: str
) -> list[float]:
    params = StdioServerParameters(command=sys.executable, args=args, env=env)
    samples: list[float] = []
    async with Client(params, mode=mode) as client:
        for i in range(calls + 20):
            t = time.perf_counter()
            r = await client.call_tool(tool, arguments)
            assert not r.is_error, r.content
            if i >= 20:
                samples.append(time.perf_counter() - t)
    return samples


async def through_mcp(base: str, state: str, calls: int, mode: str) -> list[float]:
    env = clean_env(Path(state), RAILS_BASE_URL=base)
    return await stdio_calls(["-m", "rails_mcp"], env, "get_repair_job", {"job": JOB}, calls, mode)


async def sdk_floor(state: str, calls: int) -> list[float]:
    """A bare MCPServer's echo tool over stdio: what the SDK's transport costs with no work."""
    args = [str(HERE / "bare_server.py")]
    return await stdio_calls(args, clean_env(Path(state)), "echo", {"text": "x" * 600}, calls, "legacy")


async def cold_start(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    t = time.perf_counter()
    params = StdioServerParameters(command=sys.executable, args=args, env=env)
    async with Client(params, mode="legacy") as client:
        listed = await client.list_tools()
    elapsed = time.perf_counter() - t
    text = json.dumps(
        [tool.model_dump(by_alias=True, exclude_none=True, mode="json") for tool in listed.tools]
    )
    return elapsed, text


async def cold_starts(state: str, starts: int) -> tuple[list[float], list[float], str]:
    ours: list[float] = []
    bare: list[float] = []
    listing = ""
    for _ in range(starts):
        elapsed, listing = await cold_start(["-m", "rails_mcp"], clean_env(Path(state), RAILS_TENANT="cold"))
        ours.append(elapsed)
        elapsed, _ = await cold_start([str(HERE / "bare_server.py")], clean_env(Path(state)))
        bare.append(elapsed)
    return ours, bare, listing


def main(calls: int, starts: int) -> None:
    with tempfile.TemporaryDirectory() as state:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        command = ["sandbox", "--port", str(port), "--db", f"{state}/bench.db", "--no-idle-reset"]
        with running(command, clean_env(Path(state)), port=port, ready_path="/healthz"):
            raw = anyio.run(raw_wire, base, calls)
            mcp = anyio.run(through_mcp, base, state, calls, "legacy")
            modern = anyio.run(through_mcp, base, state, calls, "2026-07-28")
            floor = anyio.run(sdk_floor, state, calls)
        ours, bare, listing = anyio.run(cold_starts, state, starts)

    raw_p50, mcp_p50 = p50_ms(raw), p50_ms(mcp)
    ours_p50, bare_p50 = p50_ms(ours), p50_ms(bare)
    tokens = len(listing) / 4
    modern_p50, floor_p50 = p50_ms(modern), p50_ms(floor)
    print(f"tool call p50 via MCP stdio   {mcp_p50:8.2f} ms   (get_repair_job, {calls} calls, 2025-11-25)")
    print(f"  same, 2026-07-28 era        {modern_p50:8.2f} ms")
    print(f"raw wire call p50 over HTTP   {raw_p50:8.2f} ms   (repairer.jobs.get, same sandbox)")
    print(f"  ratio                       {mcp_p50 / raw_p50:8.2f}      target <= 2.0")
    print(f"SDK stdio floor (bare echo)   {floor_p50:8.2f} ms   (no wire call at all)")
    best = (floor_p50 + raw_p50) / raw_p50
    print(f"  floor + raw, as a ratio     {best:8.2f}      the best any stdio tool can do")
    print(f"cold start to tools/list      {ours_p50:8.1f} ms   (python -m rails_mcp, median of {starts})")
    print(f"bare MCPServer, one tool      {bare_p50:8.1f} ms")
    print(f"  ratio                       {ours_p50 / bare_p50:8.2f}      target <= 1.3")
    print(f"tools/list size               {tokens:8.0f} tokens ({len(listing)} chars / 4)   target <= 6000")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--starts", type=int, default=7)
    ns = parser.parse_args()
    main(ns.calls, ns.starts)
