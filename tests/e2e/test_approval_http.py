"""Approval and the controls over streamable HTTP, in a real ``rails-mcp serve`` process, both eras.

Configured only the way a user does it: ``RAILS_ORDER_APPROVAL``, ``RAILS_APPROVAL_KEY``,
``RAILS_MAX_ORDER_TOTAL``, ``RAILS_READ_ONLY``, ``RAILS_TOOLS``. The expired state is minted
with the deployment's own key and an old clock, as a state kept past its five minutes is.
"""

from __future__ import annotations

import json
import secrets
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

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
from rails_mcp.present import OrderForApproval, OrderLine
from tests.support.mcp_support import JOB, QUICKSTART, READ_TOOLS, TOOL_NAMES, offer, part, pick
from tests.support.process_support import clean_env, free_port, running
from tests.support.secret_scan import SECRETS, scan_result

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

PLACE = "place_procurement"
ERAS = {"legacy": "2025-11-25", "auto": "2026-07-28"}
APPROVE: InputResponses = {APPROVAL_INPUT_KEY: ElicitResult(action="accept", content={"decision": "approve"})}


class Person:
    def __init__(self, decision: str = "approve") -> None:
        self.decision = decision
        self.asked = 0

    async def __call__(
        self, context: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult | ErrorData:
        self.asked += 1
        return ElicitResult(action="accept", content={"decision": self.decision})


@asynccontextmanager
async def server(tmp_path: Path, tenant: str, **env: str) -> AsyncIterator[str]:
    port = free_port()
    environment = clean_env(tmp_path, RAILS_TENANT=tenant, **env)
    with running(["serve", "--transport", "streamable-http", "--port", str(port)], environment, port=port):
        yield f"http://127.0.0.1:{port}/mcp"


def data(result: CallToolResult) -> dict[str, Any]:
    scan_result(PLACE, result)
    assert result.structured_content is not None
    return dict(result.structured_content)


def code(result: CallToolResult | InputRequiredResult) -> str:
    assert isinstance(result, CallToolResult), result
    assert result.is_error, result
    return data(result)["error"]["code"]


async def orders(client: Client) -> int:
    return len(data(await client.call_tool("list_procurements", {"job": JOB}))["procurements"])


def quickstart_line(offer_id: str, name: str, part_id: str, price: str) -> OrderLine:
    return OrderLine(sellable_id=offer_id, name=name, job_part_ids=[part_id], quantity=1, trade_price=price)


def quickstart_order() -> OrderForApproval:
    """The order the Quickstart placement shows the person (what a sealed state binds)."""
    return OrderForApproval(
        job=JOB,
        supplier_business_id="0b000000-0000-4000-8000-000000000010",
        supplier_name="Christchurch Toyota — Parts",
        lines=[
            quickstart_line(str(offer(0x07)), "Toyota Genuine Headlamp RH", str(part(0x04)), "631.00"),
            quickstart_line(str(offer(0x0A)), "Toyota Genuine Radiator Support", str(part(0x06)), "468.00"),
        ],
        total="1099.00",
        currency=None,
        is_extension=True,
    )


@pytest.mark.parametrize("mode", list(ERAS))
async def test_over_http_a_declined_order_writes_nothing_and_an_approved_one_is_placed_once(
    tmp_path: Path, mode: str
):
    key = secrets.token_hex(32)
    person = Person("decline")
    async with (
        server(tmp_path, f"approve-{mode}", RAILS_APPROVAL_KEY=key) as url,
        Client(url, mode=mode, elicitation_callback=person) as client,
    ):
        assert client.protocol_version == ERAS[mode]
        before = await orders(client)
        declined = data(await client.call_tool(PLACE, QUICKSTART))
        assert await orders(client) == before
        person.decision = "approve"
        placed = data(await client.call_tool(PLACE, QUICKSTART))
        after = await orders(client)
    assert declined["approval"] == "declined"
    assert placed["approval"] == "approved"
    assert after == before + 1
    assert person.asked == 2
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    placements = [line for line in audit if line["tool"] == PLACE]
    assert placements[-1]["outcome"] == "ok"
    assert placements[-1]["procurement_ids"] == [placed["procurement"]["id"]]
    assert {line["transport"] for line in audit} == {"streamable-http"}
    assert {line["protocol"] for line in audit} == {ERAS[mode]}
    text = (tmp_path / "audit.jsonl").read_text()
    for secret in (*SECRETS, key):
        assert secret not in text


async def test_over_http_a_tampered_expired_mismatched_or_replayed_state_places_nothing(tmp_path: Path):
    key = secrets.token_hex(32)
    tenant = "states"
    async with (
        server(tmp_path, tenant, RAILS_APPROVAL_KEY=key) as url,
        Client(url, mode="auto", elicitation_callback=Person()) as client,
    ):
        before = await orders(client)
        first = await client.session.call_tool(PLACE, QUICKSTART, allow_input_required=True)
        assert isinstance(first, InputRequiredResult)
        state = first.request_state
        assert state is not None

        async def answer(
            state: str, arguments: dict[str, Any] = QUICKSTART
        ) -> CallToolResult | InputRequiredResult:
            return await client.session.call_tool(
                PLACE, arguments, allow_input_required=True, input_responses=APPROVE, request_state=state
            )

        tampered = state[:-4] + ("AAAA" if not state.endswith("AAAA") else "BBBB")
        assert code(await answer(tampered)) == "approval_state_invalid"
        assert code(await answer(state, pick(0x07))) == "approval_mismatch"
        old = ApprovalGate(
            "ask", key.encode(), audience=f"rails-mcp/approval|embedded|{tenant}", clock=lambda: 1_000_000.0
        )
        expired = old.seal(PLACE, QUICKSTART, quickstart_order())
        assert code(await answer(expired)) == "approval_expired"
        assert await orders(client) == before
        placed = await answer(state)
        assert isinstance(placed, CallToolResult)
        assert not placed.is_error, placed
        assert code(await answer(state)) == "approval_replayed"
        assert await orders(client) == before + 1


@pytest.mark.parametrize("mode", list(ERAS))
async def test_over_http_a_host_that_cannot_ask_is_refused_under_require_and_labelled_under_ask(
    tmp_path: Path, mode: str
):
    async with (
        server(tmp_path / "require", f"require-{mode}", RAILS_ORDER_APPROVAL="require") as url,
        Client(url, mode=mode) as client,
    ):
        before = await orders(client)
        refused = await client.call_tool(PLACE, QUICKSTART)
        assert await orders(client) == before
    assert code(refused) == "approval_unavailable"
    assert "RAILS_ORDER_APPROVAL" in data(refused)["error"]["fix"]
    async with (
        server(tmp_path / "ask", f"ask-{mode}", RAILS_MAX_ORDER_TOTAL="1000") as url,
        Client(url, mode=mode) as client,
    ):
        before = await orders(client)
        over = await client.call_tool(PLACE, QUICKSTART)
        assert await orders(client) == before
        within = data(await client.call_tool(PLACE, pick(0x0A)))
        assert await orders(client) == before + 1
    assert code(over) == "over_spending_limit"
    assert within["approval"] == NOT_REQUESTED
    key_file = tmp_path / "ask" / "approval.key"  # generated once, private, never logged
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() not in (tmp_path / "ask" / "audit.jsonl").read_text()


@pytest.mark.parametrize("mode", list(ERAS))
async def test_over_http_read_only_and_the_allow_list_shape_the_listing_and_refuse_the_rest(
    tmp_path: Path, mode: str
):
    async with (
        server(tmp_path / "ro", f"ro-{mode}", RAILS_READ_ONLY="1") as url,
        Client(url, mode=mode) as client,
    ):
        read_only = {t.name for t in (await client.list_tools()).tools}
        refused = await client.call_tool(PLACE, QUICKSTART)
        unchanged = await orders(client)
    assert read_only == set(READ_TOOLS)
    assert code(refused) == "read_only_mode"
    assert unchanged == 1  # only the seeded PR-1
    async with (
        server(tmp_path / "al", f"al-{mode}", RAILS_TOOLS="list_procurements,recommend_basket") as url,
        Client(url, mode=mode) as client,
    ):
        allowed = {t.name for t in (await client.list_tools()).tools}
        not_allowed = await client.call_tool("confirm_procurement", {"procurement_id": str(offer(1))})
    assert allowed == {"list_procurements", "recommend_basket"}
    assert code(not_allowed) == "tool_not_allowed"


def test_an_unknown_name_in_the_allow_list_stops_start_up_listing_the_valid_names(tmp_path: Path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rails_mcp",
            "serve",
            "--transport",
            "streamable-http",
            "--port",
            str(free_port()),
        ],
        env=clean_env(tmp_path, RAILS_TOOLS="list_parts,place_order"),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    err = proc.stderr.decode()
    assert "place_order" in err
    assert "Traceback" not in err
    for name in TOOL_NAMES:
        assert name in err
