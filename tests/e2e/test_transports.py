"""The server as users start it: stdio, streamable HTTP and legacy SSE, in real processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.support.mcp_support import QUICKSTART
from tests.support.process_support import clean_env, free_port, running
from tests.support.secret_scan import scan_output, scan_result

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

MCP_INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def close_the_loop(client: Client) -> dict[str, Any]:
    """Place, confirm and reconcile the Quickstart order; return the reconcile result."""
    tools = await client.list_tools()
    assert len(tools.tools) == 13
    placed = await client.call_tool("place_procurement", QUICKSTART)
    scan_result("place_procurement", placed)
    assert not placed.is_error, placed.content
    pid = placed.structured_content["procurement"]["id"]  # type: ignore[index]
    confirmed = await client.call_tool("confirm_procurement", {"procurement_id": pid})
    scan_result("confirm_procurement", confirmed)
    assert confirmed.structured_content["procurement"]["status"] == "order_confirmed"  # type: ignore[index]
    reconciled = await client.call_tool("reconcile_invoice", {"procurement_id": pid})
    scan_result("reconcile_invoice", reconciled)
    return dict(reconciled.structured_content or {})


async def test_with_zero_configuration_the_quickstart_loop_closes_over_stdio(tmp_path: Path):
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "rails_mcp"],
        env=clean_env(tmp_path, RAILS_TENANT="stdio-loop"),
    )
    async with Client(params) as client:
        result = await close_the_loop(client)
    invoice = result["invoices"][0]
    assert result["status"] == "reconciled"
    assert invoice["total"] == "1099.00"
    assert invoice["currency_code"] == "NZD"
    assert {li["reconciliation"] for li in invoice["line_items"]} == {"matched"}


async def test_an_order_placed_over_stdio_is_still_there_after_the_host_restarts(tmp_path: Path):
    env = clean_env(tmp_path, RAILS_TENANT="restart")
    params = StdioServerParameters(command=sys.executable, args=["-m", "rails_mcp"], env=env)
    async with Client(params) as client:
        placed = await client.call_tool("place_procurement", QUICKSTART)
        pid = placed.structured_content["procurement"]["id"]  # type: ignore[index]
    async with Client(params) as client:
        tracked = await client.call_tool("track_procurement", {"procurement_id": pid})
    scan_result("track_procurement", tracked)
    assert not tracked.is_error
    assert tracked.structured_content["procurement"]["status"] == "order_requested"  # type: ignore[index]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_streamable_http_serves_the_tools_in_both_protocol_eras(tmp_path: Path, mode: str):
    port = free_port()
    env = clean_env(tmp_path, RAILS_TENANT=f"http-{mode}")
    args = ["serve", "--transport", "streamable-http", "--port", str(port)]
    with running(args, env, port=port):
        async with Client(f"http://127.0.0.1:{port}/mcp", mode=mode) as client:
            result = await close_the_loop(client)
            era = client.protocol_version
    assert result["status"] == "reconciled"
    assert era == ("2025-11-25" if mode == "legacy" else "2026-07-28")


async def test_legacy_sse_serves_the_tools(tmp_path: Path):
    port = free_port()
    env = clean_env(tmp_path, RAILS_TENANT="sse")
    with running(["serve", "--transport", "sse", "--port", str(port)], env, port=port):
        async with Client(sse_client(f"http://127.0.0.1:{port}/sse"), mode="legacy") as client:
            result = await close_the_loop(client)
    assert result["invoices"][0]["total"] == "1099.00"


def test_http_refuses_a_foreign_origin_with_403_and_a_foreign_host_with_421(tmp_path: Path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    with running(
        ["serve", "--transport", "streamable-http", "--port", str(port)], clean_env(tmp_path), port=port
    ):
        foreign_origin = httpx2.post(
            url, json=MCP_INIT, headers={**MCP_HEADERS, "Origin": "http://evil.example"}
        )
        foreign_host = httpx2.post(url, json=MCP_INIT, headers={**MCP_HEADERS, "Host": "evil.example"})
        own_origin = httpx2.post(
            url, json=MCP_INIT, headers={**MCP_HEADERS, "Origin": f"http://127.0.0.1:{port}"}
        )
    assert foreign_origin.status_code == 403
    assert foreign_host.status_code == 421
    assert own_origin.status_code == 200


def test_binding_beyond_loopback_without_a_token_refuses_to_start(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "rails_mcp", "serve", "--transport", "streamable-http", "--host", "0.0.0.0"],
        env=clean_env(tmp_path),
        capture_output=True,
        timeout=60,
        check=False,
    )
    scan_output("rails-mcp serve --host 0.0.0.0", proc.stdout + proc.stderr)
    assert proc.returncode != 0
    assert b"RAILS_MCP_TOKEN" in proc.stderr
    assert b"Traceback" not in proc.stderr


async def test_beyond_loopback_every_request_needs_the_bearer_token_and_origin_checks_stay_on(tmp_path: Path):
    port = free_port()
    token = "t0ken-for-the-test-0123456789"
    url = f"http://127.0.0.1:{port}/mcp"
    args = [
        "serve",
        "--transport",
        "streamable-http",
        "--host",
        "0.0.0.0",
        "--port",
        str(port),
        "--allowed-host",
        f"127.0.0.1:{port}",
    ]
    with running(args, clean_env(tmp_path, RAILS_MCP_TOKEN=token), port=port):
        missing = httpx2.post(url, json=MCP_INIT, headers=MCP_HEADERS)
        wrong = httpx2.post(url, json=MCP_INIT, headers={**MCP_HEADERS, "Authorization": "Bearer nope"})
        foreign = httpx2.post(
            url,
            json=MCP_INIT,
            headers={**MCP_HEADERS, "Authorization": f"Bearer {token}", "Origin": "http://evil.example"},
        )
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
            Client(streamable_http_client(url, http_client=http), mode="legacy") as client,
        ):
            listed = await client.list_tools()
    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert token not in missing.text
    assert foreign.status_code == 403
    assert len(listed.tools) == 13


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"RAILS_BASE_URL": "not a url"}, b"RAILS_BASE_URL"),
        ({"RAILS_API_KEY": "partly_secret_value_123"}, b"RAILS_INTEGRATION_ID"),
        ({"RAILS_TENANT": "Not/A Tenant"}, b"RAILS_TENANT"),
    ],
)
def test_invalid_configuration_stops_start_up_with_a_message_naming_the_variable(
    tmp_path: Path, variables: dict[str, str], named: bytes
):
    proc = subprocess.run(
        [sys.executable, "-m", "rails_mcp"],
        env=clean_env(tmp_path, **variables),
        capture_output=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    scan_output("rails-mcp with invalid configuration", proc.stdout + proc.stderr)
    assert proc.returncode != 0
    assert named in proc.stderr
    assert b"partly_secret_value_123" not in proc.stderr
    assert b"Traceback" not in proc.stderr


def test_http_refuses_an_oversized_request_body_before_reading_it_all(tmp_path: Path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    huge = {**MCP_INIT, "params": {**MCP_INIT["params"], "padding": "x" * (2 * 1024 * 1024)}}
    with running(
        ["serve", "--transport", "streamable-http", "--port", str(port)], clean_env(tmp_path), port=port
    ):
        refused = httpx2.post(url, json=huge, headers=MCP_HEADERS)
        still_fine = httpx2.post(url, json=MCP_INIT, headers=MCP_HEADERS)
    assert refused.status_code == 413
    assert still_fine.status_code == 200
