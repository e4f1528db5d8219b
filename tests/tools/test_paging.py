"""Paging every list: bounded pages, every item exactly once, filters, and cursors that cannot be
altered or carried to another tool, filter or job; the protocol lists refuse any cursor."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from mcp import MCPError
from mcp_types import INVALID_PARAMS, PaginatedRequestParams

from rails_mcp.client import Credentials, RailsClient
from rails_mcp.paging import cursor_key
from tests.support.mcp_support import (
    AMI,
    JOB,
    QUICKSTART,
    S1,
    S2,
    Session,
    lossy_rails,
    mcp_session,
    session_over,
)

pytestmark = pytest.mark.anyio

BIG_JOB = {"external": "PAGING-1000"}
#: The only wire calls a refused cursor may cause: reads (the correction looks the first page up).
READS = ("list", "get")


async def build_big_job(s: Session, parts: int = 1000) -> None:
    """A job of ``parts`` parts, made through the tools: identify_parts takes 200 a call."""
    await s.ok("open_repair_job", {"job": BIG_JOB})
    for start in range(0, parts, 200):
        batch = [{"description": f"Part {n:04d}", "quantity": 1} for n in range(start, start + 200)]
        await s.ok("identify_parts", {"job": BIG_JOB, "parts": batch})


async def every_page(s: Session, tool: str, args: dict[str, Any], key: str) -> list[list[dict[str, Any]]]:
    """Follow next_cursor from the first page to the last; each page's items."""
    pages: list[list[dict[str, Any]]] = []
    out = await s.ok(tool, args)
    pages.append(out[key])
    while "next_cursor" in out:
        out = await s.ok(tool, {**args, "cursor": out["next_cursor"]})
        pages.append(out[key])
    return pages


def altered(cursor: str) -> str:
    """The same cursor with its offset moved on by one: a plausible forgery."""
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[3] ^= 1
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


async def test_paging_through_a_thousand_parts_returns_each_exactly_once(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        await build_big_job(s)
        for limit, expected_pages in ((None, 20), (200, 5), (7, 143)):
            args: dict[str, Any] = {"job": BIG_JOB, **({"limit": limit} if limit else {})}
            pages = await every_page(s, "list_parts", args, "parts")
            ids = [p["id"] for page in pages for p in page]
            # 200 parts overflow the 10,000-token result budget: the budget cuts each page short
            # and its next_cursor continues right after the last part shown, so there are more pages.
            assert len(pages) == expected_pages if limit != 200 else len(pages) > expected_pages
            assert all(len(page) <= (limit or 50) for page in pages)
            assert len(ids) == 1000
            assert len(set(ids)) == 1000
        first = await s.ok("list_parts", {"job": BIG_JOB})
    assert first["counts"] == {"estimated": 1000, "ordered": 0}  # the whole job, not the page
    text = s.results[-1].content[0]
    assert "1–50 of 1000 part(s)" in getattr(text, "text", "")


async def test_the_last_page_carries_no_next_cursor_and_a_short_list_is_one_page(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        whole = await s.ok("list_parts", {"job": JOB})
        assert "next_cursor" not in whole
        n = len(whole["parts"])
        assert n > 2
        pages = await every_page(s, "list_parts", {"job": JOB, "limit": n - 1}, "parts")
    assert [len(p) for p in pages] == [n - 1, 1]
    assert [p["id"] for page in pages for p in page] == [p["id"] for p in whole["parts"]]


async def test_list_parts_filters_by_status(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        await s.ok("place_procurement", QUICKSTART)
        whole = (await s.ok("list_parts", {"job": JOB}))["parts"]
        ordered = (await s.ok("list_parts", {"job": JOB, "status": "ordered"}))["parts"]
        estimated = (await s.ok("list_parts", {"job": JOB, "status": "estimated"}))["parts"]
    assert ordered
    assert estimated
    assert {p["status"] for p in ordered} == {"ordered"}
    assert {p["status"] for p in estimated} == {"estimated"}
    assert sorted(p["id"] for p in ordered + estimated) == sorted(p["id"] for p in whole)


async def test_list_procurements_filters_by_status_and_supplier_and_pages(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        placed = (await s.ok("place_procurement", QUICKSTART))["procurement"]
        everything = (await s.ok("list_procurements", {"job": JOB}))["procurements"]
        requested = await s.ok("list_procurements", {"job": JOB, "status": "order_requested"})
        confirmed = await s.ok("list_procurements", {"job": JOB, "status": "order_confirmed"})
        with_s1 = await s.ok("list_procurements", {"job": JOB, "supplier_business_id": S1})
        with_s2 = await s.ok("list_procurements", {"job": JOB, "supplier_business_id": S2})
        pages = await every_page(s, "list_procurements", {"job": JOB, "limit": 1}, "procurements")
    assert placed["id"] in [p["id"] for p in requested["procurements"]]
    assert all(p["status"] == "order_requested" for p in requested["procurements"])
    assert all(p["status"] == "order_confirmed" for p in confirmed["procurements"])
    assert placed["id"] not in [p["id"] for p in confirmed["procurements"]]
    assert placed["id"] in [p["id"] for p in with_s1["procurements"]]
    assert all(p["supplier"]["id"] == S1 for p in with_s1["procurements"])
    assert all(p["supplier"]["id"] == S2 for p in with_s2["procurements"])
    assert placed["id"] not in [p["id"] for p in with_s2["procurements"]]
    assert len(everything) >= 2  # so that limit 1 really pages
    assert all(len(page) == 1 for page in pages)
    assert [p["id"] for page in pages for p in page] == [p["id"] for p in everything]


async def test_businesses_and_work_providers_page_the_same_way(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        insurers = (await s.ok("list_work_providers"))["work_providers"]
        pages = await every_page(s, "list_work_providers", {"limit": 2}, "work_providers")
        sites = await every_page(s, "list_businesses", {"limit": 1}, "businesses")
    assert AMI in [w["id"] for w in insurers]
    assert len(insurers) == 3
    assert [len(p) for p in pages] == [2, 1]
    assert [w["id"] for page in pages for w in page] == [w["id"] for w in insurers]
    assert [len(p) for p in sites] == [1]


async def test_track_procurement_pages_the_events_of_an_order(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        placed = (await s.ok("place_procurement", QUICKSTART))["procurement"]
        await s.ok("confirm_procurement", {"procurement_id": placed["id"]})
        args = {"procurement_id": placed["id"], "limit": 1}
        pages = await every_page(s, "track_procurement", args, "events")
    assert [[e["action"] for e in page] for page in pages] == [["placed"], ["confirmed"]]


async def test_an_altered_or_foreign_cursor_is_invalid_cursor_and_writes_nothing(tmp_path: Path):
    rails, lossy = lossy_rails(tmp_path)
    async with session_over(rails) as s:
        await s.ok("place_procurement", QUICKSTART)
        first = await s.ok("list_parts", {"job": JOB, "limit": 2})
        cursor = first["next_cursor"]
        second_by_status = await s.ok("list_parts", {"job": JOB, "status": "estimated", "limit": 1})
        other_job = {"external": "ANOTHER-JOB"}
        await s.ok("open_repair_job", {"job": other_job})
        lossy.reached.clear()
        refused = [
            await s.fail("list_parts", {"job": JOB, "limit": 2, "cursor": altered(cursor)}, "invalid_cursor"),
            await s.fail("list_parts", {"job": JOB, "limit": 2, "cursor": "not-a-cursor"}, "invalid_cursor"),
            # the same cursor, another filter, another job, another tool
            await s.fail(
                "list_parts",
                {"job": JOB, "status": "ordered", "cursor": second_by_status["next_cursor"]},
                "invalid_cursor",
            ),
            await s.fail("list_parts", {"job": other_job, "cursor": cursor}, "invalid_cursor"),
            await s.fail("list_procurements", {"job": JOB, "cursor": cursor}, "invalid_cursor"),
            await s.fail("list_businesses", {"cursor": cursor}, "invalid_cursor"),
        ]
        replayed = await s.ok("list_parts", refused[0]["example_arguments"])
    assert all(method.rsplit(".", 1)[-1] in READS for method in lossy.reached), lossy.reached
    for error in refused:
        assert error["field"] == "cursor"
        assert error["retryable"] is False
    assert refused[0]["example_arguments"] == {"job": JOB, "limit": 2}
    assert replayed["parts"] == first["parts"]


async def test_a_cursor_from_one_replica_is_honoured_by_another_over_the_same_credential(tmp_path: Path):
    async with mcp_session(tmp_path) as first:
        page = await first.ok("list_work_providers", {"limit": 1})
    async with mcp_session(tmp_path) as second:
        rest = await second.ok("list_work_providers", {"limit": 1, "cursor": page["next_cursor"]})
    assert rest["work_providers"][0]["id"] != page["work_providers"][0]["id"]


def test_the_cursor_key_is_the_credential_s_so_replicas_share_it_and_tenants_do_not():
    def client(api_key: str, tenant: str) -> RailsClient:
        return RailsClient(base_url="http://x.invalid", repairer=Credentials(api_key, "i"), tenant=tenant)

    same = cursor_key(client("k" * 40, "t1"))
    assert cursor_key(client("k" * 40, "t1")) == same
    assert cursor_key(client("j" * 40, "t1")) != same
    assert cursor_key(client("k" * 40, "t2")) != same
    assert "k" * 40 not in same.hex()


@pytest.mark.parametrize("method", ["resources/list", "resources/templates/list", "prompts/list"])
async def test_a_protocol_list_refuses_any_cursor_with_invalid_params(tmp_path: Path, method: str):
    async with mcp_session(tmp_path) as s:
        session = s.client.session
        calls = {
            "resources/list": session.list_resources,
            "resources/templates/list": session.list_resource_templates,
            "prompts/list": session.list_prompts,
        }
        listed = await calls[method]()
        with pytest.raises(MCPError) as refused:
            await calls[method](params=PaginatedRequestParams(cursor="not-a-cursor"))
    assert refused.value.code == INVALID_PARAMS
    assert method in refused.value.error.message
    assert listed.next_cursor is None


async def test_each_page_reads_the_wire_once(tmp_path: Path):
    rails, lossy = lossy_rails(tmp_path)
    async with session_over(rails) as s:
        lossy.reached.clear()
        pages = await every_page(s, "list_parts", {"job": JOB, "limit": 2}, "parts")
    assert len(pages) > 2
    assert lossy.reached == ["repairer.jobs.parts.list"] * len(pages)
