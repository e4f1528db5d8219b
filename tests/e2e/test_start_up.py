"""Starting the server as a host does: nothing paid for before it is needed, and nothing left off.

The embedded sandbox opens on the first tool call (a host that only initializes and lists
tools never loads it), yet a state directory that cannot hold its database still stops
start-up with one clean line; the garbage collector paused for start-up is always back on.
"""

from __future__ import annotations

import gc
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp_types import CallToolResult

from rails_mcp.cli import _collect_after_start_up  # pyright: ignore[reportPrivateUsage]
from rails_mcp.config import load_settings
from rails_mcp.hosting import open_server
from tests.support.process_support import clean_env, rails_mcp_command

#: Runs in a fresh interpreter, so ``sys.modules`` shows what start-up alone imported.
_PROBE = """
import json, sys, anyio
from mcp import Client
from rails_mcp.hosting import open_server
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


def refused_start_up(tmp_path: Path, state_dir: Path) -> str:
    """``rails-mcp`` started on ``state_dir``: it must exit 2 with one clean stderr line."""
    proc = subprocess.run(
        rails_mcp_command(),
        env=clean_env(tmp_path, RAILS_STATE_DIR=str(state_dir)),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.subprocess
def test_a_state_directory_that_cannot_hold_the_database_stops_start_up_with_one_line(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    line = refused_start_up(tmp_path, blocker / "state")
    assert line.startswith("rails-mcp: error: cannot create "), line
    assert "RAILS_STATE_DIR" in line


@pytest.mark.subprocess
@pytest.mark.parametrize("spoil", ["not a database", "a directory"])
def test_a_database_the_sandbox_could_not_open_stops_start_up_with_one_line(tmp_path: Path, spoil: str):
    state = tmp_path / "state"
    state.mkdir()
    db = state / "sandbox.sqlite3"
    if spoil == "a directory":
        db.mkdir()
    else:
        db.write_bytes(b"this is not an SQLite file, just some bytes " * 100)
    line = refused_start_up(tmp_path, state)
    assert line.startswith(f"rails-mcp: error: the sandbox database {db} cannot be opened"), line


@pytest.mark.anyio
async def test_the_event_loop_keeps_turning_while_the_sandbox_waits_for_another_process_lock(tmp_path: Path):
    db = tmp_path / "sandbox.sqlite3"
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA journal_mode = WAL")  # as another rails-mcp left it
    holder.execute("BEGIN IMMEDIATE")  # ... and still writing: the sandbox must wait for it
    server = open_server(load_settings(db=db, state_dir=tmp_path), transport="stdio")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await anyio.sleep(0.01)
            ticks += 1

    async def release_later() -> None:
        await anyio.sleep(0.6)
        holder.execute("COMMIT")

    results: list[CallToolResult] = []
    async with Client(server, mode="legacy") as client, anyio.create_task_group() as tg:
        tg.start_soon(tick)
        tg.start_soon(release_later)
        results.append(await client.call_tool("get_repair_job", {"job": {"external": "CCC-2026-04817"}}))
        tg.cancel_scope.cancel()
    holder.close()
    assert not results[0].is_error, results[0].content
    assert ticks >= 20  # ~60 possible while the sandbox waited; a blocked loop would give 0-1


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
