"""What an operator watches: Prometheus counters, a span per wire call, trace ids in log lines.

Kept below the client and free of MCP imports, so the client can time its wire calls here.
Each server counts into its own :class:`Metrics` registry (tests build many servers in one
process); the HTTP transports serve it at ``/metrics``. Spans go through the OpenTelemetry
API, which does nothing until :func:`install_tracing` finds an OTLP endpoint configured: the
SDK's middleware spans each MCP request, and :func:`wire_call` adds a child per wire call.
Nothing here ever sees a call's arguments or a credential: only method names, tool names,
outcome codes, HTTP statuses, durations and amounts placed.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any
from weakref import WeakKeyDictionary

from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from rails_mcp import __version__
from rails_mcp.config import OtlpSettings
from rails_mcp.wire.codes import ErrorCode
from rails_mcp.wire.errors import NoUsableAnswer, RailsAPIError

__all__ = [
    "LOG_FORMAT",
    "BudgetSource",
    "Metrics",
    "TraceIds",
    "install_tracing",
    "log_trace_ids",
    "metrics_of",
    "note_wire_retries",
    "note_wire_status",
    "serve_metrics",
    "wire_call",
]

#: Remaining budget per currency, read each time ``/metrics`` is scraped.
BudgetSource = Callable[[], Mapping[str, float]]

#: Wire latency buckets, in seconds: the in-process sandbox answers in milliseconds, a remote
#: API in tenths, a retried read within the retry policy's 30 s.
WIRE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

_KNOWN_CODES = frozenset(code.value for code in ErrorCode)
_CURRENCY = re.compile(r"[A-Z]{3}")
_TRACER = trace.get_tracer("rails_mcp", __version__)


def _outcome_label(outcome: str) -> str:
    """``ok``, ``input_required`` (an approval asked), or the error code: a bounded set."""
    if outcome in ("ok", "input_required") or outcome in _KNOWN_CODES:
        return outcome
    return "error"


def _approval_label(approval: str | None) -> str | None:
    """The decision an approval string records, or None when it records none."""
    decision = (approval or "").split(":", 1)[0]
    return decision if decision in ("approved", "declined", "refused") else None


def _placed(structured: Mapping[str, Any]) -> tuple[str, float] | None:
    """(currency, amount) of an order a tool result says it placed."""
    procurement: object = structured.get("procurement")
    if structured.get("placed") is not True or not isinstance(procurement, Mapping):
        return None
    fields: Mapping[str, Any] = procurement  # pyright: ignore[reportUnknownVariableType]
    currency = str(fields.get("currency_code") or "")
    try:
        amount = Decimal(str(fields.get("total")))
    except InvalidOperation:
        return None
    if not amount.is_finite():
        return None
    return (currency if _CURRENCY.fullmatch(currency) else "unknown"), float(amount)


class _BudgetRemaining(Collector):
    """``rails_mcp_budget_remaining{currency}``, asked of the budget source at each scrape."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "rails_mcp_budget_remaining", "Spending budget left in the current period.", labels=["currency"]
        )
        source = self.metrics.budget_remaining
        remaining: Mapping[str, float] = source() if source is not None else {}
        for currency, amount in remaining.items():
            family.add_metric([currency], amount)
        yield family


class Metrics:
    """One server's Prometheus registry and the counts it keeps."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        #: Set where the server is built to its ledger's ``remaining`` (empty without a budget);
        #: until then the gauge is served with no samples.
        self.budget_remaining: BudgetSource | None = None
        self._tool_calls = Counter(
            "rails_mcp_tool_calls",
            "Tool calls by tool and outcome (ok, input_required, or the error code).",
            ["tool", "outcome"],
            registry=self.registry,
        )
        self._wire_seconds = Histogram(
            "rails_mcp_wire_seconds",
            "Rails API calls by dotted method, retries included, in seconds.",
            ["method"],
            buckets=WIRE_BUCKETS,
            registry=self.registry,
        )
        self._wire_by_method: dict[str, Histogram] = {}
        self._approvals = Counter(
            "rails_mcp_approvals",
            "Order approvals: asked of a person, approved, declined, refused (a bad returned state).",
            ["outcome"],
            registry=self.registry,
        )
        self._placed = Counter(
            "rails_mcp_placed_amount",
            "Money placed in orders, by currency (unknown when the order names none).",
            ["currency"],
            registry=self.registry,
        )
        self.registry.register(_BudgetRemaining(self))

    def tool_call(
        self, tool: str, outcome: str, approval: str | None, *, asked: bool, structured: Mapping[str, Any]
    ) -> None:
        """Count one finished tool call: its outcome, the approval it asked or decided, what it placed."""
        self._tool_calls.labels(tool=tool, outcome=_outcome_label(outcome)).inc()
        if asked:
            self._approvals.labels(outcome="asked").inc()
        decided = _approval_label(approval)
        if decided is not None:
            self._approvals.labels(outcome=decided).inc()
        placed = _placed(structured)
        if placed is not None:
            self._placed.labels(currency=placed[0]).inc(placed[1])

    def wire_seconds(self, method: str, seconds: float) -> None:
        timed = self._wire_by_method.get(method)
        if timed is None:
            timed = self._wire_by_method[method] = self._wire_seconds.labels(method=method)
        timed.observe(seconds)


#: Which registry each server serves; weak, so a server dropped by a test takes it along.
_SERVED: WeakKeyDictionary[object, Metrics] = WeakKeyDictionary()


def serve_metrics(server: object, metrics: Metrics) -> None:
    """Name ``metrics`` as what ``server``'s HTTP transport serves at ``/metrics``."""
    _SERVED[server] = metrics


def metrics_of(server: object) -> Metrics | None:
    return _SERVED.get(server)


# --- spans -------------------------------------------------------------------------------------


@contextmanager
def wire_call(method: str, metrics: Metrics) -> Generator[None]:
    """One wire call, retries included: a CLIENT span named for the dotted method, and its
    duration in the latency histogram. A failure is marked by its error code, never its text."""
    started = time.perf_counter()
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        try:  # no tracing set up: the histogram only (a no-op span still costs its context)
            yield
        finally:
            metrics.wire_seconds(method, time.perf_counter() - started)
        return
    with _TRACER.start_as_current_span(
        method,
        kind=SpanKind.CLIENT,
        attributes={"rails.wire.method": method, "rails.wire.retries": 0},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield
        except Exception as exc:
            coded = isinstance(exc, NoUsableAnswer | RailsAPIError)
            span.set_attribute("error.type", str(exc.code) if coded else type(exc).__qualname__)
            span.set_status(StatusCode.ERROR)
            raise
        finally:
            seconds = time.perf_counter() - started
            span.set_attribute("rails.wire.duration_ms", round(seconds * 1000, 3))
            metrics.wire_seconds(method, seconds)


def note_wire_status(status: int) -> None:
    """The HTTP status the wire answered, on the running wire call's span."""
    trace.get_current_span().set_attribute("http.response.status_code", status)


def note_wire_retries(retries: int) -> None:
    """How many times the running wire call has been retried so far."""
    trace.get_current_span().set_attribute("rails.wire.retries", retries)


def install_tracing(settings: OtlpSettings) -> bool:
    """Export spans by OTLP/HTTP when an endpoint is configured; otherwise do nothing at all.

    Returns whether spans are exported. With no endpoint no exporter is made (nor imported),
    nothing is sent, and the API's spans cost next to nothing. Called once per process.
    """
    if not settings.exporting:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": settings.service_name, "service.version": __version__})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return True


# --- logs --------------------------------------------------------------------------------------

#: The server's log line; ``trace`` is empty outside a traced call.
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s%(trace)s"


class TraceIds(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` (hex, empty when no span is recording) to each record,
    and ``trace``, the two as a suffix for a plain line."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        trace_id = format(context.trace_id, "032x") if context.is_valid else ""
        span_id = format(context.span_id, "016x") if context.is_valid else ""
        record.trace_id, record.span_id = trace_id, span_id
        record.trace = f" trace_id={trace_id} span_id={span_id}" if context.is_valid else ""
        return True


def log_trace_ids(handlers: Iterable[logging.Handler]) -> None:
    """Give each handler the trace ids of the call it logs for (once per handler)."""
    for handler in handlers:
        if not any(isinstance(f, TraceIds) for f in handler.filters):
            handler.addFilter(TraceIds())
