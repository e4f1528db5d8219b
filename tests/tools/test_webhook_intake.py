"""The order history shows only what the wire says, and the receiver holds to its limits.

A refused delivery is counted and logged, never stored; a verified one is a hint to re-read
the order by id, so the history carries the wire's status, not the payload's; the history
is bounded; the loopback receiver refuses oversized heads and malformed lengths.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.server import Server

from rails_mcp.config import DEMO_REPAIRER
from rails_mcp.hosting import open_server
from rails_mcp.resources import ResourceHub, WebhookReceiver
from rails_mcp.resources import hub as hub_module
from rails_mcp.resources.events import MAX_BYTES_PER_PROCUREMENT, EventLog, ProcurementEvent
from rails_mcp.server import build_server
from rails_mcp.tools import Rails
from rails_mcp.wire.webhooks import SIGNATURE_HEADER, rfc3339, sign
from tests.support.mcp_support import settings_for
from tests.support.sandbox_support import JOB_EXTERNAL, PR1, REPAIRER_WEBHOOK_SECRET
from tests.tools.test_resources import rails_client

pytestmark = pytest.mark.anyio

PR1_URI = f"rails://procurements/{PR1}"


def delivery(*, status: str = "order_confirmed", padding: int = 0, event_id: str | None = None) -> bytes:
    """A repairer.procurements envelope about PR-1 that claims ``status`` (and carries ``padding``)."""
    data: dict[str, Any] = {"procurement_id": PR1, "status": status}
    if padding:
        data["status"] = status + " " * padding
        data["note"] = "x" * padding
    return json.dumps(
        {
            "id": event_id or str(uuid4()),
            "type": "repairer.procurements",
            "timestamp": rfc3339(datetime.now(UTC)),
            "integration_id": DEMO_REPAIRER[1],
            "data": data,
        }
    ).encode()


@asynccontextmanager
async def receiving(tmp_path: Path) -> AsyncIterator[tuple[Client, ResourceHub, str]]:
    """The full server over the sandbox, its hub holding the demo secret, and a running receiver."""
    rails = Rails(rails_client(tmp_path))
    hub = ResourceHub(rails.client)
    hub.set_webhook_secrets([REPAIRER_WEBHOOK_SECRET])
    server = build_server(rails, hub=hub)
    try:
        async with Client(server, mode="legacy") as client, anyio.create_task_group() as tg:
            url: str = await tg.start(WebhookReceiver(hub).serve)
            yield client, hub, url
            tg.cancel_scope.cancel()
    finally:
        await rails.client.aclose()


async def events_of(client: Client) -> dict[str, Any]:
    tracked = await client.call_tool("track_procurement", {"procurement_id": PR1})
    assert not tracked.is_error, tracked.structured_content
    return tracked.structured_content or {}


async def test_an_unsigned_or_badly_signed_delivery_is_counted_and_logged_but_never_stored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    async with receiving(tmp_path) as (client, hub, url):
        raw = delivery(status="cancelled")
        with caplog.at_level("INFO", logger="rails_mcp.resources"):
            async with httpx2.AsyncClient() as http:
                unsigned = await http.post(url, content=raw)
                forged = await http.post(url, content=raw, headers={SIGNATURE_HEADER: sign(raw, "pwh_guess")})
        assert (unsigned.status_code, forged.status_code) == (401, 401)
        tracked = await events_of(client)
        events = (await client.read_resource(f"{PR1_URI}/events", cache_mode="bypass")).contents[0]
    assert tracked.get("events", []) == []
    assert json.loads(events.text)["events"] == []  # type: ignore[union-attr]
    assert hub.intake.refused == {"missing_signature": 1, "bad_signature": 1}
    assert "webhook refused (missing_signature)" in caplog.text
    assert "webhook refused (bad_signature)" in caplog.text


async def test_a_demo_signed_delivery_claiming_a_status_the_wire_contradicts_shows_the_wires_status(
    tmp_path: Path,
):
    """Anyone can sign with the public demo secret; the history still says what the wire says."""
    async with receiving(tmp_path) as (client, _, url):
        raw = delivery(status="cancelled")
        async with httpx2.AsyncClient() as http:
            answer = await http.post(
                url, content=raw, headers={SIGNATURE_HEADER: sign(raw, REPAIRER_WEBHOOK_SECRET)}
            )
        assert answer.status_code == 200
        tracked = await events_of(client)
    assert tracked["procurement"]["status"] == "order_requested"
    assert [(e["source"], e["verification"], e["status"]) for e in tracked["events"]] == [
        ("webhook", "verified", "order_requested")
    ]
    assert "cancelled" not in json.dumps(tracked)


async def test_fifty_deliveries_of_sixty_kib_keep_track_procurements_result_small(tmp_path: Path):
    async with receiving(tmp_path) as (client, _, url):
        async with httpx2.AsyncClient() as http:
            for _ in range(50):
                raw = delivery(padding=60 * 1024)
                answer = await http.post(
                    url, content=raw, headers={SIGNATURE_HEADER: sign(raw, REPAIRER_WEBHOOK_SECRET)}
                )
                assert answer.status_code == 200
        tracked = await client.call_tool("track_procurement", {"procurement_id": PR1})
    size = len(json.dumps(tracked.structured_content)) + sum(
        len(getattr(b, "text", "")) for b in tracked.content
    )
    assert size < 2 * MAX_BYTES_PER_PROCUREMENT + 8192
    assert len((tracked.structured_content or {})["events"]) == 50


def test_the_history_drops_the_oldest_past_its_count_or_bytes_and_says_how_many():
    def event(n: int, action: str = "placed") -> ProcurementEvent:
        return ProcurementEvent(at=f"t{n}", source="server_write", action=action, verification="server_write")

    pid = uuid4()
    by_count = EventLog(max_events=3)
    for n in range(5):
        by_count.record(pid, event(n))
    kept = by_count.history(pid)
    assert ([e.at for e in kept.events], kept.truncated) == (["t2", "t3", "t4"], 2)

    by_bytes = EventLog(max_bytes=1000)
    for n in range(10):
        by_bytes.record(pid, event(n, action="a" * 300))
    kept = by_bytes.history(pid)
    assert sum(len(e.model_dump_json()) for e in kept.events) <= 1000
    assert kept.truncated == 10 - len(kept.events) > 0
    assert kept.events[-1].at == "t9"
    assert EventLog().history(UUID(PR1)).truncated == 0


async def test_track_procurement_says_when_the_history_was_truncated(tmp_path: Path):
    async with receiving(tmp_path) as (client, hub, _):
        for _ in range(55):
            await hub.notify_procurement_changed(UUID(PR1), action="confirmed", status="order_confirmed")
        tracked = await events_of(client)
    assert (len(tracked["events"]), tracked["events_truncated"]) == (50, 5)


# --- the receiver's HTTP limits ----------------------------------------------------------------


async def raw_exchange(url: str, request: bytes, *, chunk: int | None = None) -> bytes:
    """Send ``request`` bytes as they are (in ``chunk``-sized writes) and read the answer."""
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    answer = b""
    with anyio.fail_after(5):
        async with await anyio.connect_tcp(host, int(port)) as stream:
            step = chunk or len(request)
            for start in range(0, len(request), step):
                await stream.send(request[start : start + step])
                if chunk:
                    await anyio.sleep(0.001)
            try:
                while not answer.endswith(b"}") or b"\r\n\r\n" not in answer:
                    answer += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                pass
    return answer


async def test_the_receiver_answers_a_non_numeric_content_length_with_400(tmp_path: Path):
    async with receiving(tmp_path) as (client, _, url):
        answer = await raw_exchange(
            url, b"POST /webhooks HTTP/1.1\r\nHost: localhost\r\nContent-Length: 12abc\r\n\r\n{}"
        )
        tracked = await events_of(client)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert tracked.get("events", []) == []


@pytest.mark.parametrize("chunk", [None, 1024], ids=["one-write", "trickled"])
async def test_the_receiver_refuses_a_head_over_sixteen_kib(tmp_path: Path, chunk: int | None):
    async with receiving(tmp_path) as (client, _, url):
        raw = delivery(status="order_confirmed")
        head = (
            f"POST /webhooks HTTP/1.1\r\nHost: localhost\r\nX-Filler: {'a' * 17 * 1024}\r\n"
            f"{SIGNATURE_HEADER}: {sign(raw, REPAIRER_WEBHOOK_SECRET)}\r\nContent-Length: {len(raw)}\r\n\r\n"
        )
        answer = await raw_exchange(url, head.encode() + raw, chunk=chunk)
        small = head.replace("a" * 17 * 1024, "a" * 1024)
        accepted = await raw_exchange(url, small.encode() + raw)
        tracked = await events_of(client)
    assert answer.split(b" ")[1] in (b"400", b"431")
    assert accepted.startswith(b"HTTP/1.1 200 ")
    assert len(tracked["events"]) == 1  # the small one only


# --- no sandbox-only value against a real API; listen streams end at shutdown -------------------


async def test_by_default_the_scenario_shows_only_jobs_this_server_has_seen(tmp_path: Path):
    """The demo job is the embedded sandbox's; a hub not told it is there never asks for it."""
    rails = rails_client(tmp_path)
    try:
        hub = ResourceHub(rails)
        assert (await hub.scenario())["jobs"] == []
        await hub.read(f"rails://jobs/{JOB_EXTERNAL}")
        assert [j["job"]["external_id"] for j in (await hub.scenario())["jobs"]] == [JOB_EXTERNAL]
    finally:
        await rails.aclose()


@pytest.mark.parametrize(("base_url", "shown"), [(None, [JOB_EXTERNAL]), ("http://rails.example", [])])
def test_the_served_hub_names_the_demo_job_only_when_the_embedded_sandbox_is_the_wire(
    tmp_path: Path, base_url: str | None, shown: list[str]
):
    settings = settings_for(tmp_path, tenant="seed", base_url=base_url)
    seen: list[ResourceHub] = []
    real = hub_module.ResourceHub.register

    def spy(self: ResourceHub, server: Any) -> None:
        seen.append(self)
        real(self, server)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hub_module.ResourceHub, "register", spy)
        open_server(settings, transport="in-memory")
    (hub,) = seen
    assert ([hub.readers.seeded_job] if hub.readers.seeded_job else []) == shown


async def test_listen_streams_are_closed_when_the_last_server_lifespan_ends(tmp_path: Path):
    rails = rails_client(tmp_path)
    hub = ResourceHub(rails)
    server: Server[Any] = Server("rails-mcp-test")
    hub.register(server)
    closed: list[int] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hub.subscriptions, "close", lambda: closed.append(1))
        try:
            async with server.lifespan(server):  # a per-connection transport: two connections
                async with server.lifespan(server):
                    pass
                assert closed == []  # one connection ended, the other still listens
            assert closed == [1]
            async with Client(server, mode="2026-07-28") as client:
                await client.list_resources()
                assert closed == [1]
            assert closed == [1, 1]
        finally:
            await rails.aclose()


async def test_the_receiver_refuses_a_body_over_its_cap_unread(tmp_path: Path):
    async with receiving(tmp_path) as (client, _, url):
        raw = delivery(padding=300 * 1024)
        async with httpx2.AsyncClient() as http:
            answer = await http.post(
                url, content=raw, headers={SIGNATURE_HEADER: sign(raw, REPAIRER_WEBHOOK_SECRET)}
            )
        tracked = await events_of(client)
    assert (answer.status_code, answer.json()["reason"]) == (413, "body_too_large")
    assert tracked.get("events", []) == []
