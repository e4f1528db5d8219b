"""Load on streamable HTTP, rails-mcp and the thin forwarder side by side in one run.

One ``rails-mcp sandbox`` process is the wire. ``rails-mcp serve --transport streamable-http``
(default set-up: SQLite state, audit log, metrics) and the thin MCPServer forwarder
(``bench/thin_server.py --http``) each run as one process over it. N MCP clients connect to
one server at once, each making M ``get_repair_job`` calls; then the same against the other
server, alternating for ``--rounds`` rounds so drift hits both alike. Printed side by side:
errors, calls/s, p50, p99, p99/p50, and each session's first call apart from the rest (a
session's first call carries its set-up: the client lists tools and compiles the output
schema). Targets: rails-mcp p99 <= 3 x its p50, and calls/s within 10 % of the forwarder.

Run: ``python bench/bench_http_load.py [--clients 50] [--calls 20] [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from tests.e2e.test_http_load import LoadResult, drive
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


def main(clients: int, calls: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="rails-mcp-load-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        wire = free_port()
        sandbox = ["sandbox", "--port", str(wire), "--db", str(root / "wire.db"), "--no-idle-reset"]
        stack.enter_context(running(sandbox, clean_env(root / "sandbox"), port=wire))
        base = f"http://127.0.0.1:{wire}"
        ours, thin = free_port(), free_port()
        env = clean_env(root / "ours", RAILS_BASE_URL=base, RAILS_TENANT=TENANT)
        serve = ["serve", "--transport", "streamable-http", "--port", str(ours)]
        stack.enter_context(running(serve, env, port=ours, ready_path="/mcp"))
        thin_env = clean_env(root / "thin", RAILS_BASE_URL=base)
        thin_argv = [sys.executable, str(HERE / "thin_server.py"), "--http", str(thin)]
        stack.enter_context(running([], thin_env, port=thin, ready_path="/mcp", argv=thin_argv))
        urls = {"rails-mcp": f"http://127.0.0.1:{ours}/mcp", "thin": f"http://127.0.0.1:{thin}/mcp"}
        for url in urls.values():  # warm both (the tenant is seeded by rails-mcp's first call)
            anyio.run(drive, url, 2, 2)
        runs: dict[str, list[LoadResult]] = {name: [] for name in urls}
        for _ in range(rounds):
            for name, url in urls.items():
                runs[name].append(anyio.run(drive, url, clients, calls))
    ours_cols, thin_cols = columns(runs["rails-mcp"]), columns(runs["thin"])
    print(f"streamable HTTP, {clients} clients x {calls} get_repair_job calls, {rounds} rounds each")
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
    ns = parser.parse_args()
    main(ns.clients, ns.calls, ns.rounds)
