"""The large fuzz run of the thirteen tools' arguments, with its figures.

Runs the properties of ``tests/faults/test_fuzz_tools.py`` (no protocol error, no traceback text,
every result valid against the tool's outputSchema with a well-formed error object, no
state change from a refused call) over N cases spread evenly across the thirteen tools,
each tool on its own fresh server over the in-memory MCP client (2025-11-25 handshake),
plus a cross-tool run on one server in the 2026-07-28 era. Violations are counted, not
raised, so one run reports them all. Exit status 1 if any property was violated.

    python bench/fuzz_tools.py [--examples 10000] [--cross-tool N] [--random]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.mcp_support import TOOL_NAMES, isolate_environment

#: Read by ``tests/faults/test_fuzz_tools.py`` when it registers its large profile (at import).
FUZZ_EXAMPLES_ENV = "RAILS_FUZZ_EXAMPLES"
FUZZ_RANDOM_ENV = "RAILS_FUZZ_RANDOM"


def main() -> int:
    parser = argparse.ArgumentParser(description="The large fuzz run of the thirteen tools.")
    parser.add_argument("--examples", type=int, default=10_000, help="cases over the 13 tools")
    parser.add_argument("--cross-tool", type=int, default=None, help="cases of the cross-tool run")
    parser.add_argument("--random", action="store_true", help="a fresh random seed (default: fixed)")
    opts = parser.parse_args()
    os.environ[FUZZ_EXAMPLES_ENV] = str(opts.examples)
    if opts.random:
        os.environ[FUZZ_RANDOM_ENV] = "1"
    from tests.faults.test_fuzz_tools import FuzzStats, fuzz_across_tools, fuzz_harness, fuzz_tool, per_tool

    stats = FuzzStats()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rails-fuzz-") as tmp, pytest.MonkeyPatch.context() as mp:
        root = Path(tmp)
        isolate_environment(mp, root)
        for name in TOOL_NAMES:
            t0 = time.perf_counter()
            before = stats.total
            with fuzz_harness(root / name, strict=False, stats=stats) as harness:
                fuzz_tool(harness, name, "rails-fuzz-large")
            print(
                f"  {name:<22} {stats.total - before:>6} cases  {time.perf_counter() - t0:6.1f} s",
                flush=True,
            )
        cross = opts.cross_tool if opts.cross_tool is not None else per_tool(opts.examples)
        per_tool_only = stats.cases.copy()
        if cross:
            t0 = time.perf_counter()
            with fuzz_harness(root / "cross", strict=False, stats=stats, mode="2026-07-28") as harness:
                fuzz_across_tools(harness, cross, "rails-fuzz-large")
            print(f"  {'cross-tool (2026 era)':<22} {cross:>6} cases  {time.perf_counter() - t0:6.1f} s")
    elapsed = time.perf_counter() - started

    print()
    print(f"{'tool':<22} {'per-tool':>9} {'cross':>7} {'total':>7} {'succeeded':>10}")
    for name in TOOL_NAMES:
        own, done = per_tool_only[name], stats.cases[name]
        print(f"{name:<22} {own:>9} {done - own:>7} {done:>7} {stats.successes[name]:>10}")
    own_total = per_tool_only.total()
    print(
        f"{'all 13 tools':<22} {own_total:>9} {stats.total - own_total:>7} {stats.total:>7} "
        f"{stats.successes.total():>10}"
    )
    print()
    figures = [
        ("cases run", stats.total),
        ("protocol errors (call_tool raised)", stats.protocol_errors),
        ("traceback hits", stats.traceback_hits),
        ("isError results", stats.error_results),
        ("  of which internal_error", stats.internal_errors),
        ("schema violations (outputSchema / error object)", stats.schema_violations),
        ("result-contract violations (check_result)", stats.contract_violations),
        ("example_arguments not fitting the inputSchema", stats.bad_examples),
        ("oversized error results (> 4 x arguments + 20k)", stats.oversized_errors),
        ("schema-valid arguments refused as invalid_arguments", stats.wrongly_refused),
        ("refused write calls checked for state", stats.state_checks),
        ("state changes on refused calls", stats.state_changes),
        ("state reads that failed", stats.snapshot_failures),
        ("largest result (characters)", stats.largest_result_chars),
        ("elapsed seconds", round(elapsed, 1)),
    ]
    for label, value in figures:
        print(f"{label:<52} {value:>10}")
    print()
    print("error codes:", ", ".join(f"{code} {n}" for code, n in stats.codes.most_common()))
    if stats.failures:
        print(f"\nfirst {len(stats.failures)} violations:")
        for line in stats.failures:
            print(" -", line[:600])
    return 1 if stats.violations else 0


if __name__ == "__main__":
    sys.exit(main())
