"""Wire fault injection: every wire method × every way an answer can go wrong.

A :class:`FaultTransport` sits between the client and the in-process sandbox and, for one
chosen wire method, fails the call the way a network or a proxy does: before the request
leaves (connect refused or timed out, a gateway's 5xx), or after the sandbox has handled it
and the write has landed (the answer timed out, was reset, cut short, corrupted, relabelled,
replaced by a gateway's 5xx, or arrived too late). The tests assert, per method and fault:

* the client raises the right class from :mod:`rails_mcp.wire.errors`, with ``retryable``
  and ``request_sent`` right, and never anything else;
* reads (``retry_safe``) are attempted exactly ``RetryPolicy.attempts`` times against a
  persistent fault and succeed through a transient one; writes are attempted exactly once;
* a write lands at most once, and only when the fault struck after it reached the sandbox;
* through the tools, every fault is a structured, schema-valid error with ``retryable``
  right, and a lost placement or confirmation never yields two procurements or invoices,
  even when the agent calls again with the same arguments.

``bench/fault_matrix.py`` runs the same cases outside pytest and prints the figures.
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import count, pairwise
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import stamina
import uvicorn
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from rails_mcp.client import Credentials, RailsClient, RetryPolicy
from rails_mcp.config import DEMO_REPAIRER, DEMO_SUPPLIER
from rails_mcp.sandbox import create_app
from rails_mcp.tools import Rails
from rails_mcp.wire import errors as e
from rails_mcp.wire import models as m
from rails_mcp.wire.methods import METHODS
from tests.support.mcp_support import (
    JOB,
    PR1,
    QUICKSTART,
    QUICKSTART_TOTAL,
    SITE,
    Session,
    part,
    session_over,
    wire_method,
)
from tests.support.sandbox_support import INSTALL, QUICKSTART_SELECTIONS

pytestmark = pytest.mark.anyio

INSERT = "repairer.procurements.insert"
CONFIRM = "supplier.procurements.confirm"
LIST_PROCUREMENTS = "repairer.procurements.list"

#: The client's own timeout: short, so a slow answer costs a fifth of a second.
CLIENT_TIMEOUT = 0.2
#: Bounded backoff with tiny waits; the tests also switch stamina's sleeps off.
POLICY = RetryPolicy(attempts=3, timeout=5.0, wait_initial=0.001, wait_max=0.002)


# --- the faults ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fault:
    name: str
    #: The sandbox sees (and acts on) the request before the fault strikes its answer.
    forwards: bool
    #: What the client must raise; None: the call must succeed.
    raises: type[e.RailsTransportError] | type[e.MalformedResponse] | type[e.ServerError] | None
    #: ``request_sent`` of the transport error; ``http_status`` of a 5xx or a malformed answer.
    request_sent: bool | None = None
    http_status: int | None = None
    doc: str = ""

    @property
    def code(self) -> str:
        """The tool error code this fault must surface as."""
        assert self.raises is not None
        return self.raises.code


FAULTS: tuple[Fault, ...] = (
    # Before the request leaves: the sandbox never sees it.
    Fault("connect_timeout", False, e.RailsTimeout, request_sent=False, doc="ConnectTimeout"),
    Fault("connect_error", False, e.RailsConnectionError, request_sent=False, doc="ConnectError"),
    Fault("http_500", False, e.ServerError, http_status=500, doc="500, empty body"),
    Fault("http_500_body", False, e.ServerError, http_status=500, doc='500 {"type":"internal"}'),
    Fault("http_502", False, e.ServerError, http_status=502, doc="502, empty body"),
    Fault("http_502_body", False, e.ServerError, http_status=502, doc="502, HTML body"),
    Fault("http_503", False, e.ServerError, http_status=503, doc="503, empty body"),
    Fault("http_503_body", False, e.ServerError, http_status=503, doc="503, text body"),
    # After the sandbox handled it: a write has landed, only its answer is lost.
    Fault("read_timeout", True, e.RailsTimeout, request_sent=True, doc="ReadTimeout"),
    Fault("reset_after_send", True, e.RailsConnectionError, request_sent=True, doc="RemoteProtocolError"),
    Fault("read_error", True, e.RailsConnectionError, request_sent=True, doc="ReadError"),
    Fault("body_cut", True, e.RailsConnectionError, request_sent=True, doc="200, reset mid-body"),
    Fault("bad_encoding", True, e.RailsConnectionError, request_sent=True, doc="gzip label, plain body"),
    Fault("http_500_after", True, e.ServerError, http_status=500, doc="500 after it landed"),
    Fault("http_502_after", True, e.ServerError, http_status=502, doc="502 HTML after it landed"),
    Fault("malformed_json", True, e.MalformedResponse, http_status=200, doc="truncated JSON"),
    Fault("wrong_content_type", True, e.MalformedResponse, http_status=200, doc="JSON as text/html"),
    Fault("slow", True, e.RailsTimeout, request_sent=True, doc="answer later than the timeout"),
    Fault("slow_ok", True, None, doc="answer late but within the timeout"),
)
FAULT = {f.name: f for f in FAULTS}
#: The faults a call cannot succeed through.
FAILING = tuple(f for f in FAULTS if f.raises is not None)
#: One fault per exception class: transient tool faults, and the failing check of a lost placement.
REPRESENTATIVE = tuple(FAULT[n] for n in ("connect_error", "read_timeout", "http_503", "malformed_json"))

SLOW_SECONDS = 5.0  # far beyond CLIENT_TIMEOUT: only the client's timeout can end it
SLOW_OK_SECONDS = 0.03


class _CutStream(httpx2.AsyncByteStream):
    """A body that stops half-way: the peer reset the connection mid-answer."""

    def __init__(self, head: bytes, request: httpx2.Request) -> None:
        self.head = head
        self.request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        raise httpx2.RemoteProtocolError(
            "peer closed connection without sending complete message body", request=self.request
        )


def _read_timeout(request: httpx2.Request) -> float | None:
    """The client's read timeout, as httpx2 hands it to every transport."""
    timeout: dict[str, float | None] = request.extensions.get("timeout", {})
    return timeout.get("read")


async def inject(
    fault: Fault, request: httpx2.Request, forward: Callable[[], Awaitable[httpx2.Response]]
) -> httpx2.Response:
    """Fail ``request`` as ``fault`` says; ``forward`` lets the sandbox handle it first."""
    name = fault.name
    if name == "connect_timeout":
        raise httpx2.ConnectTimeout("timed out connecting", request=request)
    if name == "connect_error":
        raise httpx2.ConnectError("[Errno 111] Connection refused", request=request)
    if not fault.forwards:  # a gateway's 5xx: the sandbox never saw the request
        bodies = {
            "http_500": (b"", None),
            "http_500_body": (b'{"type":"internal"}', "application/json"),
            "http_502": (b"", None),
            "http_502_body": (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
            "http_503": (b"", None),
            "http_503_body": (b"upstream connect error or disconnect/reset before headers", "text/plain"),
        }
        body, content_type = bodies[name]
        headers = {"content-type": content_type} if content_type else {}
        return httpx2.Response(fault.http_status or 500, headers=headers, content=body)
    response = await forward()
    real = await response.aread()
    if name == "read_timeout":
        raise httpx2.ReadTimeout("timed out reading the answer", request=request)
    if name == "reset_after_send":
        raise httpx2.RemoteProtocolError("Server disconnected without sending a response.", request=request)
    if name == "read_error":
        raise httpx2.ReadError("[Errno 104] Connection reset by peer", request=request)
    if name == "body_cut":
        head = {"content-type": "application/json", "content-length": str(len(real))}
        return httpx2.Response(200, headers=head, stream=_CutStream(real[: len(real) // 2], request))
    if name == "bad_encoding":
        head = {"content-type": "application/json", "content-encoding": "gzip"}
        return httpx2.Response(200, headers=head, content=real)
    if name == "http_500_after":
        return httpx2.Response(500)
    if name == "http_502_after":
        return httpx2.Response(502, headers={"content-type": "text/html"}, content=b"<h1>Bad Gateway</h1>")
    if name == "malformed_json":
        return httpx2.Response(
            response.status_code,
            headers={"content-type": "application/json"},
            content=real[: max(1, len(real) // 2)],
        )
    if name == "wrong_content_type":
        return httpx2.Response(
            response.status_code, headers={"content-type": "text/html; charset=utf-8"}, content=real
        )
    if name in ("slow", "slow_ok"):
        # An in-process ASGI transport enforces no timeout, so this stands in for the socket:
        # the read timeout the client configured is the one that ends a late answer.
        delay = SLOW_SECONDS if name == "slow" else SLOW_OK_SECONDS
        with anyio.move_on_after(_read_timeout(request)) as waited:
            await anyio.sleep(delay)
        if waited.cancelled_caught:
            raise httpx2.ReadTimeout("timed out waiting for the answer", request=request)
        return httpx2.Response(response.status_code, headers=response.headers, content=real)
    raise AssertionError(f"unknown fault {name}")


class FaultTransport(httpx2.AsyncBaseTransport):
    """Forwards to ``inner`` and injects the armed fault into calls of one wire method.

    ``arm(method, fault)`` fails every call of ``method``; ``arm(method, fault, times=1)``
    only the next one (a transient fault). ``attempts`` counts calls per method, ``reached``
    the calls the sandbox handled, ``injected`` the faults delivered.
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self._armed: dict[str, tuple[Fault, int | None]] = {}
        self.attempts: Counter[str] = Counter()
        self.reached: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.started: list[tuple[str, float]] = []

    def arm(self, method: str, fault: Fault, *, times: int | None = None) -> None:
        assert method in METHODS, method
        self._armed[method] = (fault, times)

    def disarm(self) -> None:
        self._armed.clear()

    def _take(self, method: str) -> Fault | None:
        armed = self._armed.get(method)
        if armed is None:
            return None
        fault, left = armed
        if left is not None:
            if left <= 0:
                return None
            self._armed[method] = (fault, left - 1)
        return fault

    async def _forward(self, request: httpx2.Request, method: str) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        self.reached[method] += 1
        return response

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        method = wire_method(request)
        self.attempts[method] += 1
        self.started.append((method, time.monotonic()))
        fault = self._take(method)
        if fault is None:
            return await self._forward(request, method)
        self.injected[method] += 1
        return await inject(fault, request, lambda: self._forward(request, method))

    async def aclose(self) -> None:
        await self.inner.aclose()


# --- the seeded world, one fresh tenant per case --------------------------------------------

_tenants = count(1)


def fresh_tenant() -> str:
    return f"fault-{time.time_ns() % 10**12:x}-{next(_tenants)}"


def client_over(
    transport: httpx2.AsyncBaseTransport | None,
    tenant: str,
    *,
    timeout: float = CLIENT_TIMEOUT,
    retry: RetryPolicy = POLICY,
    base_url: str = "http://faulty.invalid",
) -> RailsClient:
    return RailsClient(
        base_url=base_url,
        repairer=Credentials(*DEMO_REPAIRER),
        supplier=Credentials(*DEMO_SUPPLIER),
        tenant=tenant,
        transport=transport,
        timeout=timeout,
        retry=retry,
    )


NEW_JOB = {"external": "FAULT-JOB-1"}
BONNET = "Bonnet panel"

#: A valid request per wire method, from the seeded world (SPEC §1).
REQUESTS: dict[str, dict[str, Any]] = {
    "businesses.list": {},
    "integrations.insert": INSTALL,
    "repairer.jobs.baskets.latest.get": {"job_identity": JOB},
    "repairer.jobs.get": {"identity": JOB},
    "repairer.jobs.insert": {"identity": NEW_JOB, "repairer_site_id": SITE},
    "repairer.jobs.parts.insert": {"job_identity": JOB, "parts": [{"description": BONNET, "quantity": 1}]},
    "repairer.jobs.parts.list": {"job_identity": JOB},
    "repairer.procurements.get": {"identity": {"id": PR1}},
    "repairer.procurements.list": {"job_identity": JOB},
    "repairer.work-providers.list": {},
    "supplier.procurements.confirm": {"identity": {"id": PR1}},
    "supplier.procurements.get": {"identity": {"id": PR1}},
    "tier1.prepare": {"identifiers": [{"vin": "JTDBR32E730012345"}, {"vrm": "MJL472"}]},
    "uploads.prepare": {"file_name": "bumper.jpg", "media_type": "image", "type": "job_media"},
    INSERT: {"job_identity": JOB, "offer_selections": QUICKSTART_SELECTIONS},
    "repairer.procurements.invoices.list": {"procurement_identity": {"id": PR1}},
    # The invoice id exists only once PR-1 is confirmed: filled in by ``request_for``.
    "repairer.procurements.invoices.get": {"identity": {"id": "<invoice of PR-1>"}},
}
assert set(REQUESTS) == set(METHODS), "a request for every wire method"

#: What each write changes in the world, counted by :func:`effects`.
WRITE_EFFECT = {
    "integrations.insert": "installs",
    "repairer.jobs.insert": "jobs",
    "repairer.jobs.parts.insert": "parts",
    INSERT: "procurements",
    CONFIRM: "invoices",
}
EFFECTS: tuple[str, ...] = ("installs", "jobs", "parts", "procurements", "invoices")
assert {name for name, spec in METHODS.items() if not spec.retry_safe} == set(WRITE_EFFECT)


async def request_for(method: str, clean: RailsClient) -> dict[str, Any]:
    if method != "repairer.procurements.invoices.get":
        return REQUESTS[method]
    await clean.supplier.procurements.confirm(identity=m.IdIdentity.model_validate({"id": PR1}))
    listed = await clean.repairer.procurements.invoices.list(
        procurement_identity=m.IdIdentity.model_validate({"id": PR1})
    )
    return {"identity": {"id": str(listed.items[0].id)}}


async def effects(clean: RailsClient, *, installs: bool) -> dict[str, int]:
    """What the writes have changed so far, read over a fault-free client of the same tenant."""
    job = m.ExternalIdentity.model_validate(JOB)
    parts = (await clean.repairer.jobs.parts.list(job_identity=job)).items
    invoices = (await clean.repairer.procurements.invoices.list(job_identity=job)).items
    try:
        await clean.repairer.jobs.get(identity=m.ExternalIdentity.model_validate(NEW_JOB))
        jobs = 1
    except e.NotFound:
        jobs = 0
    spent = 0
    if installs:  # the single-use access code is spent iff an install landed
        try:
            await clean.integrations.insert(**INSTALL)
        except e.InvalidAccessCode:
            spent = 1
    return {
        "installs": spent,
        "jobs": jobs,
        "parts": sum(1 for p in parts if p.description == BONNET),
        "procurements": len((await clean.repairer.procurements.list(job_identity=job)).items),
        "invoices": len(invoices),
    }


def duplicates(before: dict[str, int], after: dict[str, int]) -> int:
    """Writes that landed more than once: any effect that grew by more than one."""
    return sum(max(0, after[k] - before[k] - 1) for k in EFFECTS)


# --- one wire case ---------------------------------------------------------------------------


@dataclass
class WireOutcome:
    method: str
    fault: Fault
    transient: bool
    error: e.RailsError | None
    #: Anything else that escaped the client: always a bug.
    foreign: BaseException | None
    attempts: int
    reached: int
    injected: int
    before: dict[str, int]
    after: dict[str, int]
    gaps: list[float] = field(default_factory=list[float])

    @property
    def landed(self) -> dict[str, int]:
        return {k: self.after[k] - self.before[k] for k in EFFECTS}

    @property
    def outcome(self) -> str:
        if self.foreign is not None:
            return f"!{type(self.foreign).__name__}"
        return "ok" if self.error is None else type(self.error).__name__


async def run_wire_case(
    app: Starlette,
    method: str,
    fault: Fault,
    *,
    transient: bool = False,
    retry: RetryPolicy = POLICY,
) -> WireOutcome:
    """One call of ``method`` through ``fault`` (persistent, or once), on a fresh tenant."""
    inner = httpx2.ASGITransport(app=app)
    faulty = FaultTransport(inner)
    tenant = fresh_tenant()
    async with client_over(inner, tenant) as clean, client_over(faulty, tenant, retry=retry) as rails:
        body = await request_for(method, clean)
        before = await effects(clean, installs=False)
        faulty.arm(method, fault, times=1 if transient else None)
        error: e.RailsError | None = None
        foreign: BaseException | None = None
        try:
            await rails.call(method, body, METHODS[method].response)
        except e.RailsError as exc:
            error = exc
        except Exception as exc:  # the client promised only RailsError
            foreign = exc
        faulty.disarm()
        after = await effects(clean, installs=method == "integrations.insert")
    starts = [t for name, t in faulty.started if name == method]
    return WireOutcome(
        method,
        fault,
        transient,
        error,
        foreign,
        faulty.attempts[method],
        faulty.reached[method],
        faulty.injected[method],
        before,
        after,
        [b - a for a, b in pairwise(starts)],
    )


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_backoff_sleeps() -> Iterator[None]:
    # Keep each policy's own attempt bound (cap), drop only the waiting.
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starlette]:
    """One sandbox for the module; every case takes a fresh tenant of it."""
    sandbox = create_app(tmp_path_factory.mktemp("faults") / "s.db", idle_reset_seconds=None)
    yield sandbox
    sandbox.state.sandbox.store.close()


def fault_id(fault: Fault) -> str:
    return fault.name


# --- the wire matrix: every method × every fault ------------------------------------------------


def check_error(out: WireOutcome) -> None:
    """The exception a failing fault must become, whatever the method."""
    fault = out.fault
    assert out.foreign is None, f"{out.method}: {out.foreign!r} escaped the client's exception tree"
    assert fault.raises is not None
    error = out.error
    assert error is not None, f"{out.method} succeeded through {fault.name}"
    assert type(error) is fault.raises, f"{out.method} through {fault.name}: {error!r}"
    assert error.retryable is True
    assert error.method == out.method
    if isinstance(error, e.RailsTransportError):
        assert error.request_sent is fault.request_sent
    if isinstance(error, e.ServerError):
        assert error.status == fault.http_status
        assert error.wire_code == "server_error"
    if isinstance(error, e.MalformedResponse):
        assert error.http_status == fault.http_status


def expected_landing(method: str, reached: int) -> dict[str, int]:
    landed: dict[str, int] = dict.fromkeys(EFFECTS, 0)
    if method in WRITE_EFFECT:
        landed[WRITE_EFFECT[method]] = reached
    return landed


def check_wire_outcome(out: WireOutcome) -> None:
    """What one call through one fault must have done; the bench applies the same checks."""
    method, fault = out.method, out.fault
    retry_safe = METHODS[method].retry_safe
    assert out.injected == (1 if out.transient else out.attempts)
    if fault.raises is None or (out.transient and retry_safe):
        assert out.foreign is None, repr(out.foreign)
        assert out.error is None, repr(out.error)
        # A transient fault costs a read exactly one retry.
        assert out.attempts == (2 if fault.raises is not None else 1)
    else:
        check_error(out)
        # Reads retry up to the policy's bound; writes are attempted exactly once.
        assert out.attempts == (POLICY.attempts if retry_safe and not out.transient else 1)
    assert out.reached == out.attempts - (0 if fault.forwards else out.injected)
    # A write lands once if the sandbox saw it, never if the fault struck first.
    assert out.landed == expected_landing(method, out.reached)
    assert duplicates(out.before, out.after) == 0


@pytest.mark.parametrize("fault", FAULTS, ids=fault_id)
@pytest.mark.parametrize("method", list(METHODS))
async def test_a_persistent_fault_becomes_its_error_class_after_the_bounded_attempts(
    app: Starlette, method: str, fault: Fault
):
    check_wire_outcome(await run_wire_case(app, method, fault))


@pytest.mark.parametrize("fault", FAILING, ids=fault_id)
@pytest.mark.parametrize("method", list(METHODS))
async def test_a_transient_fault_is_retried_through_by_reads_and_never_by_writes(
    app: Starlette, method: str, fault: Fault
):
    check_wire_outcome(await run_wire_case(app, method, fault, transient=True))


async def test_backoff_between_read_attempts_is_real_but_bounded(app: Starlette):
    policy = RetryPolicy(attempts=4, timeout=5.0, wait_initial=0.01, wait_max=0.03)
    with stamina.set_testing(False):
        started = time.monotonic()
        out = await run_wire_case(app, "repairer.jobs.get", FAULT["http_503"], retry=policy)
        elapsed = time.monotonic() - started
    assert type(out.error) is e.ServerError
    assert out.attempts == 4
    assert len(out.gaps) == 3
    for gap in out.gaps:
        # Waited, and never much beyond wait_max (stamina's default 1 s jitter is capped by it).
        assert 0.009 <= gap < 0.25, out.gaps
    assert elapsed < 1.0


async def test_the_retry_timeout_bounds_a_read_even_with_attempts_to_spare(app: Starlette):
    policy = RetryPolicy(attempts=1000, timeout=0.15, wait_initial=0.02, wait_max=0.04)
    with stamina.set_testing(False):
        started = time.monotonic()
        out = await run_wire_case(app, "repairer.procurements.list", FAULT["connect_error"], retry=policy)
        elapsed = time.monotonic() - started
    assert type(out.error) is e.RailsConnectionError
    assert 2 <= out.attempts < 20
    assert elapsed < 1.0  # 1000 attempts would take 20 s at the least


# --- the client's own timeout, on a real socket ---------------------------------------------------


class _LateAnswers:
    """ASGI middleware: the wrapped app handles every call, then its answer waits ``delay``."""

    def __init__(self, inner: Starlette, delay: float) -> None:
        self.inner = inner
        self.delay = delay
        self.handled: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.inner(scope, receive, hold)
        self.handled.append(str(scope["path"]).rsplit("/", 1)[-1])
        await anyio.sleep(self.delay)
        for message in held:
            await send(message)


@asynccontextmanager
async def served(app: _LateAnswers) -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()  # connections wait in the backlog until uvicorn accepts them
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [sock])
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True


@pytest.mark.parametrize(("delay", "fails"), [(0.5, True), (SLOW_OK_SECONDS, False)], ids=["late", "in-time"])
async def test_over_a_real_socket_the_clients_own_timeout_ends_a_late_answer(
    tmp_path: Path, delay: float, fails: bool
):
    late = _LateAnswers(create_app(tmp_path / "s.db", idle_reset_seconds=None), delay)
    async with served(late) as url:
        async with client_over(None, "late", base_url=url) as rails:  # httpx2's own network stack
            job = m.ExternalIdentity.model_validate(JOB)
            pr1 = m.IdIdentity.model_validate({"id": PR1})
            calls: list[tuple[Callable[[], Awaitable[object]], int]] = [
                (lambda: rails.repairer.jobs.get(identity=job), POLICY.attempts),  # a read: retried
                (lambda: rails.supplier.procurements.confirm(identity=pr1), 1),  # a write: once
            ]
            for call, tries in calls:
                seen = len(late.handled)
                if fails:
                    with pytest.raises(e.RailsTimeout) as caught:
                        await call()
                    assert caught.value.request_sent is True
                    assert caught.value.retryable is True
                else:
                    await call()
                assert len(late.handled) - seen == (tries if fails else 1)
        async with client_over(None, "late", base_url=url, timeout=5.0) as rails:
            listed = await rails.repairer.procurements.invoices.list(
                procurement_identity=m.IdIdentity.model_validate({"id": PR1})
            )
    assert len(listed.items) == 1  # the timed-out confirmation landed, once


# --- through the tools ----------------------------------------------------------------------------


@asynccontextmanager
async def faulty_session(app: Starlette) -> AsyncIterator[tuple[Session, FaultTransport]]:
    """The MCP tools over a fresh tenant, their wire going through a :class:`FaultTransport`."""
    faulty = FaultTransport(httpx2.ASGITransport(app=app))
    async with session_over(Rails(client_over(faulty, fresh_tenant()))) as s:
        yield s, faulty


@dataclass(frozen=True, slots=True)
class ToolCase:
    tool: str
    arguments: dict[str, Any]
    #: The wire methods the tool calls on its way to success, each a place a fault can strike
    #: (the placement and the confirmation have tests of their own, below).
    calls: tuple[str, ...]
    #: The tool falls back past these methods' failures (and then succeeds).
    falls_back: frozenset[str] = frozenset()
    needs_invoice: bool = False


TOOL_CASES = {
    "prepare_vehicle": ToolCase(
        "prepare_vehicle", {"identifiers": [{"vin": "JTDBR32E730012345"}]}, ("tier1.prepare",)
    ),
    "list_businesses": ToolCase("list_businesses", {}, ("businesses.list",)),
    "list_work_providers": ToolCase("list_work_providers", {}, ("repairer.work-providers.list",)),
    "open_repair_job": ToolCase(
        "open_repair_job", {"job": NEW_JOB, "repairer_site_id": SITE}, ("repairer.jobs.insert",)
    ),
    "open_repair_job/default_site": ToolCase(
        "open_repair_job",
        {"job": JOB, "claim_number": "AMI-CLM-771204"},
        ("repairer.jobs.get", "repairer.jobs.insert"),
        falls_back=frozenset({"repairer.jobs.get"}),
    ),
    "get_repair_job": ToolCase("get_repair_job", {"job": JOB}, ("repairer.jobs.get",)),
    "identify_parts": ToolCase(
        "identify_parts",
        {"job": JOB, "parts": [{"description": BONNET, "quantity": 1}]},
        ("repairer.jobs.parts.insert",),
    ),
    "list_parts": ToolCase("list_parts", {"job": JOB}, ("repairer.jobs.parts.list",)),
    "recommend_basket": ToolCase(
        "recommend_basket",
        {"job": JOB},
        ("repairer.jobs.baskets.latest.get", "repairer.jobs.parts.list", "businesses.list"),
    ),
    "place_procurement": ToolCase(
        "place_procurement",
        QUICKSTART,
        ("repairer.jobs.baskets.latest.get", "repairer.jobs.parts.list", "businesses.list"),
    ),
    "list_procurements": ToolCase("list_procurements", {"job": JOB}, (LIST_PROCUREMENTS,)),
    "track_procurement": ToolCase(
        "track_procurement", {"procurement_id": PR1}, ("repairer.procurements.get",)
    ),
    "track_procurement/supplier": ToolCase(
        "track_procurement", {"procurement_id": PR1, "view": "supplier"}, ("supplier.procurements.get",)
    ),
    "confirm_procurement": ToolCase(
        "confirm_procurement",
        {"procurement_id": PR1},
        ("repairer.procurements.get", "businesses.list", "repairer.jobs.parts.list"),
    ),
    "reconcile_invoice": ToolCase(
        "reconcile_invoice", {"procurement_id": PR1}, ("repairer.procurements.invoices.list",)
    ),
    "reconcile_invoice/invoice": ToolCase(
        "reconcile_invoice", {}, ("repairer.procurements.invoices.get",), needs_invoice=True
    ),
}
TOOL_SLOTS = [(name, method) for name, case in TOOL_CASES.items() for method in case.calls]


async def prepared(s: Session, case: ToolCase) -> dict[str, Any]:
    if not case.needs_invoice:
        return case.arguments
    await s.ok("confirm_procurement", {"procurement_id": PR1})
    listed = await s.ok("reconcile_invoice", {"procurement_id": PR1})
    return {"invoice_id": listed["invoices"][0]["id"]}


async def check_tool_fault(
    app: Starlette, case_name: str, method: str, fault: Fault, *, transient: bool
) -> str:
    """Run one tool through one fault and check its result; return its error code or "ok"."""
    case = TOOL_CASES[case_name]
    retry_safe = METHODS[method].retry_safe
    async with faulty_session(app) as (s, faulty):
        arguments = await prepared(s, case)
        faulty.arm(method, fault, times=1 if transient else None)
        result = await s.call(case.tool, arguments)  # Session checks schema, banner, no traceback
        faulty.disarm()
        assert result.structured_content is not None
        assert faulty.injected[method] >= 1, f"{case.tool} never called {method}"
        survives = fault.raises is None or (transient and retry_safe) or method in case.falls_back
        if survives:
            assert not result.is_error, result.structured_content
            return "ok"
        assert result.is_error
        error = result.structured_content["error"]
        assert error["code"] == fault.code, error
        # Every write here is an upsert, so repeating it is as safe as repeating a read.
        assert error["retryable"] is True
        assert error["wire_method"] == method
        assert faulty.attempts[method] == (1 if transient or not retry_safe else POLICY.attempts)
        await s.ok(case.tool, arguments)  # the retry the error invites, with the network back
        return str(error["code"])


TOOL_FAULTS = tuple(f for f in FAULTS if f.name != "slow")  # slow == read_timeout, once on the wire


@pytest.mark.parametrize("fault", TOOL_FAULTS, ids=fault_id)
@pytest.mark.parametrize(("case", "method"), TOOL_SLOTS)
async def test_a_fault_under_a_tool_is_a_structured_error_with_retryable_right(
    app: Starlette, case: str, method: str, fault: Fault
):
    await check_tool_fault(app, case, method, fault, transient=False)


@pytest.mark.parametrize("fault", REPRESENTATIVE, ids=fault_id)
@pytest.mark.parametrize(("case", "method"), TOOL_SLOTS)
async def test_a_transient_fault_under_a_tool_is_invisible_to_the_agent(
    app: Starlette, case: str, method: str, fault: Fault
):
    await check_tool_fault(app, case, method, fault, transient=True)


async def test_a_slow_answer_under_a_tool_read_is_a_retryable_timeout(app: Starlette):
    await check_tool_fault(app, "get_repair_job", "repairer.jobs.get", FAULT["slow"], transient=False)


async def procurements_holding(s: Session, part_ids: set[str]) -> list[dict[str, Any]]:
    listed = await s.ok("list_procurements", {"job": JOB})
    return [
        p
        for p in listed["procurements"]
        if part_ids & {pid for line in p["lines"] for pid in line["job_part_ids"]}
    ]


QUICKSTART_PARTS = {part(4), part(6)}


async def run_lost_placement(app: Starlette, fault: Fault) -> dict[str, Any]:
    """Place the Quickstart through ``fault`` on the placement, then place it again."""
    async with faulty_session(app) as (s, faulty):
        before = await s.snapshot()
        faulty.arm(INSERT, fault)
        first = await s.call("place_procurement", QUICKSTART)
        unchanged = await s.snapshot() == before
        if not fault.forwards:
            faulty.disarm()  # the network is back: the retry the error invites
            retried = await s.call("place_procurement", QUICKSTART)
        else:
            retried = None
        again = await s.call("place_procurement", QUICKSTART)  # the agent, placing once more
        holders = await procurements_holding(s, QUICKSTART_PARTS)
        return {
            "first": first.structured_content,
            "first_is_error": first.is_error,
            "unchanged_after_first": unchanged,
            "retried": None if retried is None else retried.structured_content,
            "again": again.structured_content,
            "again_is_error": again.is_error,
            "holders": holders,
            "procurements": len((await s.ok("list_procurements", {"job": JOB}))["procurements"]),
            "insert_attempts": faulty.attempts[INSERT],
            "insert_reached": faulty.reached[INSERT],
        }


def check_lost_placement(fault: Fault, out: dict[str, Any]) -> None:
    first = out["first"]
    if fault.forwards:
        # It landed: the tool found it instead of reporting a failure or placing again.
        assert not out["first_is_error"], first
        assert first["recovered"]
        assert first["procurement"]["total"] == QUICKSTART_TOTAL
        assert out["insert_attempts"] == 1
        assert not out["unchanged_after_first"]
    else:
        assert out["unchanged_after_first"]  # nothing landed, nothing changed
        assert out["first_is_error"]
        assert first["error"]["code"] == "placement_not_landed", first
        assert first["error"]["retryable"] is True
        assert out["retried"] is not None
        assert "error" not in out["retried"], out["retried"]
        assert "recovered" not in out["retried"]
        assert out["insert_attempts"] == 2
    assert out["again_is_error"]
    assert out["again"]["error"]["code"] == "part_already_ordered", out["again"]
    assert out["again"]["error"]["retryable"] is False
    assert out["insert_reached"] == 1
    assert len(out["holders"]) == 1
    assert out["procurements"] == 2  # PR-1 and this one


@pytest.mark.parametrize("fault", FAILING, ids=fault_id)
async def test_a_lost_placement_never_yields_two_procurements(app: Starlette, fault: Fault):
    check_lost_placement(fault, await run_lost_placement(app, fault))


@pytest.mark.parametrize("check_fault", REPRESENTATIVE, ids=fault_id)
@pytest.mark.parametrize(
    "fault", [FAULT["read_timeout"], FAULT["http_502_after"], FAULT["body_cut"]], ids=fault_id
)
async def test_when_the_check_for_a_lost_placement_fails_too_the_outcome_is_unknown_and_not_retryable(
    app: Starlette, fault: Fault, check_fault: Fault
):
    async with faulty_session(app) as (s, faulty):
        faulty.arm(INSERT, fault)
        faulty.arm(LIST_PROCUREMENTS, check_fault)
        error = await s.fail("place_procurement", QUICKSTART, "placement_outcome_unknown")
        assert error["retryable"] is False
        assert error["next_tool"] == "list_procurements"
        assert faulty.attempts[LIST_PROCUREMENTS] == POLICY.attempts
        faulty.disarm()
        assert len(await procurements_holding(s, QUICKSTART_PARTS)) == 1  # it had landed
        await s.fail("place_procurement", QUICKSTART, "part_already_ordered")
        assert faulty.attempts[INSERT] == 1


async def run_lost_confirmation(app: Starlette, fault: Fault) -> dict[str, Any]:
    """Confirm PR-1 through ``fault`` on the confirmation, then confirm it again."""
    args = {"procurement_id": PR1}
    async with faulty_session(app) as (s, faulty):
        faulty.arm(CONFIRM, fault)
        first = await s.call("confirm_procurement", args)
        invoices_after_first = len((await s.ok("reconcile_invoice", args))["invoices"])
        if not fault.forwards:
            faulty.disarm()
        retried = await s.call("confirm_procurement", args)  # lost again if the fault is armed
        again = await s.call("confirm_procurement", args)
        invoices = await s.ok("reconcile_invoice", args)
        by_job = await s.ok("reconcile_invoice", {"job": JOB})
        return {
            "first": first.structured_content,
            "first_is_error": first.is_error,
            "invoices_after_first": invoices_after_first,
            "retried": retried.structured_content,
            "again": again.structured_content,
            "invoices": len(invoices["invoices"]),
            "invoices_by_job": len(by_job["invoices"]),
            "status": invoices["status"],
            "confirm_attempts": faulty.attempts[CONFIRM],
        }


def check_lost_confirmation(fault: Fault, out: dict[str, Any]) -> None:
    first = out["first"]
    if fault.forwards:
        assert "error" not in first, first
        assert first["recovered"]
        assert first["procurement"]["status"] == "order_confirmed"
        assert first["was_already_confirmed"] is False
        assert out["invoices_after_first"] == 1
        assert out["retried"]["recovered"]  # lost again, still read back right
        assert out["retried"]["was_already_confirmed"] is True
    else:
        assert first["error"]["code"] == "confirmation_not_landed", first
        assert first["error"]["retryable"] is True
        assert out["invoices_after_first"] == 0
        assert out["retried"]["was_already_confirmed"] is False
    assert out["retried"]["procurement"]["status"] == "order_confirmed"
    assert out["again"]["was_already_confirmed"] is True
    assert out["invoices"] == 1
    assert out["invoices_by_job"] == 1
    assert out["status"] == "reconciled"
    assert out["confirm_attempts"] == 3  # one per tool call: the client never retried one


@pytest.mark.parametrize("fault", FAILING, ids=fault_id)
async def test_a_lost_confirmation_never_yields_two_invoices(app: Starlette, fault: Fault):
    check_lost_confirmation(fault, await run_lost_confirmation(app, fault))


# --- regressions ---------------------------------------------------------------------------------


async def test_regression_a_body_that_cannot_be_decoded_is_a_transport_error_not_a_raw_httpx_one(
    app: Starlette,
):
    # httpx2.DecodingError is a RequestError but not a TransportError: it used to escape the
    # client's exception tree, so reads were not retried and tools answered internal_error.
    out = await run_wire_case(app, "repairer.jobs.get", FAULT["bad_encoding"])
    assert out.foreign is None, repr(out.foreign)
    assert isinstance(out.error, e.RailsConnectionError)
    assert out.error.request_sent is True
    assert out.attempts == POLICY.attempts
    async with faulty_session(app) as (s, faulty):
        faulty.arm("repairer.jobs.get", FAULT["bad_encoding"], times=1)
        await s.ok("get_repair_job", {"job": JOB})


async def test_regression_a_gateway_5xx_after_a_placement_landed_is_reported_as_placed(app: Starlette):
    # A 5xx answer to a write is a lost answer too: the order may have landed. It used to be
    # reported as a plain retryable server_error while the order existed.
    async with faulty_session(app) as (s, faulty):
        faulty.arm(INSERT, FAULT["http_502_after"])
        placed = await s.ok("place_procurement", QUICKSTART)
        assert placed["recovered"]
        faulty.arm(CONFIRM, FAULT["http_500_after"])
        confirmed = await s.ok("confirm_procurement", {"procurement_id": placed["procurement"]["id"]})
        assert confirmed["recovered"]
        assert confirmed["procurement"]["status"] == "order_confirmed"


async def test_regression_a_lost_answer_while_finding_the_default_site_is_not_an_internal_error(
    app: Starlette,
):
    # _default_site caught only coded API errors: a timeout escaped the tool as internal_error.
    async with faulty_session(app) as (s, faulty):
        faulty.arm("repairer.jobs.get", FAULT["read_timeout"])
        out = await s.ok("open_repair_job", {"job": JOB, "claim_number": "AMI-CLM-771204"})
        assert out["job"]["repairer_site_id"] == SITE
