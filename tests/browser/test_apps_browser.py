"""BROWSER TEST: the MCP Apps pages in a real Chromium, behind the official MCP Apps host bridge.

Debian's ``chromium`` (/usr/bin/chromium, no browser download) is driven by Playwright. A small
host page (host.html) loads ``AppBridge`` from npm ``@modelcontextprotocol/ext-apps`` (pinned in
package.json, bundled for the browser by the pinned esbuild), puts the ``ui://`` page read from
the real server into a sandboxed iframe, and sends it the real tool result from the seeded
world. Everything is served from 127.0.0.1; any request elsewhere, and any console error, fails
the test. Screenshots are saved under the test's tmp_path.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from mcp import Client
from mcp_types import CallToolResult, TextResourceContents

from rails_mcp.runtime import open_rails
from rails_mcp.server import build_server
from rails_mcp.ui import BASKET_APP, ORDER_APP
from tests.support.mcp_support import JOB, settings_for
from tests.support.node import npm_install, unavailable

pytestmark = [pytest.mark.anyio, pytest.mark.browser, pytest.mark.subprocess]

HERE = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: The chat column the pages must fit.
COLUMN_PX = 360
CONFIRMABLE = "Christchurch Toyota — Parts"

Frame = Any  # playwright's FrameLocator (the import is optional: see _playwright)
Render = Callable[[str, str, dict[str, Any], dict[str, Any]], Awaitable[Frame]]


# --- what the host is given: pages and results from the real server ---------------------------


def _sent(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)


async def _seeded_world(tmp_path: Path) -> dict[str, Any]:
    """The two pages and the tool results a host would hand them, from the seeded sandbox."""
    rails = open_rails(settings_for(tmp_path / "state"))
    try:
        async with Client(build_server(rails)) as client:
            pages: dict[str, str] = {}
            for uri in (BASKET_APP, ORDER_APP):
                page = (await client.read_resource(uri)).contents[0]
                assert isinstance(page, TextResourceContents)
                pages[uri] = page.text
            every = {"job": JOB, "confirmable_only": False}
            basket_all = await client.call_tool("recommend_basket", every)
            basket = await client.call_tool("recommend_basket", {"job": JOB})
            ready = (basket.structured_content or {})["ready_selection"]
            placed = await client.call_tool("place_procurement", ready)
            order = {"procurement_id": (placed.structured_content or {})["procurement"]["id"]}
            _sent(await client.call_tool("confirm_procurement", order))
            tracked = await client.call_tool("track_procurement", order)
            reconciled = await client.call_tool("reconcile_invoice", order)
    finally:
        await rails.client.aclose()
    return {
        "pages": pages,
        "basket_all": (every, _sent(basket_all)),
        "basket": ({"job": JOB}, _sent(basket)),
        "tracked": (order, _sent(tracked)),
        "reconciled": (order, _sent(reconciled)),
    }


# --- the host: the bridge bundle, a local web server, Chromium ---------------------------------


def _bridge_bundle(site: Path) -> None:
    """host.html's /bridge.js: the pinned AppBridge and its dependencies as one browser module."""
    if not (HERE / "node_modules" / "@modelcontextprotocol" / "ext-apps").is_dir():
        npm_install(HERE, "the browser test needs @modelcontextprotocol/ext-apps", command="ci")
    esbuild = HERE / "node_modules" / ".bin" / "esbuild"
    entry = HERE / "bridge-entry.mjs"
    out = site / "bridge.js"
    args = ["--bundle", "--format=esm", "--platform=browser", f"--outfile={out}", "--log-level=error"]
    done = subprocess.run(
        [str(esbuild), str(entry), *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr


@asynccontextmanager
async def _web_server(site: Path) -> AsyncIterator[str]:
    """``site`` served on 127.0.0.1 (an ephemeral port) for as long as the block runs."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _playwright() -> Any:
    """Playwright's async API, or why the test cannot run (a skip locally, a failure in CI)."""
    if not CHROMIUM.exists():
        unavailable(
            "the browser test needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
        )
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        unavailable("the browser test needs the playwright package (pip install -e '.[dev]')")
    return async_playwright


@asynccontextmanager
async def _host(tmp_path: Path) -> AsyncIterator[Render]:
    """A test host in Chromium; on leaving, no console error and no request off 127.0.0.1."""
    async_playwright = _playwright()
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(HERE / "host.html", site / "host.html")
    _bridge_bundle(site)
    errors: list[str] = []
    outside: list[str] = []
    home = tmp_path / "home"
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }
    async with _web_server(site) as origin, async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, env=env
        )
        context = await browser.new_context(viewport={"width": 480, "height": 2400})

        async def only_local(route: Any) -> None:
            if urlsplit(route.request.url).hostname == "127.0.0.1":
                await route.continue_()
            else:
                outside.append(route.request.url)
                await route.abort()

        await context.route("**/*", only_local)

        async def render(name: str, html: str, arguments: dict[str, Any], result: dict[str, Any]) -> Frame:
            (site / f"{name}.json").write_text(
                json.dumps({"html": html, "arguments": arguments, "result": result}), encoding="utf-8"
            )
            page = await context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"{origin}/host.html?case={name}")
            await page.wait_for_function("window.toolResultSent === true", timeout=15_000)
            frame = page.frame_locator("iframe")
            await frame.locator("main h2").first.wait_for(timeout=15_000)
            await page.wait_for_timeout(100)  # the iframe takes the height the app reported
            await page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
            return frame

        try:
            yield render
        finally:
            await browser.close()
    assert errors == [], f"console errors: {errors}"
    assert outside == [], f"requests left 127.0.0.1: {outside}"


# --- the tests ------------------------------------------------------------------------------------


async def _fits_the_column(frame: Frame) -> None:
    width = await frame.locator("html").evaluate("e => e.scrollWidth")
    assert width <= COLUMN_PX, f"the page is {width}px wide in a {COLUMN_PX}px column"


async def test_the_basket_page_shows_who_can_confirm_the_total_and_the_parts_nobody_confirmable_offers(
    tmp_path: Path,
):
    world = await _seeded_world(tmp_path)
    arguments, result = world["basket_all"]
    stranded = result["structuredContent"]["estimated_parts_not_confirmable"]
    assert len(stranded) == 3
    async with _host(tmp_path) as render:
        frame = await render("basket_all", world["pages"][BASKET_APP], arguments, result)
        await _fits_the_column(frame)
        app = frame.locator("main")
        assert "Total 1,099.00" in await app.inner_text()
        sections = {
            await s.locator("h2").inner_text(): await s.inner_text()
            for s in await app.locator("section").all()
        }
        assert len(sections) == 3
        assert "✓ Can confirm" in sections.pop(CONFIRMABLE)
        for other in sections.values():  # the others say they cannot, and why, in words
            assert "✗ Cannot confirm" in other
            assert "would never be confirmed" in other
        listed = frame.locator("ul.stranded li .id")
        assert [await i.get_attribute("title") for i in await listed.all()] == stranded
        # Keyboard: Tab reaches the first table region, which scrolls sideways by keys.
        await app.locator("h2").first.click()
        await frame.locator("body").press("Tab")
        assert await frame.locator(":focus").get_attribute("role") == "region"

        default = await render("basket", world["pages"][BASKET_APP], *world["basket"])
        text = await default.locator("main").inner_text()
        assert "Total 1,099.00" in text
        assert "✓ Can confirm" in text
        assert "the model can ask for the others" in text
        assert await default.locator("ul.stranded li").count() == 3
    assert (tmp_path / "basket_all.png").stat().st_size > 0


async def test_the_order_page_shows_lines_total_the_status_timeline_and_the_reconciliation(tmp_path: Path):
    world = await _seeded_world(tmp_path)
    async with _host(tmp_path) as render:
        tracked = await render("tracked", world["pages"][ORDER_APP], *world["tracked"])
        await _fits_the_column(tracked)
        text = await tracked.locator("main").inner_text()
        assert "Total 1,099.00 NZD" in text
        assert await tracked.locator("main table tbody tr").count() == 2  # the two lines
        steps = [await s.inner_text() for s in await tracked.locator("ol.timeline li").all()]
        assert steps[:2] == ["Placed ✓ done", "Confirmed ✓ done"]
        assert steps[2].startswith("Invoiced – not in this result")

        reconciled = await render("reconciled", world["pages"][ORDER_APP], *world["reconciled"])
        text = await reconciled.locator("main").inner_text()
        assert "✓ Reconciled: the invoices match the order" in text
        assert "Invoiced 1,099.00 NZD" in text
        assert "✓ every line matched" in text
        steps = [await s.inner_text() for s in await reconciled.locator("ol.timeline li").all()]
        assert steps == ["Placed ✓ done", "Confirmed ✓ done", "Invoiced ✓ done"]
    assert (tmp_path / "reconciled.png").stat().st_size > 0


async def test_markup_in_wire_text_is_shown_as_text_and_never_runs(tmp_path: Path):
    world = await _seeded_world(tmp_path)
    arguments, result = world["basket_all"]
    hostile = '<img src="/planted.png" onerror="console.error(1)"><b>Evil</b>'
    result["structuredContent"]["suppliers"][0]["name"] = hostile
    async with _host(tmp_path) as render:
        frame = await render("hostile", world["pages"][BASKET_APP], arguments, result)
        assert await frame.locator("main img, main b").count() == 0
        assert hostile in await frame.locator("main").inner_text()
