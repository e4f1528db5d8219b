"""OAuth at the HTTP boundary: metadata open, ``401`` pointing at it, ``403`` for a tool beyond
the token's scopes, and everything else handed on to the transport untouched.

The guarded app here records what reaches it, so each refusal is seen to stop the request
before the transport; the tokens come from a loopback issuer with its own keys.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rails_mcp.auth.http import oauth_app
from rails_mcp.auth.tokens import CLOCK_SKEW_SECONDS, JwtVerifier, ResourceServer
from tests.oauth.local_issuer import AUDIENCE, LocalIssuer, local_issuer

pytestmark = pytest.mark.anyio

METADATA = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
MAX_BODY = 64 * 1024


@dataclass
class Transport:
    """Stands where the MCP transport stands: answers 200 with the body it received."""

    bodies: list[bytes] = field(default_factory=list[bytes])
    lifespans: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            self.lifespans += 1
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with local_issuer() as served:
        yield served


@pytest.fixture
def transport() -> Transport:
    return Transport()


@pytest.fixture
def guarded(issuer: LocalIssuer, transport: Transport) -> ASGIApp:
    server = ResourceServer(issuer.url, AUDIENCE, AUDIENCE, issuer.jwks_url)
    return oauth_app(transport, server, JwtVerifier(server), max_body=MAX_BODY)


@pytest.fixture
async def http(guarded: ASGIApp) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=guarded), base_url="http://rails"
    ) as client:
        yield client


def call(name: str, request_id: int = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": {}},
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]
)
async def test_the_protected_resource_metadata_is_open_at_both_well_known_paths(
    http: httpx2.AsyncClient, issuer: LocalIssuer, transport: Transport, path: str
):
    response = await http.get(path)
    assert response.status_code == 200
    metadata = response.json()
    assert metadata["resource"] == AUDIENCE
    assert metadata["authorization_servers"] == [issuer.url]  # exactly the issuer: no slash added
    assert metadata["scopes_supported"] == ["rails:read", "rails:write", "rails:order", "rails:confirm"]
    assert transport.bodies == []


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic YTpi"}])
async def test_without_a_valid_token_it_is_401_pointing_at_the_metadata(
    http: httpx2.AsyncClient, transport: Transport, headers: dict[str, str]
):
    response = await http.post("/mcp", json=call("list_parts"), headers=headers)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{METADATA}"' in challenge
    assert transport.bodies == []


async def test_a_token_for_another_audience_is_401(
    http: httpx2.AsyncClient, issuer: LocalIssuer, transport: Transport
):
    token = issuer.token(audience="https://other.example.com/mcp", scope="rails:read")
    response = await http.post("/mcp", json=call("list_parts"), headers=bearer(token))
    assert response.status_code == 401
    assert transport.bodies == []


async def test_a_call_the_scopes_cover_reaches_the_transport_unchanged(
    http: httpx2.AsyncClient, issuer: LocalIssuer, transport: Transport
):
    body = json.dumps(call("list_parts")).encode()
    response = await http.post("/mcp", content=body, headers=bearer(issuer.token(scope="rails:read")))
    assert response.status_code == 200
    assert transport.bodies == [body]


async def test_a_token_expired_within_the_tolerated_clock_skew_still_passes(
    http: httpx2.AsyncClient, issuer: LocalIssuer, transport: Transport
):
    token = issuer.token(scope="rails:read", ttl=-(CLOCK_SKEW_SECONDS - 3))
    response = await http.post("/mcp", json=call("list_parts"), headers=bearer(token))
    assert response.status_code == 200
    assert len(transport.bodies) == 1


@pytest.mark.parametrize(
    ("scope", "tool", "asked"),
    [
        ("rails:read", "place_procurement", "rails:read rails:order"),
        ("rails:read rails:order", "confirm_procurement", "rails:read rails:order rails:confirm"),
        ("rails:order", "open_repair_job", "rails:write rails:order"),
        ("", "list_parts", "rails:read"),
    ],
)
async def test_a_call_beyond_the_scopes_is_403_asking_for_what_it_needs(
    http: httpx2.AsyncClient, issuer: LocalIssuer, transport: Transport, scope: str, tool: str, asked: str
):
    response = await http.post("/mcp", json=call(tool), headers=bearer(issuer.token(scope=scope)))
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="insufficient_scope"')
    assert f'scope="{asked}"' in challenge
    assert f'resource_metadata="{METADATA}"' in challenge
    assert response.json()["error"] == "insufficient_scope"
    assert transport.bodies == []


async def test_a_batch_holding_one_call_beyond_the_scopes_is_403(
    http: httpx2.AsyncClient, issuer: LocalIssuer, transport: Transport
):
    batch = [call("list_parts", 1), call("place_procurement", 2)]
    response = await http.post("/mcp", json=batch, headers=bearer(issuer.token(scope="rails:read")))
    assert response.status_code == 403
    assert transport.bodies == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode(),
        json.dumps(call("no_such_tool")).encode(),
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": "x"}).encode(),
        b"x" * (MAX_BODY + 10),
    ],
    ids=["not json", "tools/list", "unknown tool", "bad params", "too big to inspect"],
)
async def test_what_is_not_a_call_beyond_the_scopes_is_the_transports_to_answer(
    http: httpx2.AsyncClient, issuer: LocalIssuer, transport: Transport, body: bytes
):
    response = await http.post("/mcp", content=body, headers=bearer(issuer.token(scope="rails:read")))
    assert response.status_code == 200
    assert transport.bodies == [body]


async def test_an_authenticated_stream_request_passes(
    http: httpx2.AsyncClient, issuer: LocalIssuer, transport: Transport
):
    response = await http.get("/mcp", headers=bearer(issuer.token(scope="rails:read")))
    assert response.status_code == 200
    assert transport.bodies == [b""]


async def test_the_transports_start_up_and_shut_down_reach_it_without_a_token(
    guarded: ASGIApp, transport: Transport
):
    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        raise AssertionError(f"the guard answered a lifespan event itself: {message}")

    await guarded({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert transport.lifespans == 1
