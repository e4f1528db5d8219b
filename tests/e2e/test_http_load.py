"""Fifty MCP clients at once on streamable HTTP, twenty calls each: no call may fail.

The load driver lives here; ``bench/bench_http_load.py`` imports it and prints the figures.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.node import suitable_node, unavailable
from tests.support.process_support import clean_env, free_port, running
from tests.support.secret_scan import scan_result

pytestmark = pytest.mark.subprocess

JOB = {"external": "CCC-2026-04817"}
#: The TypeScript SDK (what Claude Desktop and the Inspector are built on) that ``.ci/run``
#: installs for the conformance suite, the Node.js beside it, and the load script using it.
NODE_PREFIX = Path(__file__).resolve().parents[1] / "conformance"
TS_SDK = NODE_PREFIX / "node_modules" / "@modelcontextprotocol" / "sdk"
LOAD_CLIENTS = Path(__file__).resolve().parents[2] / "bench" / "load_clients.mjs"


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list[float])
    #: Each session's first call (it carries the session's set-up) and the calls after it.
    firsts: list[float] = field(default_factory=list[float])
    later: list[float] = field(default_factory=list[float])
    #: Each session's set-up before its first call: connecting (and listing the tools, if asked).
    setups: list[float] = field(default_factory=list[float])
    errors: list[str] = field(default_factory=list[str])
    elapsed: float = 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


async def drive(
    url: str, clients: int, calls: int, *, shared_http: bool = False, list_first: bool = False
) -> LoadResult:
    """``clients`` MCP clients at once, each making ``calls`` get_repair_job calls.

    Each client makes its own HTTP client (the SDK's default), or with ``shared_http`` all use
    one, as one host process serving many sessions would (no SSL context built per session).
    Without ``list_first`` a session's first call lists the tools itself (the SDK client does,
    to find the output schema); with it each session lists them on connecting, as a host does
    to show the model its tools, and that counts as set-up.
    """
    result = LoadResult()
    http = httpx2.AsyncClient(
        timeout=httpx2.Timeout(30, read=300), limits=httpx2.Limits(max_connections=None)
    )

    async def one_client() -> None:
        transport = streamable_http_client(url, http_client=http) if shared_http else url
        try:
            started = time.perf_counter()
            async with Client(transport, mode="legacy") as client:
                if list_first:
                    await client.list_tools()
                result.setups.append(time.perf_counter() - started)
                for i in range(calls):
                    t = time.perf_counter()
                    r = await client.call_tool("get_repair_job", {"job": JOB})
                    took = time.perf_counter() - t
                    result.latencies.append(took)
                    (result.later if i else result.firsts).append(took)
                    scan_result("get_repair_job", r)
                    if r.is_error:
                        result.errors.append(str(r.structured_content))
        except Exception as exc:  # a load run counts failures, it does not stop at the first
            result.errors.append(f"{type(exc).__name__}: {exc}")

    started = time.perf_counter()
    with anyio.fail_after(300):
        async with http, anyio.create_task_group() as tg:
            for _ in range(clients):
                tg.start_soon(one_client)
    result.elapsed = time.perf_counter() - started
    return result


def typescript_drive(node: str, url: str, clients: int, calls: int) -> LoadResult:
    """``clients`` TypeScript SDK clients at once in one Node process (``load_clients.mjs``)."""
    script = [node, str(LOAD_CLIENTS), str(TS_SDK), url, str(clients), str(calls)]
    out = subprocess.run(script, capture_output=True, text=True, timeout=300, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    result = LoadResult(elapsed=report["elapsed"])
    for session in report["sessions"]:
        latencies: list[float] = session["latencies"]
        result.latencies += latencies
        result.firsts += latencies[:1]
        result.later += latencies[1:]
        result.setups.append(session["setup"])
        result.errors += session["errors"]
    return result


def run(clients: int, calls: int) -> LoadResult:
    """Start ``rails-mcp serve --transport streamable-http`` on throw-away state and drive it."""
    with tempfile.TemporaryDirectory() as state:
        port = free_port()
        command = ["serve", "--transport", "streamable-http", "--port", str(port)]
        env = clean_env(Path(state), RAILS_TENANT="load")
        with running(command, env, port=port, ready_path="/mcp"):
            return anyio.run(drive, f"http://127.0.0.1:{port}/mcp", clients, calls)


def test_fifty_concurrent_clients_times_twenty_calls_on_streamable_http_see_zero_errors():
    result = run(clients=50, calls=20)
    assert result.errors == []
    assert len(result.latencies) == 1000


def test_typescript_sdk_clients_at_once_validate_every_result_against_the_published_schema():
    """The TypeScript SDK compiles every listed outputSchema with Ajv and checks each result
    against it; a result that did not fit would be an error here."""
    node, why = suitable_node(NODE_PREFIX, (18, 0))
    if node is None or not TS_SDK.exists():
        unavailable(f"the TypeScript SDK load clients need `npm ci --prefix tests/conformance` ({why})")
    with tempfile.TemporaryDirectory() as state:
        port = free_port()
        command = ["serve", "--transport", "streamable-http", "--port", str(port)]
        with running(command, clean_env(Path(state), RAILS_TENANT="load"), port=port, ready_path="/mcp"):
            result = typescript_drive(node, f"http://127.0.0.1:{port}/mcp", 5, 4)
    assert result.errors == []
    assert len(result.latencies) == 20
