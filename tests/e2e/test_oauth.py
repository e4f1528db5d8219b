"""OAuth against a real, independent authorization server: oidc-provider (OpenID Certified).

tests/oauth/server.mjs issues JWT access tokens by client_credentials with resource indicators
(RFC 8707); ``rails-mcp serve`` runs as a user starts it, configured only by ``RAILS_AUTH_ISSUER``
and ``RAILS_PUBLIC_URL``, and finds the issuer's keys on its own. Locally the test is skipped
when Node.js cannot run the pinned server; in CI (``CI=1``) that fails instead.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from rails_mcp.auth.tokens import CLOCK_SKEW_SECONDS
from tests.support.mcp_support import JOB, QUICKSTART, READ_TOOLS
from tests.support.node import npm_install, suitable_node, unavailable
from tests.support.process_support import clean_env, free_port, running
from tests.support.secret_scan import scan_output

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

OAUTH = Path(__file__).resolve().parents[1] / "oauth"
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}
#: The expiring client's tokens live one second.
EXPIRING_TTL = 1


@dataclass
class AuthorizationServer:
    issuer: str
    process: subprocess.Popen[bytes]

    def token(self, client: str, resource: str, scope: str = "rails:read", *, path: str = "") -> str:
        """An access token from the token endpoint (``path``: a mounted look-alike, see server.mjs)."""
        response = httpx2.post(
            f"{self.issuer}{path}/token",
            auth=(client, f"{client}-secret"),
            data={"grant_type": "client_credentials", "resource": resource, "scope": scope},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def rotate(self) -> str:
        response = httpx2.post(f"{self.issuer}/admin/rotate", timeout=30)
        assert response.status_code == 200, response.text
        return str(response.json()["kid"])


def _node() -> str:
    if not (OAUTH / "node_modules" / "oidc-provider").is_dir():
        npm_install(OAUTH, "the OAuth tests need oidc-provider", command="ci")
    node, why = suitable_node(OAUTH, (22, 0))
    if node is None:
        unavailable(f"the OAuth tests need Node.js >= 22 for oidc-provider: {why}")
    return node


@pytest.fixture(scope="module")
def node() -> str:
    return _node()


@contextmanager
def authorization_server(node: str) -> Iterator[AuthorizationServer]:
    """tests/oauth/server.mjs on a free loopback port, stopped (and its output scanned) after."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([node, "server.mjs"], cwd=OAUTH, stdout=subprocess.PIPE, stderr=log)
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            if not line:
                process.wait(timeout=10)
                log.seek(0)
                raise AssertionError(f"the authorization server did not start: {log.read().decode()[-2000:]}")
            yield AuthorizationServer(json.loads(line)["issuer"], process)
        finally:
            process.terminate()
            process.wait(timeout=10)
            log.seek(0)
            scan_output("oidc-provider", log.read())


@dataclass
class RailsMcp:
    url: str
    state_dir: Path
    pid: int

    def audit(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (self.state_dir / "audit.jsonl").read_text().splitlines()]


@contextmanager
def rails_mcp(state_dir: Path, issuer: str, transport: str = "streamable-http") -> Iterator[RailsMcp]:
    """``rails-mcp serve`` with OAuth on, configured only by its variables."""
    port = free_port()
    url = f"http://127.0.0.1:{port}{'/mcp' if transport == 'streamable-http' else '/sse'}"
    env = clean_env(state_dir, RAILS_TENANT=f"oauth-{port}", RAILS_AUTH_ISSUER=issuer, RAILS_PUBLIC_URL=url)
    with running(["serve", "--transport", transport, "--port", str(port)], env, port=port) as process:
        yield RailsMcp(url, state_dir, process.pid)


@pytest.fixture(scope="module")
def issuer(node: str) -> Iterator[AuthorizationServer]:
    with authorization_server(node) as server:
        yield server


@pytest.fixture(scope="module")
def rails(issuer: AuthorizationServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RailsMcp]:
    with rails_mcp(tmp_path_factory.mktemp("oauth"), issuer.issuer) as served:
        yield served


@pytest.fixture(scope="module", autouse=True)
def expiring(issuer: AuthorizationServer, rails: RailsMcp) -> tuple[str, float]:
    """A one-second token, asked for early so the tests before its own let it expire."""
    return issuer.token("rails-expiring", rails.url), time.monotonic()


def initialize(url: str, token: str | None) -> httpx2.Response:
    headers = {**MCP_HEADERS, **({"Authorization": f"Bearer {token}"} if token else {})}
    return httpx2.post(url, json=INITIALIZE, headers=headers, timeout=30)


def signed_in(url: str, token: str) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return Client(streamable_http_client(url, http_client=http), mode="legacy")


def test_without_a_token_it_is_401_pointing_at_the_metadata_naming_the_issuer(
    issuer: AuthorizationServer, rails: RailsMcp
):
    response = initialize(rails.url, None)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    port = rails.url.split(":")[2].split("/")[0]
    metadata_url = f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp"
    assert f'resource_metadata="{metadata_url}"' in challenge
    metadata = httpx2.get(metadata_url, timeout=30).json()
    assert metadata["resource"] == rails.url
    assert metadata["authorization_servers"] == [issuer.issuer]
    # what a client does next: the issuer's own metadata, from the name it was given
    discovered = httpx2.get(f"{issuer.issuer}/.well-known/openid-configuration", timeout=30).json()
    assert discovered["issuer"] == issuer.issuer


def test_a_token_for_this_server_is_accepted(issuer: AuthorizationServer, rails: RailsMcp):
    assert initialize(rails.url, issuer.token("rails-reader", rails.url)).status_code == 200


@pytest.mark.parametrize("case", ["wrong audience", "wrong issuer", "unknown key"])
def test_a_token_not_meant_for_this_server_is_401(issuer: AuthorizationServer, rails: RailsMcp, case: str):
    if case == "wrong audience":
        token = issuer.token("rails-reader", "http://127.0.0.1:1/elsewhere/mcp")
    elif case == "wrong issuer":  # the same keys, another issuer's name
        token = issuer.token("rails-reader", rails.url, path="/impostor")
        assert jwt.decode(token, options={"verify_signature": False})["iss"] == f"{issuer.issuer}/impostor"
    else:  # the right issuer's name, a key it never published
        token = issuer.token("rails-reader", rails.url, path="/rogue")
        assert jwt.decode(token, options={"verify_signature": False})["iss"] == issuer.issuer
    response = initialize(rails.url, token)
    assert response.status_code == 401
    assert "resource_metadata=" in response.headers["www-authenticate"]


def test_an_expired_token_is_401(rails: RailsMcp, expiring: tuple[str, float]):
    token, issued = expiring
    time.sleep(max(0.0, issued + EXPIRING_TTL + CLOCK_SKEW_SECONDS + 1 - time.monotonic()))
    assert initialize(rails.url, token).status_code == 401


async def test_a_read_token_lists_only_read_tools_and_is_403_on_place_procurement(
    issuer: AuthorizationServer, rails: RailsMcp
):
    token = issuer.token("rails-reader", rails.url, "rails:read")
    async with signed_in(rails.url, token) as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        read = await client.call_tool("list_procurements", {"job": JOB})
    assert listed == set(READ_TOOLS)
    assert not read.is_error, read
    opened = initialize(rails.url, token)
    session = {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"}
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "place_procurement", "arguments": QUICKSTART},
    }
    refused = httpx2.post(
        rails.url,
        json=call,
        headers={**MCP_HEADERS, **session, "Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert refused.status_code == 403
    challenge = refused.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="rails:read rails:order"' in challenge
    assert not any(line["tool"] == "place_procurement" for line in rails.audit())


async def test_audit_lines_name_the_sub_and_what_the_token_says_of_the_person(
    issuer: AuthorizationServer, rails: RailsMcp
):
    clerk = issuer.token("rails-clerk", rails.url, "rails:read rails:write rails:order rails:confirm")
    async with signed_in(rails.url, clerk) as client:
        assert len((await client.list_tools()).tools) == 13
        placed = await client.call_tool("place_procurement", QUICKSTART)
    assert not placed.is_error, placed
    lines = [line for line in rails.audit() if line["tool"] == "place_procurement"]
    assert {line["kind"] for line in lines} == {"intent", "call"}
    for line in lines:
        assert line["principal"]["sub"] == "rails-clerk"
        assert line["principal"]["name"] == "Casey Clerk"
        assert line["principal"]["email"] == "casey@example.com"
        assert line["principal"]["iss"] == issuer.issuer
    readers = [line for line in rails.audit() if line["tool"] == "list_procurements"]
    assert readers
    assert {line["principal"]["sub"] for line in readers} == {"rails-reader"}


async def test_rotating_the_signing_key_works_without_a_restart(node: str, tmp_path: Path):
    with authorization_server(node) as server, rails_mcp(tmp_path, server.issuer) as served:
        before = server.token("rails-reader", served.url)
        async with signed_in(served.url, before) as client:
            assert len((await client.list_tools()).tools) == len(READ_TOOLS)
        kid = server.rotate()
        after = server.token("rails-reader", served.url)
        assert jwt.get_unverified_header(after)["kid"] == kid != jwt.get_unverified_header(before)["kid"]
        async with signed_in(served.url, after) as client:
            assert len((await client.list_tools()).tools) == len(READ_TOOLS)
            read = await client.call_tool("list_procurements", {"job": JOB})
        assert not read.is_error, read
        assert initialize(served.url, before).status_code == 200  # the old key is still published
        (line,) = served.audit()
        assert line["principal"]["sub"] == "rails-reader"


async def test_legacy_sse_is_guarded_the_same_way(issuer: AuthorizationServer, tmp_path: Path):
    with rails_mcp(tmp_path, issuer.issuer, transport="sse") as served:
        assert httpx2.get(served.url, timeout=30).status_code == 401
        token = issuer.token("rails-reader", served.url)
        async with Client(
            sse_client(served.url, headers={"Authorization": f"Bearer {token}"}), mode="legacy"
        ) as client:
            listed = {tool.name for tool in (await client.list_tools()).tools}
    assert listed == set(READ_TOOLS)
