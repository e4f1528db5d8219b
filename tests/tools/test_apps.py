"""MCP Apps: recommend_basket and the order tools point at self-contained ``ui://`` pages, the
server advertises the extension, and a host without Apps gets exactly the results it got before.
(The pages themselves are driven in a real browser by tests/browser/test_apps_browser.py.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp_types import CallToolResult, TextResourceContents

from rails_mcp.runtime import open_rails
from rails_mcp.server import build_server
from rails_mcp.ui import BASKET_APP, ORDER_APP
from tests.support.mcp_support import ERAS, JOB, mcp_session, settings_for

pytestmark = pytest.mark.anyio

BOUND = {"recommend_basket": BASKET_APP, "track_procurement": ORDER_APP, "reconcile_invoice": ORDER_APP}
#: What a host with Apps says it renders (the settings `client_supports_apps` looks for).
APPS_HOST = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})


@pytest.mark.parametrize("mode", ERAS)
async def test_the_basket_and_order_tools_name_their_page_in_both_eras(tmp_path: Path, mode: str):
    async with mcp_session(tmp_path, mode=mode) as s:
        listed = (await s.client.list_tools()).tools
    pages = {t.name: (t.meta or {}).get("ui", {}).get("resourceUri") for t in listed}
    assert {name: uri for name, uri in pages.items() if uri} == BOUND


async def test_server_discover_advertises_the_apps_extension(tmp_path: Path):
    """2026-07-28 capabilities carry extensions (2025-11-25's have no such field: there a host
    finds the page through the tool's _meta.ui alone)."""
    rails = open_rails(settings_for(tmp_path))
    try:
        async with Client(build_server(rails), mode="auto", extensions=[APPS_HOST]) as client:
            assert client.protocol_version == "2026-07-28"
            assert client.server_capabilities.extensions == {EXTENSION_ID: {}}
    finally:
        await rails.client.aclose()


async def test_each_page_is_listed_and_read_as_an_mcp_app_that_may_fetch_nothing(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        listed = {r.uri: r for r in (await s.client.list_resources()).resources}
        reads = {uri: (await s.client.read_resource(uri)).contents[0] for uri in (BASKET_APP, ORDER_APP)}
    for uri, page in reads.items():
        assert listed[uri].mime_type == APP_MIME_TYPE
        assert isinstance(page, TextResourceContents)
        assert page.mime_type == APP_MIME_TYPE
        assert (page.meta or {})["ui"]["csp"] == {}  # no connect, resource or frame domain at all
        html = page.text
        assert html.startswith("<!doctype html>")
        assert (
            re.search(r"/\* app\.(css|js) \*/|<!-- head\.html -->", html) is None
        )  # shared parts written in
        assert "startApp(" in html
        assert re.search(r"https?://", html) is None  # nothing fetched from anywhere
        assert re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", html) is None
        assert "innerHTML" not in html
        assert "insertAdjacentHTML" not in html
        # It renders a result and asks the host for nothing but starting and sizing it: no tool call.
        assert "tools/call" not in html
        sent = set(re.findall(r"\b(?:request|notify)\(\"([^\"]+)\"", html))
        assert sent == {"ui/initialize", "ui/notifications/initialized", "ui/notifications/size-changed"}


def _masked(result: CallToolResult) -> str:
    """The result as sent, its fence's random tag (new on every call) masked."""
    return re.sub(r"rails-data-[0-9a-f]{12}", "rails-data-TAG", result.model_dump_json(by_alias=True))


async def test_a_host_with_apps_gets_byte_for_byte_the_result_a_host_without_apps_gets(tmp_path: Path):
    rails = open_rails(settings_for(tmp_path))
    server = build_server(rails)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("recommend_basket", {"job": JOB}),
        ("recommend_basket", {"job": JOB, "confirmable_only": False}),
    ]
    try:
        async with Client(server) as plain, Client(server, extensions=[APPS_HOST]) as apps:
            placed = await plain.call_tool("list_procurements", {"job": JOB})
            order = (placed.structured_content or {})["procurements"][0]["id"]
            calls += [("track_procurement", {"procurement_id": order}), ("reconcile_invoice", {"job": JOB})]
            for name, arguments in calls:
                without = await plain.call_tool(name, arguments)
                with_apps = await apps.call_tool(name, arguments)
                assert not without.is_error, name
                assert _masked(with_apps) == _masked(without), name
    finally:
        await rails.client.aclose()
