"""The wire fault matrix outside pytest: every wire method × every fault, and the tools on top.

Runs the cases of ``tests/faults/test_wire_faults.py`` (same fault transport, same checks) against
one in-process sandbox, a fresh tenant per case, with stamina's real (tiny) backoff:

1. every one of the 17 wire methods through every fault, persistent and once (transient);
2. every tool through every fault on every wire call it makes;
3. a placement and a confirmation whose answer is lost, each called again by the agent.

Prints one row per wire method (faults injected, outcomes by exception class, retries
observed, writes landed, duplicates) and the totals; exits 1 if any duplicate or any
expectation failed. Run: ``python bench/fault_matrix.py``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
from stamina.instrumentation import RetryDetails, set_on_retry_hooks
from starlette.applications import Starlette

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for ``tests``, run from anywhere

from rails_mcp.sandbox import create_app
from rails_mcp.wire.errors import RailsError
from rails_mcp.wire.methods import METHODS
from tests.faults.test_wire_faults import (
    FAILING,
    FAULTS,
    TOOL_FAULTS,
    TOOL_SLOTS,
    WRITE_EFFECT,
    check_lost_confirmation,
    check_lost_placement,
    check_tool_fault,
    check_wire_outcome,
    duplicates,
    run_lost_confirmation,
    run_lost_placement,
    run_wire_case,
)

CLASSES = ("ok", "RailsTimeout", "RailsConnectionError", "ServerError", "MalformedResponse")
SHORT = {
    "ok": "ok",
    "RailsTimeout": "Timeout",
    "RailsConnectionError": "ConnErr",
    "ServerError": "5xx",
    "MalformedResponse": "Malformed",
}


class Row:
    def __init__(self) -> None:
        self.cases = 0
        self.injected = 0
        self.outcomes: Counter[str] = Counter()
        self.retries = 0
        self.landed = 0
        self.duplicates = 0
        self.failed: list[str] = []


#: Retries as stamina itself counts them, per wire method (a cross-check of the transport's).
STAMINA_RETRIES: Counter[str] = Counter()


def _on_retry(details: RetryDetails) -> None:
    cause = details.caused_by
    STAMINA_RETRIES[cause.method if isinstance(cause, RailsError) and cause.method else "?"] += 1


async def wire_matrix(app: Starlette) -> dict[str, Row]:
    rows: dict[str, Row] = {}
    for method in METHODS:
        row = rows[method] = Row()
        cases = [(f, False) for f in FAULTS] + [(f, True) for f in FAILING]
        for fault, transient in cases:
            out = await run_wire_case(app, method, fault, transient=transient)
            row.cases += 1
            row.injected += out.injected
            row.outcomes[out.outcome] += 1
            row.retries += out.attempts - 1
            if method in WRITE_EFFECT:
                row.landed += out.landed[WRITE_EFFECT[method]]
            row.duplicates += duplicates(out.before, out.after)
            try:
                check_wire_outcome(out)
            except AssertionError as exc:
                mode = "once" if transient else "persistent"
                row.failed.append(f"{fault.name}/{mode}: {str(exc).splitlines()[0][:160]}")
    return rows


async def tool_matrix(app: Starlette) -> tuple[Counter[str], list[str]]:
    codes: Counter[str] = Counter()
    failed: list[str] = []
    for case, method in TOOL_SLOTS:
        for fault in TOOL_FAULTS:
            for transient in (False, True):
                try:
                    code = await check_tool_fault(app, case, method, fault, transient=transient)
                    codes[code] += 1
                except AssertionError as exc:
                    codes["FAILED"] += 1
                    failed.append(f"{case} {method} {fault.name}: {str(exc).splitlines()[0][:160]}")
    return codes, failed


def said(result: dict[str, Any]) -> str:
    """A tool result in a few words: its error code and retryable, or how it succeeded."""
    error = result.get("error")
    if isinstance(error, dict):
        return f"{error.get('code')} (retryable={error.get('retryable')})"
    return "recovered" if result.get("recovered") else "ok"


async def lost_answers(app: Starlette) -> tuple[list[tuple[str, str, str, int, str, str, int]], list[str]]:
    rows: list[tuple[str, str, str, int, str, str, int]] = []
    failed: list[str] = []
    for fault in FAILING:
        placed = await run_lost_placement(app, fault)
        confirmed = await run_lost_confirmation(app, fault)
        for name, check, out in (
            ("placement", check_lost_placement, placed),
            ("confirmation", check_lost_confirmation, confirmed),
        ):
            try:
                check(fault, out)
            except AssertionError as exc:
                failed.append(f"{name} {fault.name}: {str(exc).splitlines()[0][:160]}")

        rows.append(
            (
                fault.name,
                said(placed["first"]),
                said(placed["again"]),
                len(placed["holders"]),
                said(confirmed["first"]),
                said(confirmed["again"]),
                confirmed["invoices"],
            )
        )
    return rows, failed


async def main(db: Path) -> int:
    logging.disable(logging.WARNING)  # each injected fault logs a warning; the table says it all
    app = create_app(db, idle_reset_seconds=None)
    set_on_retry_hooks([_on_retry])
    started = time.perf_counter()
    try:
        wire = await wire_matrix(app)
        wire_seconds = time.perf_counter() - started
        stamina_retries = Counter(STAMINA_RETRIES)  # the wire matrix's own, before the tools run
        codes, tool_failed = await tool_matrix(app)
        lost, lost_failed = await lost_answers(app)
    finally:
        app.state.sandbox.store.close()
    elapsed = time.perf_counter() - started

    head = f"{'method':36} {'kind':5} {'cases':>5} {'faults':>6} " + " ".join(
        f"{SHORT[c]:>9}" for c in CLASSES
    )
    head += f" {'retries':>7} {'stamina':>7} {'landed':>6} {'dups':>4} {'fail':>4}"
    print("1. wire methods × faults (persistent + once), fresh tenant per case")
    print(head)
    print("-" * len(head))
    total = Row()
    for method, row in wire.items():
        kind = "read" if METHODS[method].retry_safe else "WRITE"
        cells = " ".join(f"{row.outcomes.get(c, 0):>9}" for c in CLASSES)
        others = sum(n for c, n in row.outcomes.items() if c not in CLASSES)
        print(
            f"{method:36} {kind:5} {row.cases:>5} {row.injected:>6} {cells} {row.retries:>7} "
            f"{stamina_retries[method]:>7} {row.landed:>6} {row.duplicates:>4} {len(row.failed):>4}"
            + (f"  + {others} foreign" if others else "")
        )
        total.cases += row.cases
        total.injected += row.injected
        total.outcomes.update(row.outcomes)
        total.retries += row.retries
        total.landed += row.landed
        total.duplicates += row.duplicates
        total.failed += [f"{method} {f}" for f in row.failed]
    print("-" * len(head))
    cells = " ".join(f"{total.outcomes.get(c, 0):>9}" for c in CLASSES)
    stamina_total = sum(stamina_retries[m] for m in METHODS)
    print(
        f"{'TOTAL':36} {'':5} {total.cases:>5} {total.injected:>6} {cells} {total.retries:>7} "
        f"{stamina_total:>7} {total.landed:>6} {total.duplicates:>4} {len(total.failed):>4}"
    )
    foreign = {c: n for c, n in total.outcomes.items() if c not in CLASSES}
    print(f"   escaped the client's exception tree: {sum(foreign.values())} {foreign or ''}")
    print(f"   ({wire_seconds:.1f} s) faults, in order: " + "; ".join(f"{f.name} = {f.doc}" for f in FAULTS))

    print()
    print("2. tools × every wire call they make × faults (persistent + once), through MCP in-memory")
    tool_total = sum(codes.values())
    print(f"   {tool_total} cases: " + ", ".join(f"{c} {n}" for c, n in sorted(codes.items())))
    print(f"   expectation failures: {len(tool_failed)}")

    print()
    print("3. lost answers to the two non-idempotent writes, then the agent calls again")
    lhead = (
        f"{'fault':20} {'place: first':38} {'place: again':39} {'holders':>7}  "
        f"{'confirm: first':41} {'confirm: again':14} {'invoices':>8}"
    )
    print(lhead)
    print("-" * len(lhead))
    dup_procurements = dup_invoices = 0
    for name, p_first, p_again, holders, c_first, c_again, invoices in lost:
        print(f"{name:20} {p_first:38} {p_again:39} {holders:>7}  {c_first:41} {c_again:14} {invoices:>8}")
        dup_procurements += max(0, holders - 1)
        dup_invoices += max(0, invoices - 1)
    print("-" * len(lhead))
    print(f"   duplicate procurements: {dup_procurements}, duplicate invoices: {dup_invoices}")
    print(f"   expectation failures: {len(lost_failed)}")

    duplicates_total = total.duplicates + dup_procurements + dup_invoices
    failures = total.failed + tool_failed + lost_failed
    failures += [
        f"{method}: the transport saw {row.retries} retries, stamina {stamina_retries[method]}"
        for method, row in wire.items()
        if row.retries != stamina_retries[method]
    ]
    print()
    print(
        f"TOTALS: {total.cases} wire cases + {tool_total} tool cases + {2 * len(lost)} lost-answer "
        f"scenarios; {total.injected} faults injected; {total.retries} retries; "
        f"{total.landed} writes landed; duplicates {duplicates_total}; "
        f"expectation failures {len(failures)}; {elapsed:.1f} s"
    )
    for line in failures[:30]:
        print(f"   FAILED {line}")
    return 1 if duplicates_total or failures or foreign else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.parse_args()
    # stamina's real backoff: the cases' own RetryPolicy keeps each wait at a millisecond or two.
    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(anyio.run(main, Path(tmp) / "s.db"))
