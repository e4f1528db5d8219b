"""Secrets never appear in tool results, errors or logs (SPEC §4).

A real repairer key is minted through the OAuth install (with the demo client secret),
configured the way RAILS_API_KEY would be, and the whole loop, its refusals and its
failures run with every logger at DEBUG. Then a wrong repairer key and a wrong supplier key
make every call fail as unauthorized. No configured key and no OAuth secret may show up in
any text block, structuredContent, tool listing or log record.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx2
import pytest

from rails_mcp.client import RailsClient
from rails_mcp.config import DEMO_REPAIRER, DEMO_SUPPLIER
from rails_mcp.sandbox import create_app
from tests.support.mcp_support import (
    JOB,
    MISSING,
    OAUTH_CLIENT_SECRET,
    PR1,
    QUICKSTART,
    Session,
    isolate_environment,
    mcp_session,
    pick,
    settings_for,
)

pytestmark = pytest.mark.anyio

TENANT = "secrets"
WRONG_REPAIRER_KEY = "partly_" + "f" * 32
WRONG_SUPPLIER_KEY = "partly_" + "e" * 32


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path)


async def mint_repairer_key(state_dir: Path) -> tuple[str, str]:
    """``integrations.insert`` on the tenant the server will use: a fresh, non-demo key."""
    db = settings_for(state_dir, TENANT).sandbox_db()
    db.parent.mkdir(parents=True, exist_ok=True)
    transport = httpx2.ASGITransport(app=create_app(db, idle_reset_seconds=None))
    async with RailsClient(base_url="http://install.invalid", tenant=TENANT, transport=transport) as c:
        minted = await c.integrations.insert(
            access_code="ac_demo_valid_15m", client_id="partly_client_demo", client_secret=OAUTH_CLIENT_SECRET
        )
    assert minted.api_key not in {DEMO_REPAIRER[0], DEMO_SUPPLIER[0]}
    return minted.api_key, str(minted.integration_id)


def everything_said(s: Session, listing: Any, caplog: pytest.LogCaptureFixture) -> list[str]:
    said = [json.dumps(listing.model_dump(mode="json", by_alias=True))]
    for result in s.results:
        said.extend(json.dumps(block.model_dump(mode="json", by_alias=True)) for block in result.content)
        said.append(json.dumps(result.structured_content, ensure_ascii=False))
        said.append(json.dumps(result.model_dump(mode="json", by_alias=True), ensure_ascii=False))
    for record in caplog.records:
        said.append(record.getMessage())
        said.append(repr(record.args))
        if record.exc_text:
            said.append(record.exc_text)
    said.append(caplog.text)
    return said


def assert_no_secret(said: list[str], secrets: list[str]) -> None:
    for secret in secrets:
        leaks = [text for text in said if secret in text]
        assert not leaks, f"a secret leaked into: {leaks[0][:200]}"


async def test_a_full_loop_with_a_configured_key_never_shows_the_keys_or_the_oauth_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    key, integration_id = await mint_repairer_key(tmp_path)
    async with mcp_session(
        tmp_path,
        tenant=TENANT,
        api_key=key,
        integration_id=integration_id,
        supplier_api_key=DEMO_SUPPLIER[0],
        supplier_integration_id=DEMO_SUPPLIER[1],
    ) as s:
        listing = await s.client.list_tools()
        # The whole loop on a new job...
        new_job = {"external": "NEW-1"}
        await s.ok("prepare_vehicle", {"identifiers": [{"vin": "JTDBR32E730012345"}, {"vin": "bad"}]})
        await s.ok("list_businesses")
        await s.ok("list_work_providers")
        await s.ok("open_repair_job", {"job": new_job})
        await s.ok("get_repair_job", {"job": new_job})
        await s.ok(
            "identify_parts",
            {"job": new_job, "parts": [{"description": "Headlamp assembly RH", "quantity": 1}]},
        )
        await s.ok("list_parts", {"job": new_job})
        basket = await s.ok("recommend_basket", {"job": new_job})
        placed = await s.ok("place_procurement", basket["ready_selection"])
        pid = placed["procurement"]["id"]
        await s.ok("track_procurement", {"procurement_id": pid, "view": "supplier"})
        await s.ok("confirm_procurement", {"procurement_id": pid})
        await s.ok("reconcile_invoice", {"procurement_id": pid})
        await s.ok("list_procurements", {"job": new_job})
        # ...and the Quickstart, with its refusals and failures along the way.
        await s.fail("place_procurement", pick(0x08), "unconfirmable_supplier")
        await s.fail("place_procurement", pick(0x07, 0x0B), "mixed_suppliers")
        await s.fail("get_repair_job", {"job": {"external_id": "CCC-2026-04817"}}, "invalid_arguments")
        await s.fail("get_repair_job", {"job": {"external": "NOPE"}}, "not_found")
        await s.fail("confirm_procurement", {"procurement_id": MISSING}, "not_found")
        await s.fail("reconcile_invoice", {}, "invalid_arguments")
        await s.ok("place_procurement", {**QUICKSTART, "dry_run": True})
        await s.ok("reconcile_invoice", {"procurement_id": PR1})
    said = everything_said(s, listing, caplog)
    assert any("rails" in r.name for r in caplog.records), "the DEBUG logs were not captured"
    assert_no_secret(said, [key, DEMO_SUPPLIER[0], DEMO_REPAIRER[0], OAUTH_CLIENT_SECRET])


async def test_a_wrong_repairer_key_fails_as_unauthorized_without_echoing_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    async with mcp_session(
        tmp_path,
        tenant=TENANT,
        api_key=WRONG_REPAIRER_KEY,
        integration_id=DEMO_REPAIRER[1],
    ) as s:
        listing = await s.client.list_tools()
        calls: list[tuple[str, dict[str, Any]]] = [
            ("list_businesses", {}),
            ("open_repair_job", {"job": {"external": "NEW-1"}}),
            ("get_repair_job", {"job": JOB}),
            ("recommend_basket", {"job": JOB}),
            ("place_procurement", QUICKSTART),
            ("track_procurement", {"procurement_id": PR1}),
            ("confirm_procurement", {"procurement_id": PR1}),
            ("reconcile_invoice", {"job": JOB}),
        ]
        for name, args in calls:
            error = await s.fail(name, args, "unauthorized")
            assert "RAILS_API_KEY" in error["fix"]
            assert error["retryable"] is False
    said = everything_said(s, listing, caplog)
    assert_no_secret(said, [WRONG_REPAIRER_KEY, DEMO_SUPPLIER[0], DEMO_REPAIRER[0], OAUTH_CLIENT_SECRET])


async def test_a_wrong_supplier_key_fails_as_unauthorized_naming_the_supplier_variables_without_echoing_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    async with mcp_session(
        tmp_path,
        tenant=TENANT,
        supplier_api_key=WRONG_SUPPLIER_KEY,
        supplier_integration_id=DEMO_SUPPLIER[1],
    ) as s:
        listing = await s.client.list_tools()
        for name, args in [
            ("recommend_basket", {"job": JOB}),
            ("place_procurement", QUICKSTART),
            ("confirm_procurement", {"procurement_id": PR1}),
            ("track_procurement", {"procurement_id": PR1, "view": "supplier"}),
        ]:
            error = await s.fail(name, args, "unauthorized")
            # The fix names the credential that was refused, not the repairer's.
            assert "RAILS_SUPPLIER_API_KEY" in error["fix"], name
        await s.ok("list_procurements", {"job": JOB})
        assert await s.procurement_count() == 1
    said = everything_said(s, listing, caplog)
    assert_no_secret(said, [WRONG_SUPPLIER_KEY, DEMO_REPAIRER[0], OAUTH_CLIENT_SECRET])
