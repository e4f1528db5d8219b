"""The list resources page like the list tools: ``?limit=&cursor=`` on the URI, ``next_cursor``
and ``next_page`` in the read, every item exactly once, and a cursor that is not the resource's
own refused before anything is read."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from uuid import uuid5

import pytest
from mcp import Client, MCPError
from mcp_types import INVALID_PARAMS, TextResourceContents

from rails_mcp.runtime import open_rails
from rails_mcp.sandbox import seed
from rails_mcp.sandbox.store import Store as SandboxStore
from rails_mcp.sandbox.world import Business, World
from rails_mcp.server import build_server
from tests.support.mcp_support import PR1, QUICKSTART, Session, mcp_session, settings_for

pytestmark = pytest.mark.anyio

JOB = {"external": "PAGED-1"}
PARTS = "rails://jobs/PAGED-1/parts"


async def read(s: Session, uri: str) -> dict[str, Any]:
    (content,) = (await s.client.read_resource(uri, cache_mode="bypass")).contents
    assert isinstance(content, TextResourceContents)
    return json.loads(content.text)


async def refused(s: Session, uri: str) -> MCPError:
    with pytest.raises(MCPError) as caught:
        await s.client.read_resource(uri, cache_mode="bypass")
    assert caught.value.code == INVALID_PARAMS
    return caught.value


@asynccontextmanager
async def on_a_small_budget(tmp_path: Path, budget: int) -> AsyncIterator[Session]:
    rails = open_rails(settings_for(tmp_path))
    try:
        async with Client(build_server(rails, result_token_budget=budget)) as client:
            yield Session(client, rails, {t.name: t for t in (await client.list_tools()).tools})
    finally:
        await rails.client.aclose()


async def with_parts(s: Session, count: int) -> None:
    await s.ok("open_repair_job", {"job": JOB})
    for start in range(0, count, 200):
        batch = [
            {"description": f"Panel {n:04d}", "quantity": 1} for n in range(start, min(start + 200, count))
        ]
        await s.ok("identify_parts", {"job": JOB, "parts": batch})


async def test_paging_a_job_of_230_parts_through_the_resource_reads_each_part_once(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        await with_parts(s, 230)
        first = await read(s, PARTS)
        pages = [first]
        while "next_cursor" in pages[-1]:
            pages.append(await read(s, pages[-1]["next_page"]))
        by_cursor = await read(s, f"{PARTS}?cursor={first['next_cursor']}")
    assert [len(p["parts"]) for p in pages] == [50, 50, 50, 50, 30]  # the plain URI: page 1 of 50
    ids = [part["id"] for page in pages for part in page["parts"]]
    assert len(ids) == len(set(ids)) == 230
    assert all(page["counts"] == {"estimated": 230, "ordered": 0} for page in pages)  # counts stay whole
    assert "next_page" not in pages[-1]
    assert first["next_page"] == f"{PARTS}?cursor={first['next_cursor']}"
    assert by_cursor["parts"] == pages[1]["parts"]


async def test_a_limit_on_the_uri_sets_the_page_size_and_carries_into_next_page(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        await with_parts(s, 30)
        first = await read(s, f"{PARTS}?limit=20")
        rest = await read(s, first["next_page"])
        whole = await read(s, f"{PARTS}?limit=200")
    assert len(first["parts"]) == 20
    assert "limit=20" in first["next_page"]
    assert len(rest["parts"]) == 10
    assert "next_cursor" not in rest
    assert [p["id"] for p in first["parts"] + rest["parts"]] == [p["id"] for p in whole["parts"]]
    assert "next_cursor" not in whole


async def test_a_page_the_budget_cuts_continues_right_after_the_last_part_shown(tmp_path: Path):
    async with on_a_small_budget(tmp_path, 1_000) as s:
        await with_parts(s, 60)
        pages = [await read(s, f"{PARTS}?limit=60")]
        while "next_cursor" in pages[-1]:
            pages.append(await read(s, pages[-1]["next_page"]))
    assert len(pages[0]["parts"]) < 60
    assert "next_page" in pages[0]["truncated"]
    ids = [part["id"] for page in pages for part in page["parts"]]
    assert len(ids) == len(set(ids)) == 60


async def test_a_cursor_that_is_not_this_lists_own_is_invalid_cursor_and_reads_nothing(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        await with_parts(s, 60)
        cursor = (await read(s, PARTS))["next_cursor"]
        tool_cursor = (await s.ok("list_parts", {"job": JOB, "limit": 10}))["next_cursor"]
        await s.ok("open_repair_job", {"job": {"external": "PAGED-2"}})
        errors = [
            await refused(s, f"{PARTS}?cursor={cursor[:-2]}AA"),  # altered
            await refused(s, f"rails://jobs/PAGED-2/parts?cursor={cursor}"),  # another job's list
            await refused(s, f"rails://procurements/{PR1}/events?cursor={cursor}"),  # another resource
            await refused(s, f"{PARTS}?cursor={tool_cursor}"),  # a tool's
        ]
        bad_limit = await refused(s, f"{PARTS}?limit=500")
    for error in errors:
        assert error.data["code"] == "invalid_cursor"
        assert error.data["field"] == "cursor"
        assert error.message.startswith("Invalid cursor:")
    assert "rails://jobs/PAGED-2/parts" in errors[1].data["fix"]
    assert "Traceback" not in errors[0].message
    assert "200" in bad_limit.message


async def test_the_events_and_invoices_of_an_order_page_too(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        pid = (await s.ok("place_procurement", QUICKSTART))["procurement"]["id"]
        await s.ok("confirm_procurement", {"procurement_id": pid})
        events = await read(s, f"rails://procurements/{pid}/events?limit=1")
        last = await read(s, events["next_page"])
        invoices = await read(s, f"rails://procurements/{pid}/invoices?limit=1")
    assert [e["action"] for e in events["events"] + last["events"]] == ["placed", "confirmed"]
    assert events["next_page"].startswith(f"rails://procurements/{pid}/events?limit=1&cursor=")
    assert "next_cursor" not in last
    assert len(invoices["invoices"]) == 1
    assert "next_cursor" not in invoices  # one invoice: the last page


def with_sites(tmp_path: Path, count: int) -> None:
    """The seeded tenant's repairer org with ``count`` more sites, written to the sandbox's database."""

    def add(world: World) -> None:
        for n in range(count):
            site = uuid5(seed.REPAIRER_ORG, f"site-{n}")
            world.businesses[site] = Business(
                id=site, name=f"Site {n:03d}", organization_id=seed.REPAIRER_ORG
            )

    store = SandboxStore(settings_for(tmp_path).sandbox_db())
    try:
        store.transact("t1", time.time(), add)
    finally:
        store.close()


async def every_resource_page(s: Session, uri: str) -> list[dict[str, Any]]:
    pages = [await read(s, uri)]
    while "next_cursor" in pages[-1]:
        pages.append(await read(s, pages[-1]["next_page"]))
    return pages


async def test_the_businesses_of_a_repairer_with_60_sites_page_each_site_once(tmp_path: Path):
    with_sites(tmp_path, 60)
    async with mcp_session(tmp_path) as s:
        listed = {r.uri for r in (await s.client.list_resources()).resources}
        pages = await every_resource_page(s, "rails://businesses")
        small = await every_resource_page(s, "rails://businesses?limit=25")
        tool = await s.ok("list_businesses", {"limit": 200})
    assert {"rails://businesses", "rails://work-providers"} <= listed  # still fixed resources
    assert [len(p["repairer_sites"]) for p in pages] == [50, 11]  # the plain URI: page 1 of 50
    assert pages[0]["next_page"] == f"rails://businesses?cursor={pages[0]['next_cursor']}"
    assert [len(p["repairer_sites"]) for p in small] == [25, 25, 11]
    for walk in (pages, small):
        ids = [site["id"] for page in walk for site in page["repairer_sites"]]
        assert ids == [b["id"] for b in tool["businesses"]]  # each site once, in order
        assert all(page["confirmable_suppliers"] for page in walk)  # beside every page
    assert "next_page" not in pages[-1]


async def test_the_work_providers_page_through_the_resource(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        whole = await read(s, "rails://work-providers")
        pages = await every_resource_page(s, "rails://work-providers?limit=2")
    assert len(whole["work_providers"]) == 3
    assert "next_cursor" not in whole
    assert [len(p["work_providers"]) for p in pages] == [2, 1]
    assert "limit=2" in pages[0]["next_page"]
    assert [w["id"] for p in pages for w in p["work_providers"]] == [w["id"] for w in whole["work_providers"]]


async def test_a_foreign_cursor_on_the_businesses_or_work_providers_is_invalid_cursor(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        cursor = (await read(s, "rails://work-providers?limit=1"))["next_cursor"]
        errors = [
            await refused(s, f"rails://work-providers?limit=1&cursor={cursor[:-2]}AA"),  # altered
            await refused(s, f"rails://businesses?cursor={cursor}"),  # another resource's
        ]
    for error in errors:
        assert error.data["code"] == "invalid_cursor"
        assert error.message.startswith("Invalid cursor:")
    assert "rails://businesses" in errors[1].data["fix"]


async def test_the_listed_businesses_and_work_providers_say_how_to_page(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        resources = {r.uri: r for r in (await s.client.list_resources()).resources}
        templates = {t.uri_template for t in (await s.client.list_resource_templates()).resource_templates}
    for uri in ("rails://businesses", "rails://work-providers"):
        description = resources[uri].description or ""
        assert "cursor=next_cursor" in description
        assert "limit" in description
        assert uri + "{?limit,cursor}" in templates
