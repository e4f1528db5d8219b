"""Signed webhooks from the sandbox to a real loopback receiver (SPEC §2a)."""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx2
import pytest
from starlette.applications import Starlette

from rails_mcp.sandbox import create_app
from rails_mcp.webhooks import SIGNATURE_HEADER, verify
from tests.support.sandbox_support import (
    INSTALL,
    JOB,
    JOB_ID,
    PR1,
    QUICKSTART_SELECTIONS,
    REPAIRER,
    REPAIRER_INTEGRATION,
    REPAIRER_WEBHOOK_SECRET,
    SITE,
    SUPPLIER,
    SUPPLIER_INTEGRATION,
    SUPPLIER_WEBHOOK_SECRET,
    Receiver,
    call,
    free_port,
    headers,
    place_quickstart,
    wait_until,
)

pytestmark = pytest.mark.anyio

FAST_RETRIES = (0.05, 0.1, 0.2, 0.3, 0.5, 0.5, 0.5)
SECRETS = {REPAIRER_INTEGRATION: REPAIRER_WEBHOOK_SECRET, SUPPLIER_INTEGRATION: SUPPLIER_WEBHOOK_SECRET}


@pytest.fixture
def app(db_path: Path) -> Iterator[Starlette]:
    application = create_app(db_path, webhook_backoff=FAST_RETRIES)
    yield application
    application.state.deliverer.stop()


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://sandbox") as c:
        yield c


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(free_port()).start()
    yield r
    r.stop()


#: Each integration manages its own webhook: the dev routes want its credentials.
OWN_CREDENTIALS = {REPAIRER_INTEGRATION: REPAIRER, SUPPLIER_INTEGRATION: SUPPLIER}


async def subscribe(
    client: httpx2.AsyncClient,
    integration_id: str,
    url: str,
    tenant: str | None = "t",
    auth: dict[str, str] | Literal["own"] | None = "own",
) -> httpx2.Response:
    """Subscribe ``url``, by default with the integration's own credentials."""
    sent = OWN_CREDENTIALS.get(integration_id) if auth == "own" else auth
    return await client.post(
        "/__webhooks/subscribe",
        json={"integration_id": integration_id, "url": url},
        headers=headers(sent, tenant),
    )


async def subscribe_both(client: httpx2.AsyncClient, url: str) -> None:
    for integration in (REPAIRER_INTEGRATION, SUPPLIER_INTEGRATION):
        response = await subscribe(client, integration, url)
        assert (response.status_code, response.json()) == (200, {"ok": True})


async def open_new_job(client: httpx2.AsyncClient, external: str = "CCC-2026-05000") -> str:
    body = {"identity": {"external": external}, "repairer_site_id": SITE}
    response = await call(client, "repairer.jobs.insert", body)
    assert response.status_code == 200
    return response.json()["id"]


async def attempt_log(
    client: httpx2.AsyncClient,
    until: Callable[[list[dict[str, Any]]], bool] = lambda items: True,
    tenant: str = "t",
    callers: tuple[dict[str, str], ...] = (REPAIRER,),
) -> list[dict[str, Any]]:
    """``GET /__webhooks/attempts`` of each caller's integration, polled until ``until`` holds (~10 s)."""

    async def read() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for auth in callers:
            response = await client.get("/__webhooks/attempts", headers=headers(auth, tenant))
            items += response.json()["items"]
        return items

    for _ in range(500):
        items = await read()
        if until(items):
            return items
        await anyio.sleep(0.02)
    return await read()


def summary(receiver: Receiver) -> list[tuple[str, str, str]]:
    """(type, integration, change_action or status) of each distinct event, in arrival order."""
    return [
        (
            d.event["type"],
            d.event["integration_id"],
            d.event["data"].get("change_action") or d.event["data"]["status"],
        )
        for d in receiver.unique().values()
    ]


# --- the whole loop -----------------------------------------------------------------------------


async def test_open_place_confirm_delivers_five_signed_events_each_verifying_with_its_secret(
    client: httpx2.AsyncClient, receiver: Receiver
):
    await subscribe_both(client, receiver.url)
    job_id = await open_new_job(client)
    pid = await place_quickstart(client)
    confirmed = await call(client, "supplier.procurements.confirm", {"identity": {"id": pid}}, auth=SUPPLIER)
    assert confirmed.status_code == 200

    assert wait_until(lambda: len(receiver.unique()) >= 5)
    assert sorted(summary(receiver)) == sorted(
        [
            ("repairer.jobs", REPAIRER_INTEGRATION, "inserted"),
            ("repairer.procurements", REPAIRER_INTEGRATION, "order_requested"),
            ("supplier.procurements", SUPPLIER_INTEGRATION, "order_requested"),
            ("repairer.procurements", REPAIRER_INTEGRATION, "order_confirmed"),
            ("supplier.procurements", SUPPLIER_INTEGRATION, "order_confirmed"),
        ]
    )
    now = datetime.now(UTC)
    for delivery in receiver.unique().values():
        event = delivery.event
        secret = SECRETS[event["integration_id"]]
        result = verify(delivery.raw, delivery.headers[SIGNATURE_HEADER], secret)
        assert result.ok, result.reason
        assert not verify(delivery.raw, delivery.headers[SIGNATURE_HEADER], "pwh_" + "0" * 32).ok
        sent = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
        assert sent.tzinfo is not None
        assert abs(now - sent) < timedelta(minutes=5)
        assert set(event) == {"id", "type", "timestamp", "integration_id", "data"}
        if event["type"] == "repairer.jobs":
            assert event["data"] == {"job_id": job_id, "change_action": "inserted"}
        else:
            assert event["data"]["procurement_id"] == pid
            assert event["data"]["job_id"] == JOB_ID


async def test_a_tampered_body_or_a_six_minute_old_delivery_fails_verification(
    client: httpx2.AsyncClient, receiver: Receiver
):
    await subscribe_both(client, receiver.url)
    await open_new_job(client)
    assert wait_until(lambda: len(receiver.unique()) == 1)
    [delivery] = receiver.unique().values()
    signature = delivery.headers[SIGNATURE_HEADER]
    sent = datetime.fromisoformat(delivery.event["timestamp"].replace("Z", "+00:00"))

    assert verify(delivery.raw, signature, REPAIRER_WEBHOOK_SECRET, now=sent).ok
    tampered = delivery.raw.replace(b"inserted", b"updated!")
    assert verify(tampered, signature, REPAIRER_WEBHOOK_SECRET).reason == "bad_signature"
    late = verify(delivery.raw, signature, REPAIRER_WEBHOOK_SECRET, now=sent + timedelta(minutes=6))
    assert (late.ok, late.reason) == (False, "timestamp_too_old")


async def test_reinserting_an_existing_job_sends_an_updated_event(
    client: httpx2.AsyncClient, receiver: Receiver
):
    await subscribe(client, REPAIRER_INTEGRATION, receiver.url)
    body = {"identity": JOB, "repairer_site_id": SITE, "claim_number": "AMI-CLM-771205"}
    assert (await call(client, "repairer.jobs.insert", body)).status_code == 200
    assert wait_until(lambda: len(receiver.unique()) == 1)
    [delivery] = receiver.unique().values()
    assert delivery.event["data"] == {"job_id": JOB_ID, "change_action": "updated"}


async def test_only_subscribed_integrations_receive_and_a_repeat_confirm_fires_nothing(
    client: httpx2.AsyncClient, receiver: Receiver
):
    await subscribe(client, SUPPLIER_INTEGRATION, receiver.url)
    await open_new_job(client)  # a repairer event: nobody subscribed for it
    for _ in range(2):
        confirmed = await call(
            client, "supplier.procurements.confirm", {"identity": {"id": PR1}}, auth=SUPPLIER
        )
        assert confirmed.status_code == 200
    assert wait_until(lambda: len(receiver.unique()) >= 1)
    attempts = await attempt_log(client, callers=(SUPPLIER,))
    assert [(e["type"], e["data"]["status"]) for e in attempts] == [
        ("supplier.procurements", "order_confirmed")
    ]
    assert summary(receiver) == [("supplier.procurements", SUPPLIER_INTEGRATION, "order_confirmed")]


async def test_events_stay_in_their_tenant(client: httpx2.AsyncClient, receiver: Receiver):
    await subscribe(client, REPAIRER_INTEGRATION, receiver.url, tenant="a")
    body = {"identity": {"external": "OTHER-TENANT"}, "repairer_site_id": SITE}
    assert (await call(client, "repairer.jobs.insert", body, tenant="b")).status_code == 200
    assert (await call(client, "repairer.jobs.insert", body, tenant="a")).status_code == 200
    assert wait_until(lambda: len(receiver.unique()) >= 1)
    assert (await client.get("/__webhooks/attempts", headers=headers(REPAIRER, "b"))).json() == {"items": []}
    assert len(receiver.unique()) == 1
    assert receiver.unique().popitem()[1].headers["x-partifact-tenant"] == "a"


# --- a slow or dead receiver --------------------------------------------------------------------


async def test_a_slow_receiver_does_not_hold_up_the_call_that_produced_the_event(
    client: httpx2.AsyncClient, receiver: Receiver
):
    receiver.gate = threading.Event()  # every delivery blocks until released
    await subscribe_both(client, receiver.url)
    try:
        await open_new_job(client)  # answered while the first delivery is still blocked
        pid = await place_quickstart(client)
        confirmed = await call(
            client, "supplier.procurements.confirm", {"identity": {"id": pid}}, auth=SUPPLIER
        )
        assert confirmed.status_code == 200
        assert receiver.unique() == {}
    finally:
        receiver.gate.set()
    assert wait_until(lambda: len(receiver.unique()) == 5)


async def test_with_the_receiver_down_the_call_succeeds_and_the_event_arrives_once_it_is_back(
    client: httpx2.AsyncClient,
):
    port = free_port()
    down = Receiver(port)  # not started: connections are refused
    await subscribe_both(client, down.url)
    job_id = await open_new_job(client)
    pid = await place_quickstart(client)
    assert (await call(client, "repairer.procurements.get", {"identity": {"id": pid}})).status_code == 200

    items = await attempt_log(
        client,
        lambda items: len(items) == 3 and all(e["attempts"] for e in items),
        callers=(REPAIRER, SUPPLIER),
    )
    assert len(items) == 3
    assert all(not e["attempts"][0]["ok"] and e["state"] == "pending" for e in items)
    assert all(e["attempts"][0]["error"] for e in items)

    up = Receiver(port).start()
    try:
        assert wait_until(lambda: len(up.unique()) == 3)
        assert len(up.deliveries) == len(up.unique())  # each event id arrived exactly once
        assert sorted(summary(up)) == sorted(
            [
                ("repairer.jobs", REPAIRER_INTEGRATION, "inserted"),
                ("repairer.procurements", REPAIRER_INTEGRATION, "order_requested"),
                ("supplier.procurements", SUPPLIER_INTEGRATION, "order_requested"),
            ]
        )
        for delivery in up.unique().values():
            assert verify(
                delivery.raw, delivery.headers[SIGNATURE_HEADER], SECRETS[delivery.event["integration_id"]]
            ).ok
        assert any(d.event["data"].get("job_id") == job_id for d in up.deliveries)
        items = await attempt_log(
            client, lambda items: all(e["state"] == "delivered" for e in items), callers=(REPAIRER, SUPPLIER)
        )
        assert all(e["state"] == "delivered" and e["attempts"][-1]["ok"] for e in items)
        assert all(e["attempts"][-1]["status_code"] == 200 for e in items)
        assert all(len(e["attempts"]) >= 2 for e in items)
    finally:
        up.stop()


async def test_retries_stop_after_the_last_attempt_of_the_schedule(db_path: Path):
    app = create_app(db_path, webhook_backoff=(0.01, 0.01))
    try:
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://s") as c:
            refused = Receiver(free_port())  # never started
            await subscribe(c, REPAIRER_INTEGRATION, refused.url)
            await open_new_job(c)
            [event] = await attempt_log(c, lambda items: bool(items) and items[0]["state"] == "failed")
            assert event["state"] == "failed"
            assert [a["attempt"] for a in event["attempts"]] == [1, 2, 3]
            assert event["next_attempt_at"] is None
    finally:
        app.state.deliverer.stop()


async def test_an_event_written_before_a_restart_is_delivered_by_the_next_process(db_path: Path):
    port = free_port()
    first = create_app(db_path, webhook_backoff=(0.2,) * 7)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=first), base_url="http://s") as c:
        await subscribe(c, REPAIRER_INTEGRATION, Receiver(port).url)  # nobody listening yet
        await open_new_job(c)
        await attempt_log(c, lambda items: bool(items) and bool(items[0]["attempts"]))
    first.state.deliverer.stop()  # the first process goes away with the event undelivered
    first.state.sandbox.store.close()

    up = Receiver(port).start()
    second = create_app(db_path, webhook_backoff=FAST_RETRIES)  # no call needed: it resumes
    try:
        assert wait_until(lambda: len(up.unique()) == 1)
        assert summary(up) == [("repairer.jobs", REPAIRER_INTEGRATION, "inserted")]
    finally:
        second.state.deliverer.stop()
        up.stop()


# --- subscribe ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "http://127.0.0.1.nip.io/hook",
        "http://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "ftp://127.0.0.1/hook",
        "http://localhost:notaport/hook",
        "not a url",
    ],
)
async def test_a_url_that_is_not_loopback_is_refused(client: httpx2.AsyncClient, url: str):
    response = await subscribe(client, REPAIRER_INTEGRATION, url)
    assert (response.status_code, response.json()) == (400, {"ok": False, "reason": "url_not_loopback"})


@pytest.mark.parametrize(
    "url",
    ["http://localhost:8080/x", "http://127.0.0.1/x", "http://[::1]:9000/x", "https://[::1]/x"],
)
async def test_each_loopback_host_is_accepted(client: httpx2.AsyncClient, url: str):
    response = await subscribe(client, REPAIRER_INTEGRATION, url)
    assert (response.status_code, response.json()) == (200, {"ok": True})


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"url": "http://127.0.0.1/x"}, "missing_field"),
        ({"integration_id": REPAIRER_INTEGRATION}, "missing_field"),
        ({"integration_id": 7, "url": "http://127.0.0.1/x"}, "bad_body"),
        ([1, 2], "bad_body"),
    ],
)
async def test_a_subscription_missing_a_field_or_of_the_wrong_shape_is_refused(
    client: httpx2.AsyncClient, body: Any, reason: str
):
    response = await client.post("/__webhooks/subscribe", json=body, headers=REPAIRER)
    assert (response.status_code, response.json()) == (400, {"ok": False, "reason": reason})


async def test_an_unparseable_subscription_body_is_bad_body(client: httpx2.AsyncClient):
    response = await client.post("/__webhooks/subscribe", content=b"{nope", headers=REPAIRER)
    assert (response.status_code, response.json()) == (400, {"ok": False, "reason": "bad_body"})


async def test_an_integration_minted_in_one_tenant_cannot_subscribe_in_another(
    client: httpx2.AsyncClient,
):
    minted = (await call(client, "integrations.insert", INSTALL, auth=None, tenant="a")).json()
    auth = {"Authorization": f"Bearer {minted['api_key']}", "Partly-Integration-ID": minted["integration_id"]}
    ok = await subscribe(client, minted["integration_id"], "http://127.0.0.1/x", tenant="a", auth=auth)
    assert ok.status_code == 200
    elsewhere = await subscribe(client, minted["integration_id"], "http://127.0.0.1/x", tenant="b", auth=auth)
    assert (elsewhere.status_code, elsewhere.json()) == (401, {"ok": False, "reason": "unauthorized"})


# --- secrets --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("integration_id", "secret"),
    [(REPAIRER_INTEGRATION, REPAIRER_WEBHOOK_SECRET), (SUPPLIER_INTEGRATION, SUPPLIER_WEBHOOK_SECRET)],
)
async def test_the_secret_route_returns_the_documented_seeded_secrets(
    client: httpx2.AsyncClient, integration_id: str, secret: str
):
    response = await client.post(
        "/__webhooks/secret", json={"integration_id": integration_id}, headers=OWN_CREDENTIALS[integration_id]
    )
    assert response.status_code == 200
    assert response.json() == {"ok": True, "integration_id": integration_id, "secret": secret}


async def test_a_minted_integration_gets_its_own_secret_and_its_events_verify_with_it(
    client: httpx2.AsyncClient, receiver: Receiver
):
    minted = (await call(client, "integrations.insert", INSTALL, auth=None, tenant="m")).json()
    auth = {"Authorization": f"Bearer {minted['api_key']}", "Partly-Integration-ID": minted["integration_id"]}
    got = await client.post(
        "/__webhooks/secret", json={"integration_id": minted["integration_id"]}, headers=headers(auth, "m")
    )
    secret = got.json()["secret"]
    assert re.fullmatch(r"pwh_[0-9a-f]{32}", secret)
    assert secret not in SECRETS.values()
    subscribed = await subscribe(client, minted["integration_id"], receiver.url, tenant="m", auth=auth)
    assert subscribed.status_code == 200
    body = {"identity": {"external": "MINTED-1"}, "repairer_site_id": SITE}
    assert (await call(client, "repairer.jobs.insert", body, auth=auth, tenant="m")).status_code == 200
    assert wait_until(lambda: len(receiver.unique()) == 1)
    [delivery] = receiver.unique().values()
    assert delivery.event["integration_id"] == minted["integration_id"]
    assert verify(delivery.raw, delivery.headers[SIGNATURE_HEADER], secret).ok
    assert not verify(delivery.raw, delivery.headers[SIGNATURE_HEADER], REPAIRER_WEBHOOK_SECRET).ok


async def test_the_secret_route_answers_loopback_callers_only(app: Starlette):
    transport = httpx2.ASGITransport(app=app, client=("203.0.113.9", 4000))
    async with httpx2.AsyncClient(transport=transport, base_url="http://sandbox") as remote:
        response = await remote.post(
            "/__webhooks/secret", json={"integration_id": REPAIRER_INTEGRATION}, headers=REPAIRER
        )
    assert (response.status_code, response.json()) == (403, {"ok": False, "reason": "not_loopback"})


async def test_asking_for_the_secret_of_another_integration_is_forbidden(client: httpx2.AsyncClient):
    response = await client.post(
        "/__webhooks/secret",
        json={"integration_id": "99999999-0000-4000-8000-000000000099"},
        headers=REPAIRER,
    )
    assert (response.status_code, response.json()) == (403, {"ok": False, "reason": "forbidden"})


# --- the reference sink -------------------------------------------------------------------------


async def test_the_sink_verifies_records_and_lists_what_it_received(
    client: httpx2.AsyncClient, receiver: Receiver
):
    await subscribe(client, REPAIRER_INTEGRATION, receiver.url)
    await open_new_job(client)
    assert wait_until(lambda: len(receiver.unique()) == 1)
    [delivery] = receiver.unique().values()
    signed = {SIGNATURE_HEADER: delivery.headers[SIGNATURE_HEADER], "x-partifact-tenant": "t"}

    good = await client.post("/__webhooks/sink", content=delivery.raw, headers=signed)
    again = await client.post("/__webhooks/sink", content=delivery.raw, headers=signed)
    bad = await client.post("/__webhooks/sink", content=delivery.raw + b" ", headers=signed)
    unsigned = await client.post(
        "/__webhooks/sink", content=delivery.raw, headers={"x-partifact-tenant": "t"}
    )
    assert (good.status_code, good.json()["verified"], good.json()["duplicate"]) == (200, True, False)
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    assert (bad.status_code, bad.json()["reason"]) == (401, "bad_signature")
    assert (unsigned.status_code, unsigned.json()["reason"]) == (401, "missing_signature")

    listed = (await client.get("/__webhooks/sink", headers={"x-partifact-tenant": "t"})).json()["items"]
    assert [(i["verified"], i["reason"], i["duplicate"]) for i in listed] == [
        (True, None, False),
        (True, None, True),
        (False, "bad_signature", False),
        (False, "missing_signature", False),
    ]
    assert {i["id"] for i in listed} == {delivery.event["id"]}
    assert (await client.get("/__webhooks/sink", headers={"x-partifact-tenant": "u"})).json() == {"items": []}


def test_the_served_sandbox_delivers_to_its_own_sink_which_verifies_each_event(db_path: Path):
    """Served over HTTP (lifespan on): subscribe the sink itself, run the loop, read the sink."""
    import uvicorn

    port = free_port()
    app = create_app(db_path, webhook_backoff=FAST_RETRIES)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: server.started)
        base = f"http://127.0.0.1:{port}"
        tenant = {"x-partifact-tenant": "sink"}
        with httpx2.Client(base_url=base, headers=tenant) as http:
            for integration in (REPAIRER_INTEGRATION, SUPPLIER_INTEGRATION):
                r = http.post(
                    "/__webhooks/subscribe",
                    json={"integration_id": integration, "url": f"{base}/__webhooks/sink"},
                    headers=OWN_CREDENTIALS[integration],
                )
                assert r.status_code == 200
            place = http.post(
                "/api/2026-01/repairer.procurements.insert",
                json={"job_identity": JOB, "offer_selections": QUICKSTART_SELECTIONS},
                headers={
                    "Authorization": "Bearer partly_demo_repairer_3f8a1c0d9e2b4a67b1c2",
                    "Partly-Integration-ID": REPAIRER_INTEGRATION,
                },
            )
            assert place.status_code == 200
            pid = place.json()["procurement"]["id"]
            confirm = http.post(
                "/api/2026-01/supplier.procurements.confirm", json={"identity": {"id": pid}}, headers=SUPPLIER
            )
            assert confirm.status_code == 200

            def listed() -> list[dict[str, Any]]:
                return http.get("/__webhooks/sink").json()["items"]

            assert wait_until(lambda: len(listed()) == 4)
            items = listed()
            assert all(i["verified"] and i["reason"] is None for i in items)
            assert sorted(i["type"] for i in items) == sorted(
                ["repairer.procurements", "supplier.procurements"] * 2
            )
    finally:
        server.should_exit = True
        thread.join(10)


# --- who may call the dev routes: an integration manages only its own webhook --------------------

UNAUTHORIZED = (401, {"ok": False, "reason": "unauthorized"})
FORBIDDEN = (403, {"ok": False, "reason": "forbidden"})


def answer(response: httpx2.Response) -> tuple[int, object]:
    return response.status_code, response.json()


# --- subscribe and secret need the integration's own credentials ---------------------------------


async def test_subscribing_without_credentials_is_unauthorized_and_changes_nothing(
    client: httpx2.AsyncClient, receiver: Receiver
):
    assert answer(await subscribe(client, REPAIRER_INTEGRATION, receiver.url, auth=REPAIRER)) == (
        200,
        {"ok": True},
    )
    hijack = Receiver(free_port()).start()
    try:
        refused = await subscribe(client, REPAIRER_INTEGRATION, hijack.url, auth=None)
        wrong_key = await subscribe(
            client,
            REPAIRER_INTEGRATION,
            hijack.url,
            auth={**REPAIRER, "Authorization": "Bearer partly_guess"},
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
    assert answer(await subscribe(client, REPAIRER_INTEGRATION, receiver.url, auth=REPAIRER))[0] == 200
    hijack = Receiver(free_port()).start()
    try:
        assert answer(await subscribe(client, REPAIRER_INTEGRATION, hijack.url, auth=SUPPLIER)) == FORBIDDEN
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
        assert answer(await subscribe(client, integration, receiver.url, auth=auth))[0] == 200
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
    response = await subscribe(client, REPAIRER_INTEGRATION, url, auth=REPAIRER)
    assert answer(response) == (400, {"ok": False, "reason": "url_not_loopback"})
