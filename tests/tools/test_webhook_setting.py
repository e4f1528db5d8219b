"""What the server knows of changes: the wire's webhooks (``RAILS_WEBHOOKS=1``) and its own jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import anyio
import pytest
from mcp import Client
from mcp_types import TextResourceContents

from rails_mcp.hosting import open_server
from rails_mcp.runtime import open_rails
from rails_mcp.wire import models as m
from tests.support.mcp_support import PR1, mcp_session, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore:resources/subscribe is removed")]

PR1_URI = f"rails://procurements/{PR1}"


async def test_with_webhooks_on_a_confirm_made_elsewhere_reaches_subscribers_as_a_verified_event(
    tmp_path: Path,
):
    settings = settings_for(tmp_path, tenant="hooks", webhooks=True, order_approval="off")
    server = open_server(settings, transport="in-memory")
    other = open_rails(settings)  # another program on the same wire, e.g. the supplier's own
    updated = anyio.Event()

    async def on_message(message: Any) -> None:
        if getattr(getattr(message, "params", None), "uri", None) == PR1_URI:
            updated.set()

    try:
        async with Client(server, mode="legacy", message_handler=on_message) as client:
            await client.subscribe_resource(PR1_URI)
            await other.client.supplier.procurements.confirm(identity=m.IdIdentity(id=UUID(PR1)))
            with anyio.fail_after(5):
                await updated.wait()
            tracked = await client.call_tool("track_procurement", {"procurement_id": PR1})
        events = (tracked.structured_content or {})["events"]
        # The buyer's and the supplier's delivery may both have arrived by now: each is a row.
        assert 1 <= len(events) <= 2
        assert {(e["source"], e["verification"], e["status"]) for e in events} == {
            ("webhook", "verified", "order_confirmed")
        }
    finally:
        await other.client.aclose()


async def test_a_job_opened_through_the_server_appears_in_scenario_current(tmp_path: Path):
    async with mcp_session(tmp_path, tenant="scenario-jobs") as s:
        await s.ok("open_repair_job", {"job": {"external": "NEW-JOB-1"}})
        read = await s.client.read_resource("scenario://current", cache_mode="bypass")
    block = read.contents[0]
    assert isinstance(block, TextResourceContents)
    assert "NEW-JOB-1" in block.text
