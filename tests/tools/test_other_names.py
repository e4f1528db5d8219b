"""An argument sent under another name its tool knows: the fix names the argument meant, and the
argument's own name wins when both are sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from rails_mcp.config import load_settings
from rails_mcp.runtime import open_rails
from rails_mcp.server import build_server

pytestmark = pytest.mark.anyio

PR1 = "10000000-0000-4000-8000-000000000001"
JOB = {"external": "CCC-2026-04817"}


async def refused_then_replayed(
    state_dir: Path, tool: str, arguments: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """The error a mistaken call gets, and whether its example_arguments then succeed."""
    server = build_server(open_rails(load_settings(state_dir=state_dir, tenant="other-names")))
    async with Client(server) as client:
        refused = await client.call_tool(tool, arguments)
        error = (refused.structured_content or {})["error"]
        replayed = await client.call_tool(tool, error["example_arguments"])
    return error, not replayed.is_error


@pytest.mark.parametrize(
    ("tool", "arguments", "sent", "meant"),
    [
        ("track_procurement", {"id": PR1}, "id", "procurement_id"),
        ("prepare_vehicle", {"vehicles": [{"vin": "WAUZZZ8V5KA123456"}]}, "vehicles", "identifiers"),
        ("open_repair_job", {"job": JOB, "claim_no": "CLM-1"}, "claim_no", "claim_number"),
    ],
    ids=["id-for-procurement_id", "vehicles-for-identifiers", "claim_no-for-claim_number"],
)
async def test_a_key_the_tool_knows_by_another_name_is_named_in_the_fix_and_replays(
    tmp_path: Path, tool: str, arguments: dict[str, Any], sent: str, meant: str
):
    error, replay_succeeded = await refused_then_replayed(tmp_path, tool, arguments)
    assert error["field"] == sent
    assert error["did_you_mean"] == meant
    assert f"Use `{meant}` instead of `{sent}`" in error["fix"]
    assert "Remove" not in error["fix"]
    assert meant in error["example_arguments"]
    assert replay_succeeded


async def test_the_arguments_own_name_wins_over_another_name_sent_beside_it(tmp_path: Path):
    arguments = {"job_id": "NO-SUCH-JOB", "job": JOB}
    error, replay_succeeded = await refused_then_replayed(tmp_path, "get_repair_job", arguments)
    assert error["code"] == "invalid_arguments"
    assert error["example_arguments"] == {"job": JOB}
    assert replay_succeeded
