"""Single use survives a restart: a declined approval state cannot approve after ``kill -9``.

The used states are kept in ``$RAILS_STATE_DIR`` for as long as a state is valid, so a
process that comes back with the same state dir and approval key still refuses the state.
"""

from __future__ import annotations

import os
import secrets
import signal
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp_types import CallToolResult, ElicitRequestParams, ElicitResult, InputRequiredResult, InputResponses

from rails_mcp.approval import APPROVAL_INPUT_KEY
from tests.support.mcp_support import JOB, QUICKSTART
from tests.support.process_support import clean_env, free_port, running
from tests.support.secret_scan import scan_result

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

PLACE = "place_procurement"


async def answer(client: Client, state: str, decision: str) -> CallToolResult:
    """The person's decision on the approval request, returned with its sealed state."""
    responses: InputResponses = {
        APPROVAL_INPUT_KEY: ElicitResult(action="accept", content={"decision": decision})
    }
    result = await client.session.call_tool(
        PLACE, QUICKSTART, allow_input_required=True, input_responses=responses, request_state=state
    )
    assert isinstance(result, CallToolResult)
    scan_result(PLACE, result)
    assert result.structured_content is not None
    return result


async def declines(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
    """The host can ask a person (so approval is requested); this person never approves."""
    return ElicitResult(action="decline")


async def orders(client: Client) -> int:
    result = await client.call_tool("list_procurements", {"job": JOB})
    assert result.structured_content is not None
    return len(result.structured_content["procurements"])


async def test_a_declined_state_answered_approve_after_a_restart_is_refused_and_places_nothing(
    tmp_path: Path,
):
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    args = ["serve", "--transport", "streamable-http", "--port", str(port)]
    env = clean_env(tmp_path, RAILS_TENANT="restart", RAILS_APPROVAL_KEY=secrets.token_hex(32))
    with running(args, env, port=port) as proc:
        async with Client(url, mode="auto", elicitation_callback=declines) as client:
            before = await orders(client)
            asked = await client.session.call_tool(PLACE, QUICKSTART, allow_input_required=True)
            assert isinstance(asked, InputRequiredResult)
            state = asked.request_state
            assert state is not None
            declined = await answer(client, state, "decline")
            assert declined.structured_content is not None
            assert declined.structured_content["approval"] == "declined"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    with running(args, env, port=port):
        async with Client(url, mode="auto", elicitation_callback=declines) as client:
            replayed = await answer(client, state, "approve")
            after = await orders(client)
    assert replayed.is_error
    assert replayed.structured_content is not None
    assert replayed.structured_content["error"]["code"] == "approval_replayed"
    assert after == before
