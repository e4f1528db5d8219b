"""What shared state costs, side by side in one run, printed as one table.

1. Per-call cost with the SQLite state store against Postgres, in-process (``mcp.Client``
   over the server ``rails-mcp serve`` builds, the embedded sandbox as the wire): a read
   (``get_repair_job``) and a write (``place_procurement``, ``dry_run: false``, approval off,
   a budget and a fresh idempotency key, so the write reserves, announces and settles on the
   store). The tenant's sandbox is reset before each placement (not timed). The two servers'
   calls are interleaved so drift hits both alike.
2. Calls/s of ``get_repair_job`` with 1, 2 and 3 ``rails-mcp serve --transport
   streamable-http`` replicas over one ``rails-mcp sandbox`` and one Postgres, N clients each
   making M calls, every HTTP request sent to the next replica in turn (a round-robin
   balancer without stickiness).
3. ``get_repair_job`` p50 through rails-mcp ÷ a thin MCPServer forwarder
   (``bench/thin_server.py``) in the default set-up: SQLite store, audit log on, metrics
   counted; both in-process over the same sandbox database and tenant, interleaved. Target
   ≤ 1.1: a read must not pay for what only a write needs. Then the same two over stdio, as a
   host runs them: each its own process, both over one ``rails-mcp sandbox`` process
   (``bench/bench_mcp.py``'s interleaved run), with each server's CPU per call from /proc.

Postgres is a throwaway cluster (``initdb``/``pg_ctl`` from PostgreSQL 15, as the tests start
it); without it the Postgres columns say so and the rest still runs.

Run: ``python -m bench.bench_state [--calls 200] [--writes 40] [--clients 12] [--per-client 10]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from bench.bench_mcp import side_by_side, timed
from bench.thin_server import HEADERS, forwarder
from rails_mcp.config import Settings, load_settings
from rails_mcp.hosting import open_server
from rails_mcp.sandbox import create_app
from rails_mcp.sandbox.store import reset_tenant
from tests.support.mcp_support import JOB, QUICKSTART
from tests.support.postgres import fresh_database, postgres_cluster
from tests.support.process_support import clean_env, free_port, running
from tests.support.replicas import RoundRobin, cluster

WARMUP = 10
TENANT = "bench"


@dataclass
class Row:
    """One line of the table: a figure per column, and what it is compared on."""

    what: str
    cells: list[str]
    note: str = ""


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list[Row])

    def add(self, what: str, *cells: str, note: str = "") -> None:
        self.rows.append(Row(what, list(cells), note))

    def print(self) -> None:
        width = max(len(r.what) for r in self.rows)
        cols = max(len(r.cells) for r in self.rows)
        cell = max(len(c) for r in self.rows for c in r.cells)
        for r in self.rows:
            cells = "  ".join(c.rjust(cell) for c in r.cells + [""] * (cols - len(r.cells)))
            print(f"{r.what.ljust(width)}  {cells}  {r.note}".rstrip())


def pct(samples: list[float], q: float) -> float:
    """The q-quantile in milliseconds."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench_settings(state_dir: Path, **overrides: Any) -> Settings:
    """A zero-configuration deployment on the embedded sandbox (audit log at its default)."""
    return load_settings(state_dir=state_dir, tenant=TENANT, **overrides)


# --- 1. SQLite vs Postgres, in-process --------------------------------------------------------


async def store_costs(
    dirs: dict[str, Path], urls: dict[str, str | None], calls: int, writes: int
) -> dict[str, dict[str, list[float]]]:
    """Read and write samples per store, the stores' calls interleaved."""
    settings = {
        name: bench_settings(
            dirs[name], state_url=urls[name], order_approval="off", budget="100000000 NZD/day"
        )
        for name in urls
    }
    samples: dict[str, dict[str, list[float]]] = {name: {"read": [], "write": []} for name in urls}
    async with contextlib.AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(Client(open_server(s, transport="in-memory")))
            for name, s in settings.items()
        }
        for i in range(calls + WARMUP):
            for name, client in clients.items():
                elapsed = await timed(client, "get_repair_job", {"job": JOB})
                if i >= WARMUP:
                    samples[name]["read"].append(elapsed)
        for i in range(writes + 1):
            for name, client in clients.items():
                reset_tenant(settings[name].sandbox_db(), TENANT)
                place = {**QUICKSTART, "dry_run": False, "idempotency_key": uuid.uuid4().hex}
                elapsed = await timed(client, "place_procurement", place)
                if i >= 1:  # the first opens what later ones reuse
                    samples[name]["write"].append(elapsed)
    return samples


# --- 2. calls/s with 1, 2 and 3 replicas --------------------------------------------------------


async def load(ports: list[int], clients: int, per_client: int) -> tuple[float, list[float]]:
    """calls/s and latencies of ``clients`` MCP clients × ``per_client`` reads over ``ports``."""
    balancer = RoundRobin(ports)
    latencies: list[float] = []
    url = "http://balancer.invalid/mcp"

    async with httpx2.AsyncClient(transport=balancer, timeout=120) as http:

        async def one() -> None:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                for _ in range(per_client):
                    latencies.append(await timed(client, "get_repair_job", {"job": JOB}))

        async with Client(streamable_http_client(url, http_client=http)) as warm:
            for _ in range(2 * len(ports)):  # each replica's first call opens its store and wire client
                await timed(warm, "get_repair_job", {"job": JOB})
        t = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(clients):
                tg.start_soon(one)
        elapsed = time.perf_counter() - t
    return len(latencies) / elapsed, latencies


def replica_rates(
    root: Path, pg: str | None, clients: int, per_client: int
) -> dict[int, tuple[float, list[float]]]:
    extra = {"RAILS_STATE_URL": pg} if pg else {}
    with cluster(root, replicas=3, tenant=TENANT, **extra) as c:
        return {n: anyio.run(load, c.replica_ports[:n], clients, per_client) for n in (1, 2, 3)}


# --- 3. rails-mcp vs the thin forwarder, default set-up --------------------------------------------


async def schema_check(client: Client, tool: str, arguments: dict[str, Any], runs: int) -> list[float]:
    """How long the client's own check of a result against the tool's outputSchema takes.

    The SDK's client validates every structured result against the published schema: a cost
    the schema puts on the client, not work the server does.
    """
    result = await client.call_tool(tool, arguments)
    samples: list[float] = []
    for _ in range(runs):
        t = time.perf_counter()
        await client.session.validate_tool_result(tool, result)
        samples.append(time.perf_counter() - t)
    return samples


async def against_thin(state_dir: Path, calls: int) -> dict[str, list[float]]:
    """get_repair_job through rails-mcp and through the thin forwarder, interleaved; and each
    result's client-side schema check (``ours_check``, ``thin_check``)."""
    settings = bench_settings(state_dir)
    server = open_server(settings, transport="in-memory")
    samples: dict[str, list[float]] = {"ours": [], "thin": []}
    args = {"job": JOB}
    async with Client(server) as ours:
        await timed(ours, "get_repair_job", args)  # seeds the tenant in the database
        wire = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=create_app(settings.sandbox_db()), client=("127.0.0.1", 0)),
            base_url="http://embedded-sandbox.invalid",
            headers={**HEADERS, "x-partifact-tenant": TENANT},
        )
        async with wire, Client(forwarder(lambda: wire)) as thin:
            for i in range(calls + WARMUP):
                a = await timed(ours, "get_repair_job", args)
                b = await timed(thin, "get_repair_job", args)
                if i >= WARMUP:
                    samples["ours"].append(a)
                    samples["thin"].append(b)
            samples["ours_check"] = await schema_check(ours, "get_repair_job", args, calls)
            samples["thin_check"] = await schema_check(thin, "get_repair_job", args, calls)
    return samples


def traced() -> None:
    """Record every span, as with an OTLP endpoint set, but kept in memory (nothing is sent)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(InMemorySpanExporter()))
    trace.set_tracer_provider(provider)


@contextlib.contextmanager
def maybe_postgres() -> Iterator[str | None]:
    """A throwaway cluster's URL, or None (with the reason printed) when PostgreSQL is missing."""
    try:
        with postgres_cluster() as url:
            yield url
    except BaseException as exc:  # pytest's skip is a BaseException
        if type(exc).__name__ != "Skipped":
            raise
        print(f"(no Postgres: {exc})")
        yield None


def isolate(root: Path) -> None:
    """No RAILS_* from this shell and no stored credential from the user's config dir."""
    for name in [n for n in os.environ if n.startswith("RAILS_")]:
        del os.environ[name]
    os.environ["RAILS_CONFIG_DIR"] = str(root / "config")


def main(opts: argparse.Namespace) -> None:
    if opts.traced:
        traced()
    with tempfile.TemporaryDirectory(prefix="rails-mcp-bench-") as tmp:
        isolate(Path(tmp))
        measure(Path(tmp), opts).print()


def measure(root: Path, opts: argparse.Namespace) -> Table:
    table = Table()
    with maybe_postgres() as cluster_url:
        urls: dict[str, str | None] = {"sqlite": None}
        if cluster_url is not None:
            urls["postgres"] = fresh_database(cluster_url)
        dirs = {name: root / name for name in urls}
        costs = anyio.run(store_costs, dirs, urls, opts.calls, opts.writes)
        heads = list(urls)
        table.add(
            "per call, in-process",
            *heads,
            *(["pg/sqlite"] if "postgres" in urls else []),
            note="(Postgres: a throwaway cluster with fsync=off; SQLite syncs)" if cluster_url else "",
        )
        for kind, tool in (("read", "get_repair_job"), ("write", "place_procurement")):
            for q, label in ((0.5, "p50"), (0.9, "p90")):
                figures = [pct(costs[name][kind], q) for name in heads]
                ratio = [f"{figures[1] / figures[0]:.2f}"] if len(figures) == 2 else []
                table.add(f"  {tool} {label} (ms)", *(f"{f:.2f}" for f in figures), *ratio)
        rates = replica_rates(
            root / "replicas",
            fresh_database(cluster_url) if cluster_url else None,
            opts.clients,
            opts.per_client,
        )
    store = "Postgres" if cluster_url else "SQLite per replica"
    table.add(f"replicas over HTTP ({store})", "1", "2", "3")
    table.add(
        "  get_repair_job calls/s",
        *(f"{rates[n][0]:.1f}" for n in (1, 2, 3)),
        note=f"{opts.clients} clients x {opts.per_client}",
    )
    table.add("  p50 (ms)", *(f"{pct(rates[n][1], 0.5):.1f}" for n in (1, 2, 3)))
    table.add("  p99 (ms)", *(f"{pct(rates[n][1], 0.99):.1f}" for n in (1, 2, 3)))
    thin = anyio.run(against_thin, root / "default", opts.calls)
    ours_p50, thin_p50 = p50(thin["ours"]), p50(thin["thin"])
    ratio = ours_p50 / thin_p50
    spans = "spans recorded in memory" if opts.traced else "tracing API without an exporter"
    table.add(
        "default set-up, in-process", "rails-mcp", "thin", "ratio", note=f"(audit on, metrics, {spans})"
    )
    verdict = f"target <= 1.1: {'met' if ratio <= 1.1 else 'NOT met'}"
    table.add("  get_repair_job p50 (ms)", f"{ours_p50:.2f}", f"{thin_p50:.2f}", f"{ratio:.2f}", note=verdict)
    ours_check, thin_check = p50(thin["ours_check"]), p50(thin["thin_check"])
    table.add("  client's outputSchema check (ms)", f"{ours_check:.2f}", f"{thin_check:.2f}")
    server_ratio = (ours_p50 - ours_check) / (thin_p50 - thin_check)
    table.add(
        "  p50 less that check (ms)",
        f"{ours_p50 - ours_check:.2f}",
        f"{thin_p50 - thin_check:.2f}",
        f"{server_ratio:.2f}",
    )
    over_stdio(root / "stdio", opts.calls, table)
    return table


def over_stdio(state: Path, calls: int, table: Table) -> None:
    """The same ratio with both servers as processes on stdio over one sandbox process."""
    port = free_port()
    command = ["sandbox", "--port", str(port), "--db", str(state / "wire.db"), "--no-idle-reset"]
    with running(command, clean_env(state / "sandbox"), port=port, ready_path="/healthz"):
        samples, cpu_ms = anyio.run(side_by_side, f"http://127.0.0.1:{port}", state, calls)
    ours, thin = p50(samples["ours"]), p50(samples["thin"])
    verdict = f"target <= 1.1: {'met' if ours / thin <= 1.1 else 'NOT met'}"
    table.add("default set-up, stdio", "rails-mcp", "thin", "ratio", note="(one sandbox process)")
    table.add("  get_repair_job p50 (ms)", f"{ours:.2f}", f"{thin:.2f}", f"{ours / thin:.2f}", note=verdict)
    if "ours" in cpu_ms and "thin" in cpu_ms:
        ours_cpu, thin_cpu = cpu_ms["ours"], cpu_ms["thin"]
        table.add(
            "  server CPU per call (ms)", f"{ours_cpu:.2f}", f"{thin_cpu:.2f}", f"{ours_cpu / thin_cpu:.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200, help="reads per server (1 and 3)")
    parser.add_argument("--writes", type=int, default=40, help="placements per store (1)")
    parser.add_argument("--clients", type=int, default=12, help="concurrent MCP clients (2)")
    parser.add_argument("--per-client", type=int, default=10, help="calls per client (2)")
    parser.add_argument("--traced", action="store_true", help="record spans (in memory) in every part")
    main(parser.parse_args())
