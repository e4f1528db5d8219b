"""The verifier of JWT access tokens, against an issuer on a loopback port signing locally.

What a resource server must refuse (another audience, another issuer, expired, a key the
issuer does not publish, a forged algorithm) and how it treats the issuer's keys: fetched
once and cached, refetched for a rotated key at most once per cooldown, never on the event
loop, and kept when the issuer cannot be reached.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import anyio
import pytest
from cryptography.hazmat.primitives import serialization

from rails_mcp.auth.identity import principal_of
from rails_mcp.auth.tokens import CLOCK_SKEW_SECONDS, JwtVerifier, ResourceServer, SigningKeys
from tests.oauth.local_issuer import AUDIENCE, LocalIssuer, local_issuer, new_key

pytestmark = pytest.mark.anyio


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with local_issuer() as served:
        yield served


def verifier_for(
    issuer: LocalIssuer, *, jwks_url: str | None = "", lifespan: float = 300, cooldown: float = 30
) -> JwtVerifier:
    """``jwks_url=None``: discovered from the issuer's metadata; by default the issuer's own."""
    url = issuer.jwks_url if jwks_url == "" else jwks_url
    server = ResourceServer(issuer=issuer.url, audience=AUDIENCE, resource_url=AUDIENCE, jwks_url=url)
    return JwtVerifier(server, SigningKeys(issuer.url, url, lifespan=lifespan, cooldown=cooldown))


async def test_a_token_for_this_audience_is_accepted_with_its_scopes_and_whose_it_is(issuer: LocalIssuer):
    token = issuer.token(
        scope="rails:read rails:order", sub="u-42", name="Ann Adams", email="ann@example.com"
    )
    verified = await verifier_for(issuer).verify_token(token)
    assert verified is not None
    assert verified.scopes == ["rails:order", "rails:read"]
    assert verified.subject == "u-42"
    assert verified.resource == AUDIENCE
    who = principal_of(verified)
    assert who.fields() == {
        "sub": "u-42",
        "iss": issuer.url,
        "client_id": "u-42-client",
        "name": "Ann Adams",
        "email": "ann@example.com",
    }
    assert who.label() == "Ann Adams <ann@example.com> (sub u-42)"


async def test_scopes_given_as_an_scp_list_count_too(issuer: LocalIssuer):
    token = issuer.token(scope="", scp=["rails:read", "rails:write"])
    verified = await verifier_for(issuer).verify_token(token)
    assert verified is not None
    assert verified.scopes == ["rails:read", "rails:write"]


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"audience": "https://other.example.com/mcp"}, id="another audience"),
        pytest.param({"audience": ["https://other.example.com/mcp", "https://x.example"]}, id="audiences"),
        pytest.param({"issuer": "https://look-alike.example.com"}, id="another issuer"),
        pytest.param({"ttl": -(CLOCK_SKEW_SECONDS + 2)}, id="expired"),
        pytest.param({"nbf": 120}, id="not yet valid"),  # seconds from now
    ],
)
async def test_a_token_not_meant_for_this_server_now_is_refused(issuer: LocalIssuer, overrides: dict):
    if "nbf" in overrides:
        overrides = {"nbf": int(time.time()) + overrides["nbf"]}
    assert await verifier_for(issuer).verify_token(issuer.token(**overrides)) is None


async def test_a_token_naming_this_server_among_several_audiences_is_accepted(issuer: LocalIssuer):
    token = issuer.token(audience=["https://other.example.com", AUDIENCE])
    assert await verifier_for(issuer).verify_token(token) is not None


async def test_a_token_expired_within_the_tolerated_clock_skew_is_still_accepted(issuer: LocalIssuer):
    token = issuer.token(ttl=-(CLOCK_SKEW_SECONDS - 3))
    assert await verifier_for(issuer).verify_token(token) is not None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _forged(issuer: LocalIssuer, alg: str, key: bytes) -> str:
    """The issuer's own claims under a forged header: ``none``, or HMAC keyed with the public key."""
    claims = issuer.token().split(".")[1]
    header = _b64(json.dumps({"alg": alg, "kid": issuer.keys[0][0], "typ": "at+jwt"}).encode())
    signing_input = f"{header}.{claims}"
    if alg == "none":
        return f"{signing_input}."
    return f"{signing_input}.{_b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"


@pytest.mark.parametrize("alg", ["HS256", "none"])
async def test_a_token_forging_its_algorithm_is_refused(issuer: LocalIssuer, alg: str):
    public_pem = (
        issuer.keys[0][1]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    verifier = verifier_for(issuer)
    assert await verifier.verify_token(issuer.token()) is not None  # the key itself is known
    assert await verifier.verify_token(_forged(issuer, alg, public_pem)) is None


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "e30.e30.e30"])
async def test_what_is_not_a_jwt_is_refused(issuer: LocalIssuer, token: str):
    assert await verifier_for(issuer).verify_token(token) is None


async def test_the_key_set_is_fetched_once_not_per_request(issuer: LocalIssuer):
    verifier = verifier_for(issuer)
    for _ in range(20):
        assert await verifier.verify_token(issuer.token()) is not None
    assert issuer.jwks_fetches == 1


async def test_a_key_the_issuer_does_not_publish_is_refused_and_refetches_once_per_cooldown(
    issuer: LocalIssuer,
):
    verifier = verifier_for(issuer, cooldown=30)
    assert await verifier.verify_token(issuer.token()) is not None
    assert issuer.jwks_fetches == 1
    unpublished = new_key()
    for _ in range(10):
        assert await verifier.verify_token(issuer.token(key=unpublished)) is None
    assert issuer.jwks_fetches == 2  # one refetch for all ten, not ten


async def test_a_rotated_key_is_picked_up_by_the_running_verifier(issuer: LocalIssuer):
    verifier = verifier_for(issuer)
    old = issuer.token()
    assert await verifier.verify_token(old) is not None
    issuer.rotate()
    assert await verifier.verify_token(issuer.token()) is not None
    assert await verifier.verify_token(old) is not None  # the old key is still published
    assert issuer.jwks_fetches == 2


async def test_fetching_the_keys_runs_off_the_event_loop(issuer: LocalIssuer):
    issuer.delay = 0.5
    verifier = verifier_for(issuer)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.sleep(0.01)

    async with anyio.create_task_group() as group:
        group.start_soon(tick)
        assert await verifier.verify_token(issuer.token()) is not None
        group.cancel_scope.cancel()
    assert ticks >= 20  # the loop kept running while the key set took half a second


async def test_the_keys_fetched_before_still_verify_while_the_issuer_is_down(issuer: LocalIssuer):
    verifier = verifier_for(issuer, lifespan=0.1)
    assert await verifier.verify_token(issuer.token()) is not None
    issuer.down = True
    await anyio.sleep(0.2)  # the cached set is stale now; refreshing it fails
    assert await verifier.verify_token(issuer.token()) is not None


async def test_the_key_set_url_is_discovered_from_the_issuer_metadata(issuer: LocalIssuer):
    verifier = verifier_for(issuer, jwks_url=None)
    assert await verifier.verify_token(issuer.token()) is not None
    assert issuer.jwks_fetches == 1


async def test_metadata_naming_another_issuer_lends_no_keys(issuer: LocalIssuer):
    issuer.metadata_issuer = "https://look-alike.example.com"
    verifier = verifier_for(issuer, jwks_url=None)
    assert await verifier.verify_token(issuer.token()) is None
    assert issuer.jwks_fetches == 0
