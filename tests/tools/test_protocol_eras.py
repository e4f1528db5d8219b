"""What each protocol era is told: cache hints, the tool titles hosts display, and logging.

A 2026-07-28 client may cache the tool list, the prompts and the guides, never what was
read from the wire; a 2025-11-25 client gets results without cache hints, as before.
2026-07-28 deprecates logging: its clients are neither offered it nor sent log lines.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, MCPDeprecationWarning, MCPError
from mcp_types import CacheableResult, LoggingMessageNotificationParams

from rails_mcp.runtime import open_rails
from rails_mcp.server import build_server
from tests.support.mcp_support import ERAS, JOB, JOB_EXTERNAL, PR1, Session, mcp_session, settings_for

pytestmark = pytest.mark.anyio

GUIDES = ("guide://lifecycle", "guide://errors", "guide://tools")
#: One read of each resource that answers from the wire.
WIRE_READS = (
    "scenario://current",
    "rails://businesses",
    "rails://work-providers",
    f"rails://jobs/{JOB_EXTERNAL}",
    f"rails://jobs/{JOB_EXTERNAL}/parts",
    f"rails://jobs/{JOB_EXTERNAL}/basket",
    f"rails://procurements/{PR1}",
    f"rails://procurements/{PR1}/invoices",
    f"rails://procurements/{PR1}/events",
)


async def _listed_and_read(s: Session) -> dict[str, CacheableResult]:
    """Each cacheable result a client gets, by what it asked for."""
    client = s.client
    results: dict[str, CacheableResult] = {
        "tools/list": await client.list_tools(cache_mode="bypass"),
        "prompts/list": await client.list_prompts(cache_mode="bypass"),
    }
    for uri in (*GUIDES, *WIRE_READS):
        results[uri] = await client.read_resource(uri, cache_mode="bypass")
    return results


async def test_on_2026_07_28_the_tool_list_prompts_and_guides_are_cacheable_and_wire_reads_are_not(
    tmp_path: Path,
):
    async with mcp_session(tmp_path, "2026-07-28") as s:
        results = await _listed_and_read(s)
    tools = results["tools/list"]
    # It may differ per caller (the allow-list, read-only, a token's scope): never shared.
    assert (tools.ttl_ms, tools.cache_scope) == (300_000, "private")
    for name in ("prompts/list", *GUIDES):
        assert results[name].ttl_ms > 0, name
        assert results[name].cache_scope == "public", name
    for uri in WIRE_READS:
        assert (results[uri].ttl_ms, results[uri].cache_scope) == (0, "private"), uri


async def test_a_2025_11_25_client_gets_no_cache_hints(tmp_path: Path):
    async with mcp_session(tmp_path, "legacy") as s:
        results = await _listed_and_read(s)
    for name, result in results.items():
        assert not {"ttl_ms", "cache_scope"} & result.model_fields_set, name


@pytest.mark.parametrize("era", ERAS)
async def test_every_tool_says_its_title_also_in_its_annotations(tmp_path: Path, era: str):
    """2025-03-26 hosts show ``annotations.title``; later ones ``title``."""
    async with mcp_session(tmp_path, era) as s:
        tools = (await s.client.list_tools(cache_mode="bypass")).tools
    assert tools
    for tool in tools:
        assert tool.title
        assert tool.annotations is not None
        assert tool.annotations.title == tool.title, tool.name


@pytest.mark.parametrize(("mode", "offered"), [("legacy", True), ("auto", False)])
async def test_logging_is_offered_only_to_an_era_that_has_it(tmp_path: Path, mode: str, offered: bool):
    """``auto`` learns the 2026-07-28 capabilities from server/discover."""
    rails = open_rails(settings_for(tmp_path))
    try:
        async with Client(build_server(rails), mode=mode) as client:
            assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
            capabilities = client.server_capabilities
            assert capabilities.tools is not None  # the rest is still offered
            assert (capabilities.logging is not None) is offered
    finally:
        await rails.client.aclose()


async def _log_lines(
    tmp_path: Path, mode: str, **client_options: Any
) -> list[LoggingMessageNotificationParams]:
    seen: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        seen.append(params)

    rails = open_rails(settings_for(tmp_path / mode))
    try:
        async with Client(
            build_server(rails), mode=mode, logging_callback=on_log, **client_options
        ) as client:
            if mode == "legacy":
                with warnings.catch_warnings():  # deprecated at 2026-07-28; current on 2025-11-25
                    warnings.simplefilter("ignore", MCPDeprecationWarning)
                    await client.set_logging_level("debug")
            await client.call_tool("get_repair_job", {"job": JOB})
            await client.call_tool("get_repair_job", {"job": {"external": "NOPE-404"}})
    finally:
        await rails.client.aclose()
    return seen


async def test_a_2026_07_28_client_is_sent_no_log_lines_even_when_a_request_asks(tmp_path: Path):
    legacy = await _log_lines(tmp_path, "legacy")
    assert any("repairer.jobs.get" in json.dumps(p.data) for p in legacy)  # the same calls do log there
    assert await _log_lines(tmp_path, "2026-07-28", log_level="debug") == []


async def test_a_2026_07_28_client_cannot_set_a_log_level(tmp_path: Path):
    rails = open_rails(settings_for(tmp_path))
    try:
        async with Client(build_server(rails), mode="2026-07-28") as client:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                with pytest.raises(MCPError):
                    await client.set_logging_level("debug")
    finally:
        await rails.client.aclose()
