"""Result sizes against the token budget, and list latency against the raw wire call.

1. Tokens per tool (characters ÷ 4) for the seeded five-call loop (get_repair_job,
   recommend_basket, place_procurement, confirm_procurement, reconcile_invoice): the text
   block alone (what the model reads) and the whole result (text + structured content), with
   the loop's text total against its 1,600-token target.
2. The same per tool in a 1,000-item world (1,000 parts, 1,000 procurements on one job),
   side by side with the result budget.
3. p50 latency of list_parts and list_procurements at 10, 100 and 1,000 items, beside the raw
   wire call each makes (the client's ``parts.list`` / ``procurements.list``), and the ratio.

Everything runs in-process over the embedded sandbox (no network), in a temporary directory.
Run: ``python bench/bench_results.py [--reps 15]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp_types import CallToolResult, TextContent

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from rails_mcp.config import load_settings
from rails_mcp.runtime import open_rails
from rails_mcp.server import build_server
from rails_mcp.tools import Rails
from rails_mcp.wire import models as m
from rails_mcp.wire.budget import DEFAULT_TOKEN_BUDGET
from tests.support.orders import place_one_order_per_part

SEEDED = {"external": "CCC-2026-04817"}
QUICKSTART = ["0f000000-0000-4000-8000-000000000007", "0f000000-0000-4000-8000-00000000000a"]
LOOP_TARGET = 1600
SIZES = (10, 100, 1000)
KINDS = ("Headlamp assembly RH", "Radiator support", "Grille assembly", "Front bumper cover")


def text_tokens(result: CallToolResult) -> float:
    return sum(len(b.text) for b in result.content if isinstance(b, TextContent)) / 4


def whole_tokens(result: CallToolResult) -> float:
    structured = json.dumps(result.structured_content, ensure_ascii=False, separators=(",", ":"))
    return text_tokens(result) + len(structured) / 4


async def call(client: Client, name: str, args: dict[str, Any]) -> CallToolResult:
    result = await client.call_tool(name, args)
    if result.is_error:
        raise SystemExit(f"{name} failed: {result.content}")
    return result


async def seeded_loop(client: Client) -> list[tuple[str, CallToolResult]]:
    job = {"job": SEEDED}
    rows = [
        ("get_repair_job", await call(client, "get_repair_job", job)),
        ("recommend_basket", await call(client, "recommend_basket", job)),
    ]
    picks = [{"sellable_id": s} for s in QUICKSTART]
    placed = await call(client, "place_procurement", {**job, "offer_selections": picks})
    rows.append(("place_procurement", placed))
    pid = (placed.structured_content or {})["procurement"]["id"]
    rows.append(("confirm_procurement", await call(client, "confirm_procurement", {"procurement_id": pid})))
    rows.append(("reconcile_invoice", await call(client, "reconcile_invoice", {"procurement_id": pid})))
    return rows


async def build_job(client: Client, rails: Rails, external: str, n: int) -> None:
    """A job with ``n`` parts and ``n`` procurements (one per part, placed on the wire directly)."""
    job = {"external": external}
    await call(client, "open_repair_job", {"job": job})
    for start in range(0, n, 200):
        parts = [
            {"description": f"{KINDS[i % 4]} {i:05d}", "quantity": 1}
            for i in range(start, min(n, start + 200))
        ]
        await call(client, "identify_parts", {"job": job, "parts": parts})
    await place_one_order_per_part(rails.client, external, n)


async def p50_ms(fn: Callable[[], Awaitable[object]], reps: int) -> float:
    await fn()  # warm
    samples: list[float] = []
    for _ in range(reps):
        t = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def _tool(client: Client, name: str, args: dict[str, Any]) -> Callable[[], Awaitable[object]]:
    return lambda: client.call_tool(name, args)


def _wire_parts(rails: Rails, ident: m.ExternalIdentity) -> Callable[[], Awaitable[object]]:
    return lambda: rails.client.repairer.jobs.parts.list(job_identity=ident)


def _wire_orders(rails: Rails, ident: m.ExternalIdentity) -> Callable[[], Awaitable[object]]:
    return lambda: rails.client.repairer.procurements.list(job_identity=ident)


async def latency(client: Client, rails: Rails, reps: int) -> list[str]:
    lines = [f"{'list':<18}{'items':>6}{'tool p50 ms':>13}{'wire p50 ms':>13}{'ratio':>8}"]
    for n in SIZES:
        external = f"BENCH-{n}"
        await build_job(client, rails, external, n)
        ident = m.ExternalIdentity(external=external)
        job = {"job": {"external": external}}
        pairs: list[tuple[str, Callable[[], Awaitable[object]], Callable[[], Awaitable[object]]]] = [
            ("list_parts", _tool(client, "list_parts", job), _wire_parts(rails, ident)),
            ("list_procurements", _tool(client, "list_procurements", job), _wire_orders(rails, ident)),
        ]
        for name, tool, wire in pairs:
            ours, raw = await p50_ms(tool, reps), await p50_ms(wire, reps)
            lines.append(f"{name:<18}{n:>6}{ours:>13.1f}{raw:>13.1f}{ours / raw:>8.2f}")
    return lines


async def big_world_tokens(client: Client) -> list[tuple[str, CallToolResult]]:
    """The tools' results on the 1,000-item job built for the latency table."""
    job = {"job": {"external": "BENCH-1000"}}
    vins = [{"vin": f"BAD{n:04d}"} for n in range(1000)]
    more = [{"description": f"Extra grille {n:04d}", "quantity": 1} for n in range(200)]
    rows: list[tuple[str, CallToolResult]] = [
        ("prepare_vehicle", await call(client, "prepare_vehicle", {"identifiers": vins})),
        ("identify_parts", await call(client, "identify_parts", {**job, "parts": more})),
    ]
    for name in ("get_repair_job", "list_parts", "recommend_basket", "list_procurements"):
        rows.append((name, await call(client, name, job)))
    for name in ("list_businesses", "list_work_providers"):
        rows.append((name, await call(client, name, {})))
    return rows


def token_table(title: str, rows: list[tuple[str, CallToolResult]]) -> list[str]:
    lines = [title, f"{'tool':<22}{'text':>8}{'whole':>8}{'budget':>8}  cut"]
    for name, result in rows:
        cut = "yes" if "truncated" in (result.structured_content or {}) else ""
        sizes = f"{text_tokens(result):>8.0f}{whole_tokens(result):>8.0f}"
        lines.append(f"{name:<22}{sizes}{DEFAULT_TOKEN_BUDGET:>8}  {cut}")
    return lines


async def main(reps: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(state_dir=Path(tmp), tenant="bench-results", order_approval="off")
        rails = open_rails(settings)
        try:
            async with Client(build_server(rails)) as client:
                loop = await seeded_loop(client)
                lines = token_table("Seeded loop (tokens = characters / 4)", loop)
                total = sum(text_tokens(r) for _, r in loop)
                lines.append(f"{'loop text total':<22}{total:>8.0f}   target {LOOP_TARGET}")
                timing = await latency(client, rails, reps)
                lines += ["", *token_table("1,000-item world", await big_world_tokens(client))]
                lines += ["", "List latency, tool vs the raw wire call it makes", *timing]
        finally:
            await rails.client.aclose()
    print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Result tokens against the budget; list latency.")
    parser.add_argument("--reps", type=int, default=15, help="timed calls per measurement")
    anyio.run(main, parser.parse_args().reps)
