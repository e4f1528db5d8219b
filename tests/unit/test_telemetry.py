"""What an operator sees of a tool call: its MCP request span with a child per wire call, the
counts behind ``/metrics``, and the trace id on the server's log lines.

The spans are collected in memory (the OpenTelemetry SDK's ``InMemorySpanExporter``) from a
tracer provider set once for this process; every other test's spans are dropped.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp_types import ElicitRequestParams, ElicitResult, ErrorData
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from rails_mcp.approval import ApprovalGate
from rails_mcp.server import build_server
from rails_mcp.telemetry import LOG_FORMAT, Metrics, log_trace_ids
from rails_mcp.wire import models as m
from rails_mcp.wire.errors import NotFound
from rails_mcp.wire.methods import METHODS
from tests.support.mcp_support import JOB, MISSING, QUICKSTART, QUICKSTART_TOTAL, lossy_rails, mcp_session
from tests.support.secret_scan import find_secrets

pytestmark = pytest.mark.anyio


class _WhileCollecting(SpanProcessor):
    """Hands ended spans to the exporter only while a test here collects them."""

    def __init__(self) -> None:
        self.exporter: InMemorySpanExporter | None = None

    def on_end(self, span: ReadableSpan) -> None:
        if self.exporter is not None:
            self.exporter.export([span])


_COLLECTOR = _WhileCollecting()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(_COLLECTOR)
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    _COLLECTOR.exporter = exporter
    try:
        yield exporter
    finally:
        _COLLECTOR.exporter = None


def one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def children(spans: Sequence[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def everything_said(spans: Sequence[ReadableSpan]) -> str:
    """Every name, attribute, event and status text the spans would export."""
    return json.dumps(
        [
            {
                "name": s.name,
                "attributes": dict(s.attributes or {}),
                "events": [(e.name, dict(e.attributes or {})) for e in s.events],
                "status": s.status.description,
                "resource": dict(s.resource.attributes),
            }
            for s in spans
        ],
        default=str,
    )


async def test_a_tool_call_is_an_mcp_request_span_with_a_child_span_per_wire_call(
    tmp_path: Path, spans: InMemorySpanExporter
):
    async with mcp_session(tmp_path) as session:
        await session.ok("get_repair_job", {"job": JOB})
    finished = spans.get_finished_spans()
    request = one(finished, "tools/call get_repair_job")
    assert request.kind is SpanKind.SERVER
    wire = children(finished, request)
    assert wire, "the wire calls are children of the MCP request span"
    for span in wire:
        attributes = dict(span.attributes or {})
        assert span.kind is SpanKind.CLIENT
        assert span.name in METHODS  # the dotted wire method
        assert attributes["rails.wire.method"] == span.name
        assert attributes["http.response.status_code"] == 200
        assert attributes["rails.wire.retries"] == 0
        assert isinstance(attributes["rails.wire.duration_ms"], float)
        assert attributes["rails.wire.duration_ms"] > 0
    assert "repairer.jobs.get" in {s.name for s in wire}
    said = everything_said(finished)
    assert find_secrets(said) == []
    assert "Bearer" not in said
    assert JOB["external"] not in said  # arguments never reach a span


async def test_a_retried_read_and_a_refused_one_say_so_on_their_wire_span(
    tmp_path: Path, spans: InMemorySpanExporter
):
    rails, lossy = lossy_rails(tmp_path)
    lossy.lose_after["repairer.jobs.get"] = 1  # the first answer is lost; the read is retried
    try:
        await rails.client.repairer.jobs.get(identity=m.ExternalIdentity(external=JOB["external"]))
        with pytest.raises(NotFound):
            await rails.client.repairer.jobs.get(identity=m.IdIdentity(id=UUID(MISSING)))
    finally:
        await rails.client.aclose()
    retried, refused = [s for s in spans.get_finished_spans() if s.name == "repairer.jobs.get"]
    assert dict(retried.attributes or {})["rails.wire.retries"] == 1
    assert dict(retried.attributes or {})["http.response.status_code"] == 200
    assert retried.status.status_code is StatusCode.UNSET
    refused_attributes = dict(refused.attributes or {})
    assert refused_attributes["http.response.status_code"] == 404
    assert refused_attributes["error.type"] == "not_found"
    assert refused.status.status_code is StatusCode.ERROR
    assert find_secrets(everything_said(spans.get_finished_spans())) == []


async def test_a_log_line_written_during_a_traced_call_carries_its_trace_id(
    tmp_path: Path, spans: InMemorySpanExporter
):
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    log_trace_ids([handler])
    logger = logging.getLogger("rails_mcp.server")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        async with mcp_session(tmp_path) as session:
            await session.fail("get_repair_job", {"job": {"colour": "red"}}, code="invalid_arguments")
        logging.getLogger("rails_mcp.server").info("after the call")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    request = one(spans.get_finished_spans(), "tools/call get_repair_job")
    assert request.context is not None
    trace_id = format(request.context.trace_id, "032x")
    refused, after = [
        line for line in out.getvalue().splitlines() if "refused arguments" in line or "after" in line
    ]
    assert refused.startswith("INFO rails_mcp.server: tool get_repair_job refused arguments")
    assert f" trace_id={trace_id} span_id=" in refused
    assert after == "INFO rails_mcp.server: after the call"  # no span, no ids


class _Person:
    """The human behind the host, deciding in turn."""

    def __init__(self, *decisions: str) -> None:
        self.decisions = list(decisions)

    async def __call__(
        self, context: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult | ErrorData:
        return ElicitResult(action="accept", content={"decision": self.decisions.pop(0)})


def counted(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_tool_calls_approvals_and_money_placed_are_counted_per_server(tmp_path: Path):
    rails, _ = lossy_rails(tmp_path)
    gate = ApprovalGate("ask", b"approval-key-for-the-tests-0123456789abcdef", audience="tests")
    server = build_server(rails, approval=gate)
    metrics = rails.client.metrics
    try:
        async with Client(
            server, mode="legacy", elicitation_callback=_Person("decline", "approve")
        ) as client:
            await client.call_tool("get_repair_job", {"job": JOB})
            await client.call_tool("get_repair_job", {"job": {"id": MISSING}})
            declined = await client.call_tool("place_procurement", QUICKSTART)
            assert (declined.structured_content or {}).get("approval") == "declined", declined
            placed = await client.call_tool("place_procurement", QUICKSTART)
            assert not placed.is_error, placed
    finally:
        await rails.client.aclose()
    assert counted(metrics, "rails_mcp_tool_calls_total", tool="get_repair_job", outcome="ok") == 1
    assert counted(metrics, "rails_mcp_tool_calls_total", tool="get_repair_job", outcome="not_found") == 1
    assert counted(metrics, "rails_mcp_tool_calls_total", tool="place_procurement", outcome="ok") == 2
    assert counted(metrics, "rails_mcp_approvals_total", outcome="asked") == 2
    assert counted(metrics, "rails_mcp_approvals_total", outcome="approved") == 1
    assert counted(metrics, "rails_mcp_approvals_total", outcome="declined") == 1
    currency = (placed.structured_content or {})["procurement"]["currency_code"]
    assert counted(metrics, "rails_mcp_placed_amount_total", currency=currency) == float(QUICKSTART_TOTAL)
    assert counted(metrics, "rails_mcp_wire_seconds_count", method="repairer.procurements.insert") == 1
    assert counted(metrics, "rails_mcp_wire_seconds_count", method="repairer.jobs.get") >= 2
    assert Metrics().registry.get_sample_value("rails_mcp_tool_calls_total", {}) is None  # its own registry


def test_the_budget_gauge_reads_its_source_at_each_scrape_and_is_empty_without_one():
    metrics = Metrics()
    assert counted(metrics, "rails_mcp_budget_remaining", currency="AUD") == 0.0
    names = {m.name for m in metrics.registry.collect()}
    assert "rails_mcp_budget_remaining" in names  # declared, with no samples yet
    left: dict[str, Any] = {"AUD": 5000.0}
    metrics.budget_remaining = lambda: left
    assert counted(metrics, "rails_mcp_budget_remaining", currency="AUD") == 5000.0
    left["AUD"] = 3900.0
    assert counted(metrics, "rails_mcp_budget_remaining", currency="AUD") == 3900.0
