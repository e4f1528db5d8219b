"""What the server does with a verified access token: the tools it lists and allows, the
principal in every audit line, and approvals bound to the principal that asked.

The token reaches the server the way the SDK's auth middleware hands it over (its public auth
context); the in-memory client carries it to the handlers with each request. The HTTP side
(verification, ``401``, ``403``) is tested in test_auth_http.py and against a real
authorization server in tests/e2e/test_oauth.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp_types import (
    CallToolResult,
    ElicitRequestParams,
    ElicitResult,
    ErrorData,
    InputRequiredResult,
    InputResponses,
)

from rails_mcp.approval import APPROVAL_INPUT_KEY, ApprovalGate
from rails_mcp.audit import AuditLog
from rails_mcp.errors import ToolFailure
from rails_mcp.server import build_server
from rails_mcp.tools.declare import ALL_SCOPES
from tests.support.mcp_support import JOB, QUICKSTART, READ_TOOLS, TOOL_NAMES, LossyTransport, lossy_rails
from tests.unit.test_approval import order

pytestmark = pytest.mark.anyio

ISSUER = "https://login.example.com"
KEY = b"approval-key-for-the-tests-0123456789abcdef"
PLACE = "place_procurement"
WRITES = {"prepare_vehicle", "open_repair_job", "identify_parts"}


@contextmanager
def signed_in(sub: str, *scopes: str, name: str | None = None, email: str | None = None) -> Iterator[None]:
    """Requests made inside carry a verified token for ``sub`` with ``scopes``."""
    claims = {
        "iss": ISSUER,
        "sub": sub,
        **({"name": name} if name else {}),
        **({"email": email} if email else {}),
    }
    token = AccessToken(token="t", client_id=f"{sub}-app", scopes=list(scopes), subject=sub, claims=claims)
    reset = auth_context_var.set(AuthenticatedUser(token))
    try:
        yield
    finally:
        auth_context_var.reset(reset)


class Person:
    """Answers approval forms, adding a name of its own choosing (which must not be believed)."""

    async def __call__(
        self, context: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult | ErrorData:
        return ElicitResult(action="accept", content={"decision": "approve", "name": "Mallory"})


@dataclass
class Served:
    client: Client
    wire: LossyTransport
    audit_path: Path

    def audit(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.audit_path.read_text().splitlines()]

    async def listed(self) -> set[str]:
        return {tool.name for tool in (await self.client.list_tools()).tools}


@asynccontextmanager
async def served(tmp_path: Path, mode: str = "legacy") -> AsyncIterator[Served]:
    rails, wire = lossy_rails(tmp_path)
    audit_path = tmp_path / "audit.jsonl"
    server = build_server(
        rails,
        approval=ApprovalGate("ask", KEY, audience="rails-mcp/approval|tests"),
        audit=AuditLog(audit_path),
        transport="streamable-http",
    )
    try:
        async with Client(server, mode=mode, elicitation_callback=Person()) as client:
            yield Served(client, wire, audit_path)
    finally:
        await rails.client.aclose()


def error_code(result: CallToolResult) -> str:
    assert result.is_error, result
    assert result.structured_content is not None
    return result.structured_content["error"]["code"]


@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        ((), set()),
        (("rails:read",), set(READ_TOOLS)),
        (("rails:read", "rails:write"), set(READ_TOOLS) | WRITES),
        (("rails:order",), {PLACE}),
        (("rails:read", "rails:confirm", "profile"), set(READ_TOOLS) | {"confirm_procurement"}),
        (ALL_SCOPES, set(TOOL_NAMES)),
    ],
)
async def test_tools_list_shows_what_the_token_may_call(
    tmp_path: Path, scopes: tuple[str, ...], expected: set[str]
):
    async with served(tmp_path) as s:
        with signed_in("ann", *scopes):
            assert await s.listed() == expected
        assert await s.listed() == set(TOOL_NAMES)  # no token (stdio, a static token): all of them


async def test_a_tool_beyond_the_scopes_is_refused_before_it_reaches_the_wire(tmp_path: Path):
    async with served(tmp_path) as s:
        with signed_in("ann", "rails:read"):
            refused = await s.client.call_tool("open_repair_job", {"job": JOB})
            placed = await s.client.call_tool(PLACE, QUICKSTART)
    assert error_code(refused) == error_code(placed) == "tool_not_allowed"
    assert refused.structured_content is not None
    error = refused.structured_content["error"]
    assert "rails:write" in error["message"]
    assert "rails:write" in error["fix"]
    assert set(error["valid_values"]) == set(READ_TOOLS)
    assert s.wire.reached == []  # nothing was read or written
    lines = s.audit()
    assert [(line["tool"], line["outcome"], line["principal"]["sub"]) for line in lines] == [
        ("open_repair_job", "tool_not_allowed", "ann"),
        (PLACE, "tool_not_allowed", "ann"),
    ]


async def test_every_audit_line_names_the_principal_from_the_token(tmp_path: Path):
    async with served(tmp_path) as s:
        with signed_in("casey", *ALL_SCOPES, name="Casey Clerk", email="casey@example.com"):
            placed = await s.client.call_tool(PLACE, QUICKSTART)
            await s.client.call_tool("list_procurements", {"job": JOB})
    assert not placed.is_error, placed
    lines = s.audit()
    assert {line["kind"] for line in lines} == {"intent", "call"}
    for line in lines:
        assert line["principal"] == {
            "sub": "casey",
            "iss": ISSUER,
            "client_id": "casey-app",
            "name": "Casey Clerk",
            "email": "casey@example.com",
        }


async def test_the_approval_record_names_the_approver_from_the_token_never_from_the_form(tmp_path: Path):
    async with served(tmp_path) as s:
        with signed_in("casey", *ALL_SCOPES, name="Casey Clerk", email="casey@example.com"):
            placed = await s.client.call_tool(PLACE, QUICKSTART)
    assert not placed.is_error, placed
    (placement,) = [line for line in s.audit() if line["tool"] == PLACE and line["kind"] == "call"]
    assert (
        placement["approval"]
        == "approved: approved by Casey Clerk <casey@example.com> (sub casey) through the host"
    )
    assert "Mallory" not in s.audit_path.read_text()


async def test_without_a_token_nothing_changes(tmp_path: Path):
    async with served(tmp_path) as s:
        placed = await s.client.call_tool(PLACE, QUICKSTART)
    assert not placed.is_error, placed
    assert all("principal" not in line for line in s.audit())
    (placement,) = [line for line in s.audit() if line["tool"] == PLACE and line["kind"] == "call"]
    assert placement["approval"] == "approved: approved by the person through the host"


async def test_an_approval_answered_under_another_principal_is_a_mismatch_and_places_nothing(tmp_path: Path):
    async with served(tmp_path, mode="2026-07-28") as s:
        with signed_in("casey", *ALL_SCOPES):
            asked = await s.client.session.call_tool(PLACE, QUICKSTART, allow_input_required=True)
        assert isinstance(asked, InputRequiredResult)
        assert asked.request_state is not None
        answers: InputResponses = {
            APPROVAL_INPUT_KEY: ElicitResult(action="accept", content={"decision": "approve"})
        }

        async def answer() -> CallToolResult:
            result = await s.client.session.call_tool(
                PLACE,
                QUICKSTART,
                allow_input_required=True,
                input_responses=answers,
                request_state=asked.request_state,
            )
            assert isinstance(result, CallToolResult)
            return result

        with signed_in("mallory", *ALL_SCOPES):
            stolen = await answer()
        unsigned = await answer()
        with signed_in("casey", *ALL_SCOPES):
            placed = await answer()
    assert error_code(stolen) == error_code(unsigned) == "approval_mismatch"
    assert not placed.is_error, placed
    assert s.wire.reached.count("repairer.procurements.insert") == 1


def test_a_state_binds_the_principal_that_asked():
    gate = ApprovalGate("ask", KEY, audience="a")
    casey = json.dumps([ISSUER, "casey"])
    state = gate.seal(PLACE, QUICKSTART, order(), casey)
    assert gate.verify(state, PLACE, QUICKSTART, casey).part_ids
    for other in (json.dumps([ISSUER, "mallory"]), json.dumps(["https://other.example", "casey"]), None):
        with pytest.raises(ToolFailure) as raised:
            gate.verify(state, PLACE, QUICKSTART, other)
        assert raised.value.info.code == "approval_mismatch"
