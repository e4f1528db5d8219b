"""Human approval, spending limit, read-only, allow-list and audit through a real MCP client.

In-memory (``mcp.Client(server, mode=...)``) in both protocol eras: on 2026-07-28 the
approval rides ``input_required`` with a sealed request state; on 2025-11-25 it is a form
elicitation sent during the call. Orders are counted through the tools themselves, and the
wire's own record of calls shows that a refused placement never reached it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp_types import (
    CallToolResult,
    ElicitRequestParams,
    ElicitResult,
    ErrorData,
    InputRequiredResult,
    InputResponses,
)

from rails_mcp.approval import APPROVAL_INPUT_KEY, NOT_REQUESTED, ApprovalGate
from rails_mcp.audit import AuditLog
from rails_mcp.config import ApprovalPolicy
from rails_mcp.controls import Controls
from rails_mcp.server import build_server
from tests.support.mcp_support import (
    ERAS,
    JOB,
    QUICKSTART,
    READ_TOOLS,
    LossyTransport,
    Session,
    check_result,
    lossy_rails,
    pick,
)
from tests.support.secret_scan import SECRETS

pytestmark = pytest.mark.anyio

KEY = "approval-key-for-the-tests-0123456789abcdef"
AUDIENCE = "rails-mcp/approval|tests"
MODERN = "2026-07-28"
PLACE = "place_procurement"
INSERT = "repairer.procurements.insert"


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Person:
    """The human behind the host: answers each approval request, remembers what was shown."""

    decision: str | None = "approve"
    action: str = "accept"
    shown: list[str] = field(default_factory=list[str])
    #: A person who never answers (the host keeps the form open).
    silent: bool = False

    async def __call__(
        self, context: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult | ErrorData:
        self.shown.append(params.message)
        if self.silent:
            await anyio.sleep_forever()
        if self.action != "accept":
            return ElicitResult(action=self.action)  # type: ignore[arg-type]
        return ElicitResult(action="accept", content={"decision": self.decision})


@dataclass
class Served:
    session: Session
    wire: LossyTransport
    audit_path: Path

    async def orders(self) -> int:
        return await self.session.procurement_count()

    def inserts(self) -> int:
        return self.wire.reached.count(INSERT)

    def audit(self) -> list[dict[str, Any]]:
        if not self.audit_path.exists():
            return []
        return [json.loads(line) for line in self.audit_path.read_text().splitlines()]


@asynccontextmanager
async def served(
    tmp_path: Path,
    mode: str,
    *,
    policy: ApprovalPolicy = "ask",
    person: Person | None = None,
    clock: Clock | None = None,
    controls: Controls | None = None,
    name: str = "a",
    answer_timeout: float = 300.0,
) -> AsyncIterator[Served]:
    """A server over a fresh tenant (shared by every server built on the same ``tmp_path``)."""
    rails, wire = lossy_rails(tmp_path)
    gate = (
        None
        if policy == "off"
        else ApprovalGate(
            policy, KEY.encode(), audience=AUDIENCE, clock=clock or Clock(), answer_timeout=answer_timeout
        )
    )
    audit_path = tmp_path / f"audit-{name}.jsonl"
    server = build_server(
        rails,
        approval=gate,
        controls=controls or Controls(),
        audit=AuditLog(audit_path, known_secrets=[KEY]),
        transport="in-memory",
    )
    try:
        async with Client(server, mode=mode, elicitation_callback=person) as client:
            listed = await client.list_tools()
            yield Served(Session(client, rails, {t.name: t for t in listed.tools}), wire, audit_path)
    finally:
        await rails.client.aclose()


async def first_round(s: Served, arguments: dict[str, Any] = QUICKSTART) -> InputRequiredResult:
    """Drive 2026-07-28 rounds by hand, as a host persisting the state would."""
    result = await s.session.client.session.call_tool(PLACE, arguments, allow_input_required=True)
    assert isinstance(result, InputRequiredResult), result
    assert result.request_state is not None
    assert result.input_requests is not None
    assert set(result.input_requests) == {APPROVAL_INPUT_KEY}
    return result


APPROVE: InputResponses = {APPROVAL_INPUT_KEY: ElicitResult(action="accept", content={"decision": "approve"})}


async def answer(
    s: Served, state: str, arguments: dict[str, Any] = QUICKSTART, responses: InputResponses | None = None
) -> CallToolResult:
    result = await s.session.client.session.call_tool(
        PLACE,
        arguments,
        allow_input_required=True,
        input_responses=APPROVE if responses is None else responses,
        request_state=state,
    )
    assert isinstance(result, CallToolResult), result
    check_result(s.session.tools[PLACE], result)
    return result


def error_code(result: CallToolResult) -> str:
    assert result.is_error
    assert result.structured_content is not None
    return result.structured_content["error"]["code"]


# --- approve, decline, cannot ask ------------------------------------------------------------


@pytest.mark.parametrize("mode", ERAS)
async def test_an_approved_order_is_placed_once_and_the_person_saw_it(tmp_path: Path, mode: str):
    person = Person()
    async with served(tmp_path, mode, person=person) as s:
        before = await s.orders()
        placed = await s.session.ok(PLACE, QUICKSTART)
        assert await s.orders() == before + 1
    assert placed["approval"] == "approved"
    assert placed["procurement"]["total"] == "1099.00"
    (shown,) = person.shown
    for expected in ("CCC-2026-04817", "Christchurch Toyota", "631.00", "468.00", "1099.00", "extension"):
        assert expected in shown


@pytest.mark.parametrize("mode", ERAS)
async def test_a_declined_order_writes_nothing_and_place_procurement_can_be_called_again(
    tmp_path: Path, mode: str
):
    person = Person(decision="decline")
    async with served(tmp_path, mode, person=person) as s:
        before = await s.orders()
        declined = await s.session.ok(PLACE, QUICKSTART)
        assert await s.orders() == before
        assert s.inserts() == 0
        person.decision = "approve"
        placed = await s.session.ok(PLACE, QUICKSTART)
        assert await s.orders() == before + 1
    assert declined["approval"] == "declined"
    assert declined["placed"] is False
    assert placed["approval"] == "approved"
    assert len(person.shown) == 2


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_declining_or_dismissing_the_form_places_nothing(tmp_path: Path, mode: str, action: str):
    async with served(tmp_path, mode, person=Person(action=action)) as s:
        before = await s.orders()
        result = await s.session.ok(PLACE, QUICKSTART)
        assert await s.orders() == before
    assert result["approval"] == "declined"


@pytest.mark.parametrize("mode", ERAS)
async def test_a_host_that_cannot_ask_places_the_order_labelled_under_ask(tmp_path: Path, mode: str):
    async with served(tmp_path, mode, person=None) as s:
        before = await s.orders()
        placed = await s.session.ok(PLACE, QUICKSTART)
        assert await s.orders() == before + 1
    assert placed["approval"] == NOT_REQUESTED


@pytest.mark.parametrize("mode", ERAS)
async def test_a_host_that_cannot_ask_is_refused_under_require_with_a_fix_for_the_person(
    tmp_path: Path, mode: str
):
    async with served(tmp_path, mode, policy="require", person=None) as s:
        before = await s.orders()
        error = await s.session.fail(PLACE, QUICKSTART, code="approval_unavailable")
        assert await s.orders() == before
        assert s.inserts() == 0
    assert "RAILS_ORDER_APPROVAL" in error["fix"]
    assert "person running this server" in error["fix"]


@pytest.mark.parametrize("mode", ERAS)
async def test_with_approval_off_nobody_is_asked(tmp_path: Path, mode: str):
    person = Person()
    async with served(tmp_path, mode, policy="off", person=person) as s:
        placed = await s.session.ok(PLACE, QUICKSTART)
    assert placed["approval"] == "off"
    assert person.shown == []


@pytest.mark.parametrize("mode", ERAS)
async def test_a_dry_run_and_a_guard_refusal_never_ask_anyone(tmp_path: Path, mode: str):
    person = Person()
    async with served(tmp_path, mode, person=person) as s:
        dry = await s.session.ok(PLACE, {**QUICKSTART, "dry_run": True})
        await s.session.fail(PLACE, pick(0x08), code="unconfirmable_supplier")
    assert dry["dry_run"] is True
    assert person.shown == []


# --- the sealed state (2026-07-28) -----------------------------------------------------------


async def test_a_tampered_state_is_refused_and_nothing_is_written(tmp_path: Path):
    async with served(tmp_path, MODERN, person=Person()) as s:
        before = await s.orders()
        state = (await first_round(s)).request_state
        assert state is not None
        forged = state[:-4] + ("AAAA" if not state.endswith("AAAA") else "BBBB")
        result = await answer(s, forged)
        assert error_code(result) == "approval_state_invalid"
        assert await s.orders() == before
        assert s.inserts() == 0


async def test_a_state_answered_after_five_minutes_is_expired_and_nothing_is_written(tmp_path: Path):
    clock = Clock()
    async with served(tmp_path, MODERN, person=Person(), clock=clock) as s:
        before = await s.orders()
        state = (await first_round(s)).request_state
        assert state is not None
        clock.now += 301
        result = await answer(s, state)
        assert error_code(result) == "approval_expired"
        assert await s.orders() == before
        assert s.inserts() == 0


async def test_a_state_sent_back_with_other_arguments_is_refused_as_a_mismatch(tmp_path: Path):
    async with served(tmp_path, MODERN, person=Person()) as s:
        before = await s.orders()
        state = (await first_round(s)).request_state
        assert state is not None
        result = await answer(s, state, arguments=pick(0x07))
        assert error_code(result) == "approval_mismatch"
        assert await s.orders() == before
        assert s.inserts() == 0


async def test_a_retried_final_round_places_exactly_once(tmp_path: Path):
    async with served(tmp_path, MODERN, person=Person()) as s:
        before = await s.orders()
        state = (await first_round(s)).request_state
        assert state is not None
        placed = await answer(s, state)
        assert not placed.is_error
        again = await answer(s, state)
        assert error_code(again) == "approval_replayed"
        assert await s.orders() == before + 1
        assert s.inserts() == 1


async def test_an_approval_replayed_on_another_replica_after_the_order_was_placed_places_nothing(
    tmp_path: Path,
):
    async with (
        served(tmp_path, MODERN, person=Person(), name="a") as a,
        served(tmp_path, MODERN, person=Person(), name="b") as b,
    ):
        before = await a.orders()
        state = (await first_round(a)).request_state
        assert state is not None
        assert not (await answer(a, state)).is_error
        replayed = await answer(b, state)
        assert error_code(replayed) == "approval_replayed"
        assert await b.orders() == before + 1
        assert b.inserts() == 0


async def test_an_approval_started_on_one_replica_is_answered_on_another(tmp_path: Path):
    async with (
        served(tmp_path, MODERN, person=Person(), name="a") as a,
        served(tmp_path, MODERN, person=Person(), name="b") as b,
    ):
        before = await a.orders()
        state = (await first_round(a)).request_state
        assert state is not None
        placed = await answer(b, state)
        assert not placed.is_error
        assert placed.structured_content is not None
        assert placed.structured_content["approval"] == "approved"
        assert await a.orders() == before + 1


async def test_no_argument_can_approve_an_order(tmp_path: Path):
    async with served(tmp_path, MODERN, policy="require", person=None) as s:
        before = await s.orders()
        for extra in ({"approved": True}, {"approval": "approved"}, {"confirm": True}):
            await s.session.fail(PLACE, {**QUICKSTART, **extra}, code="invalid_arguments")
        await s.session.fail(PLACE, QUICKSTART, code="approval_unavailable")
        assert await s.orders() == before


# --- spending limit, read-only, allow-list -----------------------------------------------------


@pytest.mark.parametrize("mode", ERAS)
async def test_an_order_over_the_spending_limit_is_refused_before_anyone_is_asked_or_the_wire(
    tmp_path: Path, mode: str
):
    person = Person()
    limit = Controls(max_order_total=Decimal("1000"))
    async with served(tmp_path, mode, person=person, controls=limit) as s:
        before = await s.orders()
        error = await s.session.fail(PLACE, QUICKSTART, code="over_spending_limit")
        dry = await s.session.fail(PLACE, {**QUICKSTART, "dry_run": True}, code="over_spending_limit")
        within = await s.session.ok(PLACE, pick(0x0A))
        assert await s.orders() == before + 1
    assert "1099.00" in error["message"]
    assert "1000.00" in error["message"]
    assert dry["code"] == "over_spending_limit"
    assert within["procurement"]["total"] == "468.00"
    assert len(person.shown) == 1  # only the order within the limit was put to the person


@pytest.mark.parametrize("mode", ERAS)
async def test_read_only_lists_only_read_only_tools_and_refuses_writes(tmp_path: Path, mode: str):
    async with served(tmp_path, mode, controls=Controls(read_only=True)) as s:
        listed = set(s.session.tools)
        before = await s.orders()
        result = await s.session.client.call_tool(PLACE, QUICKSTART)
        assert await s.orders() == before
        assert s.inserts() == 0
    assert listed == set(READ_TOOLS)
    assert error_code(result) == "read_only_mode"


@pytest.mark.parametrize("mode", ERAS)
async def test_an_allow_list_hides_and_refuses_every_other_tool(tmp_path: Path, mode: str):
    allowed = frozenset({"list_procurements", "recommend_basket"})
    async with served(tmp_path, mode, controls=Controls(allowed=allowed)) as s:
        listed = set(s.session.tools)
        refused = await s.session.client.call_tool(PLACE, QUICKSTART)
        assert s.inserts() == 0
        assert (await s.session.ok("list_procurements", {"job": JOB}))["procurements"]
    assert listed == allowed
    assert error_code(refused) == "tool_not_allowed"
    assert refused.structured_content is not None
    assert sorted(refused.structured_content["error"]["valid_values"]) == sorted(allowed)


# --- the audit log -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ERAS)
async def test_the_audit_log_records_a_whole_lifecycle_without_a_secret(tmp_path: Path, mode: str):
    async with served(tmp_path, mode, person=Person()) as s:
        await s.session.ok("recommend_basket", {"job": JOB})
        await s.session.fail(PLACE, pick(0x08), code="unconfirmable_supplier")
        placed = await s.session.ok(PLACE, QUICKSTART)
        pid = placed["procurement"]["id"]
        await s.session.ok("confirm_procurement", {"procurement_id": pid})
        reconciled = await s.session.ok("reconcile_invoice", {"procurement_id": pid})
        lines = s.audit()
        text = s.audit_path.read_text()
    calls = [line for line in lines if line["kind"] == "call"]
    intents = {line["intent"]: line["tool"] for line in lines if line["kind"] == "intent"}
    assert sorted(intents.values()) == ["confirm_procurement", PLACE]  # each write announced once
    assert sorted(line["tool"] for line in calls if line.get("intent") in intents) == sorted(intents.values())
    assert calls[0]["tool"] == "recommend_basket"
    assert calls[0]["outcome"] == "ok"
    by_tool = {line["tool"]: line for line in calls}
    placements = [line for line in calls if line["tool"] == PLACE]
    assert placements[0]["outcome"] == "unconfirmable_supplier"
    assert placements[-1]["outcome"] == "ok"
    assert placements[-1]["approval"].startswith("approved")
    assert placements[-1]["procurement_ids"] == [pid]
    assert placements[-1]["arguments"] == QUICKSTART
    if mode == MODERN:
        assert [p["outcome"] for p in placements] == ["unconfirmable_supplier", "input_required", "ok"]
    assert by_tool["confirm_procurement"]["procurement_ids"] == [pid]
    invoice_ids = [i["id"] for i in reconciled["invoices"]]
    assert by_tool["reconcile_invoice"]["invoice_ids"] == invoice_ids
    assert {line["transport"] for line in lines} == {"in-memory"}
    assert {line["protocol"] for line in lines} == {"2025-11-25" if mode == "legacy" else MODERN}
    for secret in (*SECRETS, KEY):
        assert secret not in text


async def test_a_failing_audit_write_keeps_the_result_and_warns_in_the_server_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    rails, _ = lossy_rails(tmp_path)
    server = build_server(rails, audit=AuditLog(blocker / "audit.jsonl"), transport="in-memory")
    try:
        with caplog.at_level("WARNING", logger="rails_mcp.audit"):
            async with Client(server, mode=MODERN) as client:
                result = await client.call_tool("list_procurements", {"job": JOB})
    finally:
        await rails.client.aclose()
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["procurements"]
    assert "could not record list_procurements" in caplog.text


async def test_on_2025_11_25_a_person_who_never_answers_lets_the_approval_expire_with_nothing_placed(
    tmp_path: Path,
):
    async with served(tmp_path, "legacy", person=Person(silent=True), answer_timeout=0.2) as s:
        before = await s.orders()
        error = await s.session.fail(PLACE, QUICKSTART, code="approval_expired")
        assert await s.orders() == before
        assert s.inserts() == 0
    assert "5 minutes" in error["message"]
