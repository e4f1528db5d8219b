"""A long prepare_vehicle batch reports progress to a client that asked for it (issue 10)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from rails_mcp.config import load_settings
from rails_mcp.runtime import open_rails
from rails_mcp.server import build_server
from tests.support.process_support import clean_env

pytestmark = pytest.mark.anyio

#: Every 97th plate is nine characters long: invalid, so the merged answer can be checked.
PLATES = [{"vrm": f"BAD{n:06d}" if n % 97 == 0 else f"AB{n:04d}"} for n in range(1000)]


async def test_a_thousand_identifiers_report_rising_progress_up_to_the_total_and_keep_every_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("RAILS_CONFIG_DIR", str(tmp_path / "config"))
    rails = open_rails(load_settings(state_dir=tmp_path, tenant="progress"))
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with Client(build_server(rails)) as client:
        result = await client.call_tool(
            "prepare_vehicle", {"identifiers": PLATES}, progress_callback=on_progress
        )
    await rails.client.aclose()
    assert not result.is_error, result.content
    data = result.structured_content or {}
    bad = [p for p in PLATES if len(p["vrm"]) > 8]
    assert data["submitted"] == 1000
    assert data["queued"] == 1000 - len(bad)
    assert [i["identifier"] for i in data["invalid_identifiers"]] == bad, "invalid ones, in the order sent"
    assert len(seen) >= 10, seen
    progress = [p for p, _, _ in seen]
    assert progress == sorted(progress)
    assert progress[-1] == 1000
    assert {t for _, t, _ in seen} == {1000}
    assert seen[-1][2] == "1000 of 1000 vehicle identifiers prepared"


async def test_a_small_batch_is_answered_without_progress_notifications(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("RAILS_CONFIG_DIR", str(tmp_path / "config"))
    rails = open_rails(load_settings(state_dir=tmp_path, tenant="small"))
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with Client(build_server(rails)) as client:
        result = await client.call_tool(
            "prepare_vehicle", {"identifiers": PLATES[1:40]}, progress_callback=on_progress
        )
    await rails.client.aclose()
    assert not result.is_error
    assert (result.structured_content or {})["queued"] == 39
    assert seen == []


@pytest.mark.subprocess
async def test_over_stdio_the_progress_token_brings_progress_notifications_for_a_long_batch(tmp_path: Path):
    """The real transport: the client's progressToken travels in _meta, notifications come back."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "rails_mcp"], env=clean_env(tmp_path, RAILS_TENANT="progress")
    )
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with Client(params) as client:
        result = await client.call_tool(
            "prepare_vehicle", {"identifiers": PLATES[:300]}, progress_callback=on_progress
        )
    assert not result.is_error
    assert seen == [50, 100, 150, 200, 250, 300], "one notification per chunk of 50, rising to the total"
