"""Three more mistakes agents make, each answered with a fix whose example replays cleanly."""

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


@pytest.mark.parametrize(
    ("tool", "arguments", "field", "did_you_mean"),
    [
        ("track_procurement", {"procurement_id": {"id": PR1}}, "procurement_id", PR1),
        (
            "place_procurement",
            {
                "job": {"external": "CCC-2026-04817"},
                "offer_selections": [{"sellable_id": "0f000000-0000-4000-8000-000000000007"}],
                "dry_run": "true",
            },
            "dry_run",
            True,
        ),
        ("get_repair_job", {"job": {"id": "CCC-2026-04817"}}, "job.id", {"external": "CCC-2026-04817"}),
    ],
    ids=["wire-identity-wrapper-for-an-id", "boolean-as-string", "own-reference-under-id"],
)
async def test_the_mistake_is_named_and_its_example_arguments_succeed_when_replayed(
    tmp_path: Path, tool: str, arguments: dict[str, Any], field: str, did_you_mean: Any
):
    server = build_server(open_rails(load_settings(state_dir=tmp_path, tenant="self-correct")))
    async with Client(server) as client:
        refused = await client.call_tool(tool, arguments)
        error = (refused.structured_content or {})["error"]
        replayed = await client.call_tool(tool, error["example_arguments"])
    assert refused.is_error
    assert error["code"] == "invalid_arguments"
    assert error["field"] == field
    assert error["did_you_mean"] == did_you_mean
    assert not replayed.is_error, replayed.structured_content
