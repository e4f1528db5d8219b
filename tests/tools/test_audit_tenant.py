"""Every audit line says whom the server acted for: the tenant and the repairer, never a key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client

from rails_mcp.audit import audit_from_settings
from rails_mcp.config import DEMO_REPAIRER
from rails_mcp.runtime import open_rails
from rails_mcp.server import build_server
from tests.support.mcp_support import JOB, QUICKSTART, settings_for

pytestmark = pytest.mark.anyio


async def test_every_audit_line_names_the_tenant_and_the_repairer_and_no_key(tmp_path: Path):
    settings = settings_for(tmp_path, tenant="shop-north")
    audit = audit_from_settings(settings)
    rails = open_rails(settings)
    try:
        async with Client(build_server(rails, audit=audit)) as client:
            await client.call_tool("list_parts", {"job": JOB})
            await client.call_tool("place_procurement", QUICKSTART)  # an intent line, then its call line
            await client.call_tool("get_repair_job", {"job": {"external": "NOPE-404"}})
    finally:
        await rails.client.aclose()
    assert audit.path is not None
    text = audit.path.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["kind"] for line in lines] == ["call", "intent", "call", "call"]
    repairer_id, repairer_key = DEMO_REPAIRER[1], DEMO_REPAIRER[0]
    for line in lines:
        assert line["tenant"] == "shop-north"
        assert line["repairer"] == repairer_id
    assert repairer_key not in text
