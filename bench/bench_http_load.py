"""Load on streamable HTTP, rails-mcp and the thin forwarder side by side in one run.

One ``rails-mcp sandbox`` process is the wire. ``rails-mcp serve --transport streamable-http``
(default set-up: SQLite state, audit log, metrics) and the thin MCPServer forwarder
(``bench/thin_server.py --http``) each run as one process over it. N MCP clients connect to
one server at once, each making M ``get_repair_job`` calls; then the same against the other
server, alternating for ``--rounds`` rounds so drift hits both alike. Printed side by side:
errors, calls/s, p50, p99, p99/p50, and each session's first call apart from the rest (a
session's first call carries its set-up: the client lists tools and compiles the output
schema). Targets: rails-mcp p99 <= 3 x its p50, and calls/s within 10 % of the forwarder.

Then where a session's set-up goes, per server: each server process's CPU per call over the
load runs (from /proc), and, unloaded, what one client spends before its first call can be
sent: ``tools/list`` (round trip and parse) and compiling the tool's outputSchema (the SDK
client checks the schema against the JSON Schema 2020-12 metaschema once per session). The
clients share one process here, so under load each session's set-up waits for the others'.

Run: ``python bench/bench_http_load.py [--clients 50] [--calls 20] [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import anyio
from jsonschema.validators import validator_for
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from tests.e2e.test_http_load import JOB, LoadResult, drive
from tests.support.process_support import clean_env, free_port, running

HERE = Path(__file__).resolve().parent
TENANT = "load"


def columns(results: list[LoadResult]) -> dict[str, float]:
    """The figures of several rounds of one server, pooled."""
    latencies = [x for r in results for x in r.latencies]
    firsts = [x for r in results for x in r.firsts]
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "errors": float(sum(len(r.errors) for r in results)),
        "calls/s": sum(len(r.latencies) for r in results) / sum(r.elapsed for r in results),
        "p50 (ms)": pct(0.50),
        "p90 (ms)": pct(0.90),
        "p99 (ms)": pct(0.99),
        "p99/p50": pct(0.99) / pct(0.50),
        "first call p50 (ms)": statistics.median(firsts) * 1000,
        "later calls p50 (ms)": statistics.median([x for r in results for x in r.later] or [float("nan")])
        * 1000,
    }


def cpu_seconds(proc: subprocess.Popen[bytes]) -> float:
    """User + system CPU a server process has used so far (Linux /proc)."""
    stat = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


async def session_setup(url: str, runs: int = 10) -> dict[str, float]:
    """Unloaded, per session: ms to list the tools, and to compile get_repair_job's outputSchema."""
    listed: list[float] = []
    compiled: list[float] = []
    for _ in range(runs):
        async with Client(url, mode="legacy") as client:
            t = time.perf_counter()
            tools = await client.list_tools()
            listed.append(time.perf_counter() - t)
            schema = next(tool.output_schema for tool in tools.tools if tool.name == "get_repair_job")
            t = time.perf_counter()
            validator_for(schema or {}).check_schema(schema or {})
            compiled.append(time.perf_counter() - t)
            await client.call_tool("get_repair_job", {"job": JOB})
    return {
        "tools/list (ms)": statistics.median(listed) * 1000,
        "outputSchema compile (ms)": statistics.median(compiled) * 1000,
    }


def main(clients: int, calls: int, rounds: int, shared: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="rails-mcp-load-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        wire = free_port()
        sandbox = ["sandbox", "--port", str(wire), "--db", str(root / "wire.db"), "--no-idle-reset"]
        stack.enter_context(running(sandbox, clean_env(root / "sandbox"), port=wire))
        base = f"http://127.0.0.1:{wire}"
        ours, thin = free_port(), free_port()
        env = clean_env(root / "ours", RAILS_BASE_URL=base, RAILS_TENANT=TENANT)
        serve = ["serve", "--transport", "streamable-http", "--port", str(ours)]
        procs = {"rails-mcp": stack.enter_context(running(serve, env, port=ours, ready_path="/mcp"))}
        thin_env = clean_env(root / "thin", RAILS_BASE_URL=base)
        thin_argv = [sys.executable, str(HERE / "thin_server.py"), "--http", str(thin)]
        procs["thin"] = stack.enter_context(
            running([], thin_env, port=thin, ready_path="/mcp", argv=thin_argv)
        )
        urls = {"rails-mcp": f"http://127.0.0.1:{ours}/mcp", "thin": f"http://127.0.0.1:{thin}/mcp"}
        for url in urls.values():  # warm both (the tenant is seeded by rails-mcp's first call)
            anyio.run(drive, url, 2, 2)
        runs: dict[str, list[LoadResult]] = {name: [] for name in urls}
        cpu = dict.fromkeys(urls, 0.0)
        for _ in range(rounds):
            for name, url in urls.items():
                before = cpu_seconds(procs[name])
                runs[name].append(anyio.run(partial(drive, url, clients, calls, shared_http=shared)))
                cpu[name] += cpu_seconds(procs[name]) - before
        setup = {name: anyio.run(session_setup, url) for name, url in urls.items()}
    ours_cols, thin_cols = columns(runs["rails-mcp"]), columns(runs["thin"])
    for name, cols in (("rails-mcp", ours_cols), ("thin", thin_cols)):
        cols["server CPU per call (ms)"] = cpu[name] / (rounds * clients * calls) * 1000
        cols.update(setup[name])
    how = "one shared HTTP client" if shared else "an HTTP client each (the SDK's default)"
    print(f"streamable HTTP, {clients} clients x {calls} get_repair_job calls, {rounds} rounds each, {how}")
    print(f"{'':24s}{'rails-mcp':>12s}{'thin':>12s}{'ratio':>8s}")
    for key, ours_value in ours_cols.items():
        thin_value = thin_cols[key]
        ratio = f"{ours_value / thin_value:8.2f}" if thin_value else ""
        print(f"  {key:22s}{ours_value:12.1f}{thin_value:12.1f}{ratio}")
    tail = ours_cols["p99/p50"]
    rate = ours_cols["calls/s"] / thin_cols["calls/s"]
    print(f"target p99 <= 3 x p50: {'met' if tail <= 3 else 'NOT met'} ({tail:.2f})")
    print(f"target calls/s within 10 % of thin: {'met' if rate >= 0.9 else 'NOT met'} ({rate:.2f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--shared-http",
        action="store_true",
        help="all clients share one HTTP client, as sessions in one host process would",
    )
    ns = parser.parse_args()
    main(ns.clients, ns.calls, ns.rounds, ns.shared_http)
