"""Starting the server as a host does: nothing paid for before it is needed, and nothing left off.

The embedded sandbox opens on the first tool call (a host that only initializes and lists
tools never loads it), yet a state directory that cannot hold its database still stops
start-up with one clean line; the garbage collector paused for start-up is always back on.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rails_mcp.cli import _collect_after_start_up  # pyright: ignore[reportPrivateUsage]
from tests.support.process_support import clean_env, rails_mcp_command

#: Runs in a fresh interpreter, so ``sys.modules`` shows what start-up alone imported.
_PROBE = """
import json, sys, anyio
from mcp import Client
from rails_mcp.cli import open_server
from rails_mcp.config import load_settings

async def main():
    server = open_server(load_settings(), transport="stdio")
    seen = {}
    async with Client(server, mode="legacy") as client:
        seen["tools"] = len((await client.list_tools()).tools)
        seen["sandbox_after_list"] = "rails_mcp.sandbox" in sys.modules
        result = await client.call_tool("get_repair_job", {"job": {"external": "CCC-2026-04817"}})
        seen["call_error"] = result.is_error
        seen["claim"] = (result.structured_content or {}).get("job", {}).get("claim_number")
        seen["sandbox_after_call"] = "rails_mcp.sandbox" in sys.modules
    print(json.dumps(seen))

anyio.run(main)
"""


@pytest.mark.subprocess
def test_the_embedded_sandbox_opens_on_the_first_tool_call_not_at_start_up(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.splitlines()[-1])
    assert seen["tools"] == 13
    assert seen["sandbox_after_list"] is False  # listing tools never loaded it
    assert seen["call_error"] is False
    assert seen["claim"] == "AMI-CLM-771204"  # the seeded job, from the sandbox opened just now
    assert seen["sandbox_after_call"] is True


@pytest.mark.subprocess
def test_a_state_directory_that_cannot_hold_the_database_stops_start_up_with_one_line(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    proc = subprocess.run(
        rails_mcp_command(),
        env=clean_env(tmp_path, RAILS_STATE_DIR=str(blocker / "state")),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("rails-mcp: error: cannot create "), proc.stderr
    assert "RAILS_STATE_DIR" in lines[0]
    assert "Traceback" not in proc.stderr


def test_collection_is_back_on_after_start_up_and_what_it_built_is_frozen():
    assert gc.isenabled()
    try:
        with _collect_after_start_up():
            assert not gc.isenabled()
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_collection_is_back_on_when_start_up_fails():
    with pytest.raises(RuntimeError), _collect_after_start_up():
        raise RuntimeError("the server could not be built")
    assert gc.isenabled()
    gc.unfreeze()
