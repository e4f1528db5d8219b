"""Telemetry of a real ``rails-mcp serve`` over streamable HTTP, as an operator collects it.

``/metrics`` (behind the same bearer token as MCP) counts a read and a placement; with
``OTEL_EXPORTER_OTLP_ENDPOINT`` set, spans arrive at a local OTLP/HTTP collector (a socket
the test opens) with the wire calls as children of the MCP request; with no such variable, a
fresh process makes no exporter and no tracer provider at all.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.support.mcp_support import JOB, QUICKSTART, QUICKSTART_TOTAL
from tests.support.process_support import clean_env, free_port, running
from tests.support.secret_scan import find_secrets, scan_result

pytestmark = pytest.mark.subprocess

TOKEN = "metrics-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@contextmanager
def otlp_collector() -> Iterator[tuple[str, list[bytes]]]:
    """A local OTLP/HTTP endpoint keeping every export request's body."""
    bodies: list[bytes] = []

    class Collect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if self.path == "/v1/traces":
                bodies.append(self.rfile.read(length))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()
        server.server_close()


async def read_and_place(url: str) -> dict[str, object]:
    async with (
        httpx2.AsyncClient(headers=AUTH, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http), mode="legacy") as client,
    ):
        read = await client.call_tool("get_repair_job", {"job": JOB})
        scan_result("get_repair_job", read)
        assert not read.is_error
        placed = await client.call_tool("place_procurement", QUICKSTART)
        scan_result("place_procurement", placed)
        assert not placed.is_error, placed
        return placed.structured_content or {}


def sample(metrics: str, series: str) -> float:
    """The value of one exposition line (``name{labels}``), 0 when absent."""
    for line in metrics.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def exported_spans(bodies: list[bytes]) -> list[dict[str, object]]:
    spans: list[dict[str, object]] = []
    for body in bodies:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans.append(
                        {
                            "name": span.name,
                            "id": span.span_id.hex(),
                            "parent": span.parent_span_id.hex(),
                            "trace": span.trace_id.hex(),
                            "service": resource.get("service.name"),
                            "attributes": {
                                a.key: a.value.int_value or a.value.string_value for a in span.attributes
                            },
                        }
                    )
    return spans


def test_metrics_and_otlp_spans_of_a_read_and_a_placement(tmp_path: Path):
    port = free_port()
    with otlp_collector() as (endpoint, bodies):
        env = clean_env(
            tmp_path,
            RAILS_TENANT="telemetry",
            RAILS_MCP_TOKEN=TOKEN,
            RAILS_BUDGET="5000/day",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
            OTEL_BSP_SCHEDULE_DELAY="100",
        )
        command = ["serve", "--transport", "streamable-http", "--port", str(port)]
        with running(command, env, port=port, ready_path="/mcp"):
            placed = anyio.run(read_and_place, f"http://127.0.0.1:{port}/mcp")
            base = f"http://127.0.0.1:{port}/metrics"
            assert httpx2.get(base).status_code == 401  # the same token as MCP
            assert httpx2.get(base, headers={**AUTH, "Host": "evil.example"}).status_code == 421
            assert httpx2.post(base, headers=AUTH).status_code == 405
            scraped = httpx2.get(base, headers=AUTH)
            deadline = time.monotonic() + 10
            while not any(s["name"] == "repairer.procurements.insert" for s in exported_spans(bodies)):
                assert time.monotonic() < deadline, "no wire span exported"
                time.sleep(0.1)
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    metrics = scraped.text
    assert sample(metrics, 'rails_mcp_tool_calls_total{outcome="ok",tool="get_repair_job"}') == 1
    assert sample(metrics, 'rails_mcp_tool_calls_total{outcome="ok",tool="place_procurement"}') == 1
    assert sample(metrics, 'rails_mcp_wire_seconds_count{method="repairer.jobs.get"}') >= 1
    assert sample(metrics, 'rails_mcp_wire_seconds_count{method="repairer.procurements.insert"}') == 1
    currency = placed["procurement"]["currency_code"]  # type: ignore[index]
    assert sample(metrics, f'rails_mcp_placed_amount_total{{currency="{currency}"}}') == float(
        QUICKSTART_TOTAL
    )
    left = sample(metrics, f'rails_mcp_budget_remaining{{currency="{currency}"}}')
    assert left == 5000 - float(QUICKSTART_TOTAL)  # read from the ledger at the scrape
    assert "# TYPE rails_mcp_approvals_total counter" in metrics
    assert find_secrets(metrics) == []

    spans = exported_spans(bodies)
    by_id = {s["id"]: s for s in spans}
    read = next(s for s in spans if s["name"] == "tools/call get_repair_job")
    wire = [s for s in spans if s["parent"] == read["id"]]
    assert "repairer.jobs.get" in {s["name"] for s in wire}
    assert all(s["attributes"]["http.response.status_code"] == 200 for s in wire)  # type: ignore[index]
    insert = next(s for s in spans if s["name"] == "repairer.procurements.insert")
    assert by_id[insert["parent"]]["name"] == "tools/call place_procurement"
    assert {s["service"] for s in spans} == {"rails-mcp"}
    said = b"".join(bodies).decode("latin-1")
    assert find_secrets(said) == []
    assert "Bearer" not in said
    assert JOB["external"] not in said  # no argument leaves in a span


_PROBE = """
import json, sys, anyio
from mcp import Client
from opentelemetry import trace
from rails_mcp.hosting import open_server
from rails_mcp.config import OtlpSettings, load_settings
from rails_mcp.telemetry import install_tracing

async def main():
    exporting = install_tracing(OtlpSettings())  # what `rails-mcp serve` does first
    server = open_server(load_settings(), transport="stdio")
    async with Client(server, mode="legacy") as client:
        result = await client.call_tool("get_repair_job", {"job": {"external": "CCC-2026-04817"}})
    print(json.dumps({
        "exporting": exporting,
        "call_error": result.is_error,
        "provider": type(trace.get_tracer_provider()).__name__,
        "sdk_loaded": "opentelemetry.sdk.trace" in sys.modules,
        "exporter_loaded": "opentelemetry.exporter.otlp.proto.http.trace_exporter" in sys.modules,
    }))

anyio.run(main)
"""


def test_without_an_otlp_endpoint_no_exporter_is_made_and_nothing_is_traced(tmp_path: Path):
    env = {k: v for k, v in clean_env(tmp_path).items() if not k.startswith("OTEL_")}
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", _PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no warning, nothing said
    seen = json.loads(proc.stdout.splitlines()[-1])
    assert seen == {
        "exporting": False,
        "call_error": False,
        "provider": "ProxyTracerProvider",  # the API's no-op: no span is recorded
        "sdk_loaded": False,
        "exporter_loaded": False,
    }
