"""Load on streamable HTTP, rails-mcp and the thin forwarder side by side in one run.

One ``rails-mcp sandbox`` process is the wire. ``rails-mcp serve --transport streamable-http``
(default set-up: SQLite state, audit log, metrics) and the thin MCPServer forwarder
(``bench/thin_server.py --http``) each run as one process over it. N MCP clients connect to
one server at once, each making M ``get_repair_job`` calls; then the same against the other
server, alternating for ``--rounds`` rounds so drift hits both alike. Printed side by side:
errors, calls/s, p50, p99, p99/p50, each session's set-up, and its first call apart from the
rest. Targets: rails-mcp p99 <= 3 x its p50, and calls/s within 10 % of the forwarder.

The clients (all in one process, as the issue measured):

- ``--client python`` (default): the official Python SDK's ``mcp.Client``. Its first
  ``call_tool`` lists the tools itself and compiles the tool's outputSchema (checked against
  the JSON Schema 2020-12 metaschema), once per session; ``--list-first`` lists on connecting
  instead, as a host does to show the model its tools, so that counts as set-up.
- ``--client typescript``: the official TypeScript SDK (``bench/load_clients.mjs``, the
  ``@modelcontextprotocol/sdk`` that ``.ci/run`` installs for the conformance suite), as Claude
  Desktop and the Inspector connect: it lists on connecting and compiles every listed
  outputSchema with Ajv then.

``--untyped`` adds a server, an experiment rather than a configuration: rails-mcp with every
outputSchema left out of ``tools/list`` (``bench/untyped_serve.py``), so what the clients
spend compiling our typed schemas can be told apart from what the server spends.
``--typed-thin`` adds the other side of that comparison: a forwarder listing rails-mcp's
thirteen tools with the same schemas (``bench/typed_thin_server.py``), so clients do the same
work for both and only the servers differ.

Then per server: its CPU per call over the load runs (from /proc), and, unloaded, what one
Python client spends before its first call can be sent: ``tools/list`` (round trip and parse)
and compiling get_repair_job's outputSchema.

Run: ``python bench/bench_http_load.py [--clients 50] [--calls 20] [--rounds 2]
[--client python|typescript] [--list-first] [--untyped] [--typed-thin] [--shared-http]``.
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

from tests.e2e.test_http_load import JOB, NODE_PREFIX, TS_SDK, LoadResult, drive, typescript_drive
from tests.support.node import suitable_node
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
        "session set-up p50 (ms)": statistics.median([x for r in results for x in r.setups] or [float("nan")])
        * 1000,
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


def python_drive(shared_http: bool, list_first: bool, url: str, clients: int, calls: int) -> LoadResult:
    """``clients`` Python SDK clients at once in this process."""
    return anyio.run(partial(drive, url, clients, calls, shared_http=shared_http, list_first=list_first))


def servers(
    root: Path, base: str, untyped: bool, typed_thin: bool
) -> list[tuple[str, list[str], dict[str, str]]]:
    """(name, argv, environment) of each server to load: rails-mcp first, the forwarder last."""
    here = [sys.executable, "-m", "rails_mcp"]
    found = [("rails-mcp", here, clean_env(root / "ours", RAILS_BASE_URL=base, RAILS_TENANT=TENANT))]
    if untyped:
        env = clean_env(root / "untyped", RAILS_BASE_URL=base, RAILS_TENANT=TENANT)
        found.append(("untyped", [sys.executable, str(HERE / "untyped_serve.py")], env))
    if typed_thin:
        env = clean_env(root / "typed-thin", RAILS_BASE_URL=base)
        found.append(("typed-thin", [sys.executable, str(HERE / "typed_thin_server.py")], env))
    found.append(
        (
            "thin",
            [sys.executable, str(HERE / "thin_server.py")],
            clean_env(root / "thin", RAILS_BASE_URL=base),
        )
    )
    return found


def main(args: argparse.Namespace) -> None:
    if args.client == "typescript":
        node, why = suitable_node(NODE_PREFIX, (18, 0))
        if node is None or not TS_SDK.exists():
            sys.exit(f"--client typescript needs `npm ci --prefix tests/conformance` and Node >= 18 ({why})")
        load = partial(typescript_drive, node)
    else:
        load = partial(python_drive, args.shared_http, args.list_first)
    with tempfile.TemporaryDirectory(prefix="rails-mcp-load-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        wire = free_port()
        sandbox = ["sandbox", "--port", str(wire), "--db", str(root / "wire.db"), "--no-idle-reset"]
        stack.enter_context(running(sandbox, clean_env(root / "sandbox"), port=wire))
        base = f"http://127.0.0.1:{wire}"
        procs: dict[str, subprocess.Popen[bytes]] = {}
        urls: dict[str, str] = {}
        for name, argv, env in servers(root, base, args.untyped, args.typed_thin):
            port = free_port()
            serve = {"thin": ["--http", str(port)], "typed-thin": [str(port)]}.get(
                name, ["serve", "--transport", "streamable-http", "--port", str(port)]
            )
            procs[name] = stack.enter_context(
                running([], env, port=port, ready_path="/mcp", argv=[*argv, *serve])
            )
            urls[name] = f"http://127.0.0.1:{port}/mcp"
        for url in urls.values():  # warm each (the tenant is seeded by rails-mcp's first call)
            anyio.run(drive, url, 2, 2)
        runs: dict[str, list[LoadResult]] = {name: [] for name in urls}
        cpu = dict.fromkeys(urls, 0.0)
        for _ in range(args.rounds):
            for name, url in urls.items():
                before = cpu_seconds(procs[name])
                runs[name].append(load(url, args.clients, args.calls))
                cpu[name] += cpu_seconds(procs[name]) - before
        setup = {name: anyio.run(session_setup, url) for name, url in urls.items()}
    table = {name: columns(results) for name, results in runs.items()}
    for name, cols in table.items():
        cols["server CPU per call (ms)"] = cpu[name] / (args.rounds * args.clients * args.calls) * 1000
        cols.update(setup[name])
    report(args, table)


def report(args: argparse.Namespace, table: dict[str, dict[str, float]]) -> None:
    """The table, each server's figure beside the forwarder's, then the two targets."""
    if args.client == "typescript":
        how = "TypeScript SDK clients (list on connecting, compile every outputSchema then)"
    else:
        listing = "list on connecting" if args.list_first else "the first call lists"
        http = "one shared HTTP client" if args.shared_http else "an HTTP client each"
        how = f"Python SDK clients ({listing}; {http})"
    print(
        f"streamable HTTP, {args.clients} clients x {args.calls} get_repair_job calls, "
        f"{args.rounds} rounds each, {how}"
    )
    names = list(table)
    thin = table["thin"]
    head = "".join(f"{n:>12s}" for n in names) + "".join(f"{n + '/thin':>17s}" for n in names[:-1])
    print(f"{'':28s}{head}")
    for key, thin_value in thin.items():
        values = "".join(f"{table[n][key]:12.1f}" for n in names)
        ratios = "".join(
            f"{table[n][key] / thin_value:17.2f}" if thin_value else f"{'':17s}" for n in names[:-1]
        )
        print(f"  {key:26s}{values}{ratios}")
    for name in names[:-1]:
        tail = table[name]["p99/p50"]
        rate = table[name]["calls/s"] / thin["calls/s"]
        print(
            f"{name}: target p99 <= 3 x p50: {'met' if tail <= 3 else 'NOT met'} ({tail:.2f}); "
            f"calls/s within 10 % of thin: {'met' if rate >= 0.9 else 'NOT met'} ({rate:.2f})"
        )
    if "typed-thin" in table:  # the same contract on both sides: only the servers differ
        ours, typed = table["rails-mcp"], table["typed-thin"]
        print(
            f"rails-mcp against typed-thin: p99/p50 {ours['p99/p50']:.2f} against {typed['p99/p50']:.2f}; "
            f"calls/s {ours['calls/s'] / typed['calls/s']:.2f} of its"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--client", choices=("python", "typescript"), default="python")
    parser.add_argument(
        "--list-first", action="store_true", help="Python clients list the tools on connecting"
    )
    parser.add_argument("--untyped", action="store_true", help="also load rails-mcp without output schemas")
    parser.add_argument(
        "--typed-thin",
        action="store_true",
        help="also load a forwarder listing rails-mcp's tools and schemas",
    )
    parser.add_argument(
        "--shared-http",
        action="store_true",
        help="all Python clients share one HTTP client, as sessions in one host process would",
    )
    main(parser.parse_args())
