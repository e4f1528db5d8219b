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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from tests.e2e.test_http_load import run  # the load driver lives beside its test


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
