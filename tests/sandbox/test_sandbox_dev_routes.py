"""Who may call the sandbox's ``/__webhooks/*`` dev routes: an integration manages only its own webhook."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import pytest
from starlette.applications import Starlette

from rails_mcp.sandbox import create_app
from tests.support.sandbox_support import (
    REPAIRER,
    REPAIRER_INTEGRATION,
    REPAIRER_WEBHOOK_SECRET,
    SUPPLIER,
    SUPPLIER_INTEGRATION,
    Receiver,
    free_port,
    headers,
    place_quickstart,
    wait_until,
)

pytestmark = pytest.mark.anyio

FAST_RETRIES = (0.05, 0.1, 0.2)
UNAUTHORIZED = (401, {"ok": False, "reason": "unauthorized"})
FORBIDDEN = (403, {"ok": False, "reason": "forbidden"})


@pytest.fixture
def app(db_path: Path) -> Iterator[Starlette]:
    application = create_app(db_path, webhook_backoff=FAST_RETRIES)
    yield application
    application.state.deliverer.stop()


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx2.AsyncClient(transport=transport, base_url="http://sandbox") as c:
        yield c


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(free_port()).start()
    yield r
    r.stop()


def answer(response: httpx2.Response) -> tuple[int, object]:
    return response.status_code, response.json()


async def subscribe(
    client: httpx2.AsyncClient, integration_id: str, url: str, auth: dict[str, str] | None
) -> httpx2.Response:
    body = {"integration_id": integration_id, "url": url}
    return await client.post("/__webhooks/subscribe", json=body, headers=headers(auth, "t"))


# --- subscribe and secret need the integration's own credentials ---------------------------------


async def test_subscribing_without_credentials_is_unauthorized_and_changes_nothing(
    client: httpx2.AsyncClient, receiver: Receiver
):
    assert answer(await subscribe(client, REPAIRER_INTEGRATION, receiver.url, REPAIRER)) == (
        200,
        {"ok": True},
    )
    hijack = Receiver(free_port()).start()
    try:
        refused = await subscribe(client, REPAIRER_INTEGRATION, hijack.url, None)
        wrong_key = await subscribe(
            client, REPAIRER_INTEGRATION, hijack.url, {**REPAIRER, "Authorization": "Bearer partly_guess"}
        )
        assert answer(refused) == UNAUTHORIZED
        assert answer(wrong_key) == UNAUTHORIZED
        await place_quickstart(client)
        assert wait_until(lambda: len(receiver.unique()) == 1)
        assert hijack.deliveries == []
    finally:
        hijack.stop()


async def test_one_integration_cannot_re_point_another_integrations_webhook(
    client: httpx2.AsyncClient, receiver: Receiver
):
    assert answer(await subscribe(client, REPAIRER_INTEGRATION, receiver.url, REPAIRER))[0] == 200
    hijack = Receiver(free_port()).start()
    try:
        assert answer(await subscribe(client, REPAIRER_INTEGRATION, hijack.url, SUPPLIER)) == FORBIDDEN
        await place_quickstart(client)
        assert wait_until(lambda: len(receiver.unique()) == 1)
        assert hijack.deliveries == []
    finally:
        hijack.stop()


async def test_the_secret_is_handed_only_to_the_integration_it_signs_for(client: httpx2.AsyncClient):
    body = {"integration_id": REPAIRER_INTEGRATION}
    anonymous = await client.post("/__webhooks/secret", json=body, headers=headers(None, "t"))
    other = await client.post("/__webhooks/secret", json=body, headers=headers(SUPPLIER, "t"))
    own = await client.post("/__webhooks/secret", json=body, headers=headers(REPAIRER, "t"))
    assert answer(anonymous) == UNAUTHORIZED
    assert answer(other) == FORBIDDEN
    assert REPAIRER_WEBHOOK_SECRET not in anonymous.text + other.text
    assert answer(own) == (
        200,
        {"ok": True, "integration_id": REPAIRER_INTEGRATION, "secret": REPAIRER_WEBHOOK_SECRET},
    )


# --- the attempt log shows the caller's own integration only -------------------------------------


async def test_the_attempt_log_shows_only_the_calling_integrations_events(
    client: httpx2.AsyncClient, receiver: Receiver
):
    for auth, integration in ((REPAIRER, REPAIRER_INTEGRATION), (SUPPLIER, SUPPLIER_INTEGRATION)):
        assert answer(await subscribe(client, integration, receiver.url, auth))[0] == 200
    await place_quickstart(client)  # one buyer event and one supplier event
    assert wait_until(lambda: len(receiver.unique()) == 2)

    async def log_of(auth: dict[str, str] | None) -> httpx2.Response:
        return await client.get("/__webhooks/attempts", headers=headers(auth, "t"))

    repairer_items = (await log_of(REPAIRER)).json()["items"]
    supplier_items = (await log_of(SUPPLIER)).json()["items"]
    assert [i["integration_id"] for i in repairer_items] == [REPAIRER_INTEGRATION]
    assert [i["integration_id"] for i in supplier_items] == [SUPPLIER_INTEGRATION]
    assert answer(await log_of(None)) == UNAUTHORIZED


# --- a proxy in front makes "loopback" meaningless -----------------------------------------------


@pytest.mark.parametrize(
    "proxy_header",
    [
        {"Forwarded": "for=203.0.113.9"},
        {"X-Forwarded-For": "203.0.113.9"},
        {"X-Forwarded-Host": "sandbox.example"},
        {"X-Real-IP": "203.0.113.9"},
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/__webhooks/subscribe"),
        ("POST", "/__webhooks/secret"),
        ("POST", "/__webhooks/sink"),
        ("GET", "/__webhooks/sink"),
        ("GET", "/__webhooks/attempts"),
    ],
)
async def test_every_dev_route_refuses_a_proxied_request(
    client: httpx2.AsyncClient, method: str, path: str, proxy_header: dict[str, str]
):
    body = {"integration_id": REPAIRER_INTEGRATION, "url": "http://127.0.0.1:9/x"}
    response = await client.request(
        method,
        path,
        json=body if method == "POST" else None,
        headers={**headers(REPAIRER, "t"), **proxy_header},
    )
    assert answer(response) == (403, {"ok": False, "reason": "proxied_request"})
    assert REPAIRER_WEBHOOK_SECRET not in response.text


# --- only canonical loopback URLs ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://0.0.0.0:9000/x",
        "http://LOCALHOST:9000/x",
        "http://LocalHost/x",
        "http://user@127.0.0.1/x",
        "http://user:pass@localhost/x",
        "http://127.0.0.1/x#fragment",
        "http://127.0.0.1/x#",
        " http://127.0.0.1/x",
        "http://127.0.0.1/x ",
        "http://127.0.0.1/a b",
        "http://127.0.0.1/x\n",
        "http://127.0.0.1\t/x",
        "http://[::ffff:127.0.0.1]/x",
        "HTTP://127.0.0.1/x",
    ],
)
async def test_a_url_that_is_not_a_canonical_loopback_url_is_refused(client: httpx2.AsyncClient, url: str):
    response = await subscribe(client, REPAIRER_INTEGRATION, url, REPAIRER)
    assert answer(response) == (400, {"ok": False, "reason": "url_not_loopback"})
