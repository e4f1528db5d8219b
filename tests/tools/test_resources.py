"""Resources, templates, the get_started prompt, subscriptions and procurement event history.

Served by a bare SDK ``Server`` with only the hub registered, over the embedded sandbox
in-process, in both protocol eras (2025-11-25 initialize, 2026-07-28 discover).
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio
import httpx2
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.session import IncomingMessage
from mcp.server import Server
from mcp_types import EmbeddedResource, ResourceUpdatedNotification, TextResourceContents, Tool

from rails_mcp.client import Credentials, RailsClient
from rails_mcp.config import DEMO_REPAIRER, DEMO_SUPPLIER
from rails_mcp.resources import (
    SCENARIO_URI,
    ResourceHub,
    WebhookReceiver,
    install_webhook_receiver,
    receive_webhooks,
)
from rails_mcp.sandbox import create_app
from rails_mcp.server import build_server
from rails_mcp.tools import Rails
from rails_mcp.wire import models as m
from rails_mcp.wire.models import EXTENSION_BANNER
from rails_mcp.wire.webhooks import SIGNATURE_HEADER, rfc3339, sign
from tests.support.mcp_support import check_result
from tests.support.process_support import clean_env, free_port, running
from tests.support.sandbox_support import JOB_EXTERNAL, PR1, QUICKSTART_SELECTIONS, S1

pytestmark = [
    pytest.mark.anyio,
    # The 2025-11-25 subscribe verbs are what a legacy client uses; the SDK flags them as removed in 2026.
    pytest.mark.filterwarnings("ignore:resources/(un)?subscribe is removed"),
]

ERAS = ("legacy", "2026-07-28")
SECRET = "pwh_3f8a1c0d9e2b4a67b1c2d4e6f8a0b2c4"
PR1_URI = f"rails://procurements/{PR1}"


@dataclass
class World:
    client: Client
    hub: ResourceHub
    rails: RailsClient
    updates: list[str]
    arrived: anyio.Event

    async def updated(self, *uris: str) -> None:
        """Wait (at most 2 s, the promise) until every one of ``uris`` was announced."""
        with anyio.fail_after(2):
            while not set(uris) <= set(self.updates):
                await self.arrived.wait()
                self.arrived = anyio.Event()

    async def read_json(self, uri: str) -> Any:
        result = await self.client.read_resource(uri, cache_mode="bypass")
        block = result.contents[0]
        assert isinstance(block, TextResourceContents)
        assert block.mime_type == "application/json"
        return json.loads(block.text)


def rails_client(tmp_path: Path) -> RailsClient:
    app = create_app(tmp_path / "s.db", idle_reset_seconds=None)
    return RailsClient(
        base_url="http://embedded.invalid",
        repairer=Credentials(*DEMO_REPAIRER),
        supplier=Credentials(*DEMO_SUPPLIER),
        tenant="t1",
        # A loopback caller, as the dev route /__webhooks/secret requires.
        transport=httpx2.ASGITransport(app=app, client=("127.0.0.1", 50000)),
    )


@asynccontextmanager
async def world(tmp_path: Path, mode: str) -> AsyncIterator[World]:
    rails = rails_client(tmp_path)
    hub = ResourceHub(rails, seeded_job=JOB_EXTERNAL)  # the sandbox is the wire: its demo job exists
    server: Server[Any] = Server("rails-mcp-test")
    hub.register(server)
    updates: list[str] = []
    holder: list[World] = []

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            updates.append(message.params.uri)
            if holder:
                holder[0].arrived.set()

    try:
        async with Client(server, mode=mode, message_handler=on_message) as client:
            holder.append(World(client, hub, rails, updates, anyio.Event()))
            yield holder[0]
    finally:
        await rails.aclose()


async def confirm_pr1(w: World) -> None:
    """The supplier confirms PR-1 on the wire, and the server records its own write."""
    await w.rails.supplier.procurements.confirm(identity=m.IdIdentity(id=UUID(PR1)))
    await w.hub.notify_procurement_changed(UUID(PR1), action="confirmed", status="order_confirmed")


@pytest.mark.parametrize("era", ERAS)
async def test_resources_and_templates_list_at_least_eight_entries_each_described_with_type_and_cache_hints(
    tmp_path: Path, era: str
):
    async with world(tmp_path, era) as w:
        resources = (await w.client.list_resources()).resources
        templates = (await w.client.list_resource_templates()).resource_templates
        assert len(resources) + len(templates) >= 8
        uris = {r.uri for r in resources}
        assert {"guide://lifecycle", SCENARIO_URI} <= uris
        assert {t.uri_template for t in templates} >= {
            "rails://jobs/{external}",
            "rails://jobs/{external}/parts{?limit,cursor}",
            "rails://jobs/{external}/basket",
            "rails://procurements/{id}",
            "rails://procurements/{id}/invoices{?limit,cursor}",
        }
        for entry in [*resources, *templates]:
            assert entry.description
            assert entry.title
            assert entry.mime_type
            assert entry.annotations is not None
            assert entry.annotations.priority is not None
            assert entry.meta is not None
            assert "ttlMs" in entry.meta["rails-mcp/cache"]


@pytest.mark.parametrize("era", ["legacy", "auto"])
async def test_capabilities_advertise_resources_with_subscribe_and_prompts(tmp_path: Path, era: str):
    """``auto`` probes server/discover, so the 2026-07-28 capabilities are the server's own."""
    async with world(tmp_path, era) as w:
        assert w.client.protocol_version == ("2025-11-25" if era == "legacy" else "2026-07-28")
        caps = w.client.server_capabilities
        assert caps.resources is not None
        assert caps.resources.subscribe
        assert caps.prompts is not None


async def test_lifecycle_guide_explains_the_loop_the_guard_the_banner_and_approval(tmp_path: Path):
    async with world(tmp_path, "legacy") as w:
        result = await w.client.read_resource("guide://lifecycle")
        block = result.contents[0]
        assert isinstance(block, TextResourceContents)
        assert block.mime_type == "text/markdown"
        text = block.text
        for needle in ("open_repair_job", "ready_selection", "confirm_procurement", "reconcile_invoice"):
            assert needle in text
        assert "single-confirmable-supplier guard" in text
        assert EXTENSION_BANNER in text
        assert "approval" in text


@pytest.mark.parametrize("era", ERAS)
async def test_scenario_shows_the_seeded_job_its_parts_the_confirmable_supplier_and_pr1(
    tmp_path: Path, era: str
):
    async with world(tmp_path, era) as w:
        scenario = await w.read_json(SCENARIO_URI)
        assert [b["id"] for b in scenario["confirmable_suppliers"]] == [S1]
        (job,) = scenario["jobs"]
        assert job["job"]["external_id"] == JOB_EXTERNAL
        assert job["parts"] == {"estimated": 5, "ordered": 1, "not_confirmable": 3}
        assert job["ready_order"] == {"offers": 2, "total": "1099.00"}
        assert job["procurements"] == {"order_requested": 1}
        (pr1,) = job["awaiting_confirmation"]
        assert (pr1["reference"], pr1["confirmable"], pr1["total"]) == ("PR-1", True, "512.00")
        assert job["needs_action"]
        assert job["resources"]["parts"] == f"rails://jobs/{JOB_EXTERNAL}/parts"
        assert scenario["totals"]["jobs_needing_action"] == 1


async def test_scenario_reflects_an_order_placed_and_confirmed(tmp_path: Path):
    async with world(tmp_path, "legacy") as w:
        placed = await w.rails.repairer.procurements.insert(
            job_identity=m.ExternalIdentity(external=JOB_EXTERNAL),
            offer_selections=[m.OfferSelectionV1.model_validate(s) for s in QUICKSTART_SELECTIONS],
        )
        pid = placed.procurement.id
        await w.hub.notify_procurement_changed(pid, action="placed", status="order_requested")
        await w.rails.supplier.procurements.confirm(identity=m.IdIdentity(id=pid))
        await w.hub.notify_procurement_changed(pid, action="confirmed", status="order_confirmed")
        (job,) = (await w.read_json(SCENARIO_URI))["jobs"]
        assert job["procurements"] == {"order_requested": 1, "order_confirmed": 1}
        assert str(pid) not in [p["id"] for p in job["awaiting_confirmation"]]
        assert job["ready_order"] is None
        invoices = await w.read_json(f"rails://procurements/{pid}/invoices")
        (invoice,) = invoices["invoices"]
        assert (invoice["total"], invoice["status"], invoice["all_lines_matched"]) == (
            "1099.00",
            "reconciled",
            True,
        )


@pytest.mark.parametrize("era", ERAS)
async def test_job_templates_read_the_job_its_parts_and_its_basket_from_the_wire(tmp_path: Path, era: str):
    async with world(tmp_path, era) as w:
        job = await w.read_json(f"rails://jobs/{JOB_EXTERNAL}")
        assert job["claim_number"] == "AMI-CLM-771204"
        parts = await w.read_json(f"rails://jobs/{JOB_EXTERNAL}/parts")
        assert parts["counts"] == {"estimated": 5, "ordered": 1}
        basket = await w.read_json(f"rails://jobs/{JOB_EXTERNAL}/basket")
        confirmable = [s["name"] for s in basket["suppliers"] if s["confirmable"]]
        assert confirmable == ["Christchurch Toyota — Parts"]
        assert basket["ready_order"]["total"] == "1099.00"


@pytest.mark.parametrize("era", ERAS)
async def test_reading_an_unknown_job_or_a_malformed_id_is_an_invalid_params_error_that_says_what_to_use(
    tmp_path: Path, era: str
):
    async with world(tmp_path, era) as w:
        with pytest.raises(MCPError) as missing:
            await w.client.read_resource("rails://jobs/NO-SUCH-JOB")
        assert "scenario://current" in missing.value.message
        with pytest.raises(MCPError) as malformed:
            await w.client.read_resource("rails://procurements/not-a-uuid")
        assert "UUID" in malformed.value.message
        with pytest.raises(MCPError) as unknown:
            await w.client.read_resource("rails://nothing/here")
        assert "resources/list" in unknown.value.message


@pytest.mark.parametrize("era", ERAS)
async def test_get_started_prompt_orients_with_the_loop_and_the_live_scenario(tmp_path: Path, era: str):
    async with world(tmp_path, era) as w:
        (prompt,) = (await w.client.list_prompts()).prompts
        assert prompt.name == "get_started"
        assert prompt.description
        got = await w.client.get_prompt("get_started", {"goal": "order the Corolla's parts"})
        briefing, live = got.messages
        text = briefing.content.text  # type: ignore[union-attr]
        assert "place_procurement" in text
        assert "order the Corolla's parts" in text
        assert isinstance(live.content, EmbeddedResource)  # the wire's data, beside the briefing
        assert str(live.content.resource.uri) == SCENARIO_URI
        scenario = live.content.resource.text  # type: ignore[union-attr]
        assert "1099.00" in scenario
        assert "PR-1" in scenario


async def test_a_legacy_subscriber_of_a_procurement_is_told_when_it_is_confirmed(tmp_path: Path):
    async with world(tmp_path, "legacy") as w:
        await w.client.subscribe_resource(PR1_URI)
        await w.client.subscribe_resource(SCENARIO_URI)
        await confirm_pr1(w)
        await w.updated(PR1_URI, SCENARIO_URI)
        procurement = await w.read_json(PR1_URI)
        assert procurement["status"] == "order_confirmed"


async def test_an_unsubscribed_legacy_client_hears_nothing(tmp_path: Path):
    async with world(tmp_path, "legacy") as w:
        await w.client.subscribe_resource(PR1_URI)
        await w.client.unsubscribe_resource(PR1_URI)
        await w.client.subscribe_resource(SCENARIO_URI)
        await confirm_pr1(w)
        await w.updated(SCENARIO_URI)
        assert PR1_URI not in w.updates


async def test_a_listen_subscriber_of_a_procurement_is_told_when_it_is_confirmed(tmp_path: Path):
    async with world(tmp_path, "2026-07-28") as w:
        async with w.client.listen(resource_subscriptions=[PR1_URI]) as sub:
            await confirm_pr1(w)
            with anyio.fail_after(2):
                event = await anext(sub)
        assert getattr(event, "uri", None) == PR1_URI


async def test_subscribing_to_a_uri_that_names_no_resource_is_accepted_and_stays_silent(tmp_path: Path):
    """As the SDK's listen handler does (and the conformance suite's resources-subscribe expects)."""
    async with world(tmp_path, "legacy") as w:
        await w.client.subscribe_resource("test://watched-resource")
        await w.client.subscribe_resource(SCENARIO_URI)
        await confirm_pr1(w)
        await w.updated(SCENARIO_URI)
        await w.client.unsubscribe_resource("test://watched-resource")
        assert "test://watched-resource" not in w.updates


async def test_procurement_history_records_server_writes_and_verified_webhooks_once_each(tmp_path: Path):
    async with world(tmp_path, "legacy") as w:
        w.hub.set_webhook_secrets([SECRET])
        await confirm_pr1(w)
        now = datetime.now(UTC)
        envelope = {
            "id": "5e000000-0000-4000-8000-000000000001",
            "type": "repairer.procurements",
            "timestamp": rfc3339(now),
            "integration_id": DEMO_REPAIRER[1],
            "data": {"procurement_id": PR1, "status": "order_confirmed"},
        }
        raw = json.dumps(envelope).encode()
        assert (await w.hub.receive_webhook(raw, sign(raw, SECRET))).verified
        again = await w.hub.receive_webhook(raw, sign(raw, SECRET))
        assert again.verified
        assert again.duplicate
        stale = json.dumps(
            {
                **envelope,
                "id": "5e000000-0000-4000-8000-000000000002",
                "timestamp": rfc3339(now - timedelta(minutes=6)),
            }
        ).encode()
        refused = await w.hub.receive_webhook(stale, sign(stale, SECRET))
        assert (refused.verified, refused.reason) == (False, "timestamp_too_old")
        forged = await w.hub.receive_webhook(raw.replace(b"confirmed", b"cancelled"), sign(raw, SECRET))
        assert (forged.verified, forged.reason) == (False, "bad_signature")
        events = (await w.read_json(f"{PR1_URI}/events"))["events"]
        assert [(e["source"], e["verification"], e["status"]) for e in events] == [
            ("server_write", "server_write", "order_confirmed"),
            ("webhook", "verified", "order_confirmed"),
        ]
        assert events[1]["deliveries"] == 2
        assert w.hub.intake.refused == {"timestamp_too_old": 1, "bad_signature": 1}
        assert (await w.read_json(PR1_URI))["events"] == events


async def test_a_verified_webhook_at_the_loopback_receiver_notifies_subscribers(tmp_path: Path):
    async with world(tmp_path, "legacy") as w:
        w.hub.set_webhook_secrets([SECRET])
        await w.client.subscribe_resource(PR1_URI)
        receiver = WebhookReceiver(w.hub)
        async with anyio.create_task_group() as tg:
            url = await tg.start(receiver.serve)
            raw = json.dumps(
                {
                    "id": "5e000000-0000-4000-8000-000000000003",
                    "type": "supplier.procurements",
                    "timestamp": rfc3339(datetime.now(UTC)),
                    "integration_id": DEMO_SUPPLIER[1],
                    "data": {"procurement_id": PR1, "status": "order_confirmed"},
                }
            ).encode()
            async with httpx2.AsyncClient() as http:
                ok = await http.post(url, content=raw, headers={SIGNATURE_HEADER: sign(raw, SECRET)})
                bad = await http.post(url, content=raw, headers={SIGNATURE_HEADER: sign(raw, "pwh_wrong")})
            await w.updated(PR1_URI)
            tg.cancel_scope.cancel()
            assert (ok.status_code, bad.status_code) == (200, 401)
            assert bad.json()["reason"] == "bad_signature"


async def test_with_the_receiver_subscribed_a_confirm_on_the_wire_reaches_subscribers_as_verified_webhooks(
    tmp_path: Path,
):
    """No server write here: the embedded sandbox's own signed deliveries are the only signal."""
    async with world(tmp_path, "legacy") as w:
        await w.client.subscribe_resource(PR1_URI)
        async with receive_webhooks(w.hub, w.rails, [DEMO_REPAIRER[1], DEMO_SUPPLIER[1]]):
            await w.rails.supplier.procurements.confirm(identity=m.IdIdentity(id=UUID(PR1)))
            await w.updated(PR1_URI)
            with anyio.fail_after(5):
                while len((await w.hub.history(UUID(PR1))).events) < 2:  # noqa: ASYNC110 - the second delivery
                    await anyio.sleep(0.02)
        events = (await w.hub.history(UUID(PR1))).events
        assert sorted(e.action for e in events) == ["repairer.procurements", "supplier.procurements"]
        assert {(e.source, e.verification, e.status) for e in events} == {
            ("webhook", "verified", "order_confirmed")
        }


# --- the full server: the thirteen tools and the hub together -----------------------------------


@dataclass
class Served:
    world: World
    tools: dict[str, Tool]

    async def ok(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self.world.client.call_tool(name, arguments)
        structured = check_result(self.tools[name], result)  # SPEC §3 invariants, schema included
        assert not result.is_error, structured
        return structured


@asynccontextmanager
async def served(tmp_path: Path, mode: str) -> AsyncIterator[Served]:
    rails = Rails(rails_client(tmp_path))
    server = build_server(rails)
    updates: list[str] = []
    holder: list[World] = []

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            updates.append(message.params.uri)
            if holder:
                holder[0].arrived.set()

    try:
        async with Client(server, mode=mode, message_handler=on_message) as client:
            hub = ResourceHub(rails.client)  # a stand-in: the server's own hub is reached through tools
            holder.append(World(client, hub, rails.client, updates, anyio.Event()))
            tools = {t.name: t for t in (await client.list_tools()).tools}
            yield Served(holder[0], tools)
    finally:
        await rails.client.aclose()


async def place_quickstart(s: Served) -> str:
    placed = await s.ok("place_procurement", {"job": {"external": JOB_EXTERNAL}, **QUICKSTART_PICK})
    return str(placed["procurement"]["id"])


QUICKSTART_PICK = {"offer_selections": [{"sellable_id": sel["sellable_id"]} for sel in QUICKSTART_SELECTIONS]}


async def test_over_the_server_a_legacy_subscriber_hears_of_the_confirm_within_two_seconds(tmp_path: Path):
    async with served(tmp_path, "legacy") as s:
        pid = await place_quickstart(s)
        uri = f"rails://procurements/{pid}"
        await s.world.client.subscribe_resource(uri)
        await s.ok("confirm_procurement", {"procurement_id": pid})
        await s.world.updated(uri)
        assert (await s.world.read_json(uri))["status"] == "order_confirmed"


async def test_over_the_server_a_listen_subscriber_hears_of_the_confirm_within_two_seconds(tmp_path: Path):
    async with served(tmp_path, "2026-07-28") as s:
        pid = await place_quickstart(s)
        uri = f"rails://procurements/{pid}"
        async with s.world.client.listen(resource_subscriptions=[uri]) as sub:
            await s.ok("confirm_procurement", {"procurement_id": pid})
            with anyio.fail_after(2):
                event = await anext(sub)
        assert getattr(event, "uri", None) == uri
        assert (await s.world.read_json(uri))["status"] == "order_confirmed"


@pytest.mark.parametrize("era", ERAS)
async def test_after_the_quickstart_order_scenario_shows_it_confirmed_and_track_shows_its_history(
    tmp_path: Path, era: str
):
    async with served(tmp_path, era) as s:
        pid = await place_quickstart(s)
        await s.ok("confirm_procurement", {"procurement_id": pid})
        await s.ok("confirm_procurement", {"procurement_id": pid})  # a repeat changes nothing
        (job,) = (await s.world.read_json(SCENARIO_URI))["jobs"]
        assert job["procurements"] == {"order_requested": 1, "order_confirmed": 1}
        assert job["parts"]["ordered"] == 3  # the bumper cover, then the headlamp and the support
        tracked = await s.ok("track_procurement", {"procurement_id": pid})
        assert [(e["action"], e["status"], e["verification"]) for e in tracked["events"]] == [
            ("placed", "order_requested", "server_write"),
            ("confirmed", "order_confirmed", "server_write"),
        ]


@pytest.mark.parametrize("era", ["legacy", "auto"])
async def test_the_full_server_lists_resources_templates_and_the_get_started_prompt(tmp_path: Path, era: str):
    async with served(tmp_path, era) as s:
        client = s.world.client
        caps = client.server_capabilities
        assert caps.resources is not None
        assert caps.resources.subscribe
        assert caps.prompts is not None
        assert caps.tools is not None
        entries = [
            *(await client.list_resources()).resources,
            *(await client.list_resource_templates()).resource_templates,
        ]
        assert len(entries) >= 8
        assert all(e.description for e in entries)
        got = await client.get_prompt("get_started")
        text = got.messages[0].content.text  # type: ignore[union-attr]
        assert "scenario://current" in text
        assert "ready_selection" in text


# --- real processes: the notification rides the real transport ---------------------------------


async def subscribe_then_confirm(client: Client, updates: list[str], arrived: list[anyio.Event]) -> None:
    """Place the Quickstart order, subscribe to it (the era's way), confirm: the update arrives."""
    placed = await client.call_tool(
        "place_procurement", {"job": {"external": JOB_EXTERNAL}, **QUICKSTART_PICK}
    )
    pid = (placed.structured_content or {})["procurement"]["id"]
    uri = f"rails://procurements/{pid}"
    if client.protocol_version == "2025-11-25":
        await client.subscribe_resource(uri)
        await client.call_tool("confirm_procurement", {"procurement_id": pid})
        with anyio.fail_after(2):
            while uri not in updates:
                await arrived[0].wait()
                arrived[0] = anyio.Event()
    else:
        async with client.listen(resource_subscriptions=[uri]) as sub:
            await client.call_tool("confirm_procurement", {"procurement_id": pid})
            with anyio.fail_after(2):
                event = await anext(sub)
        assert getattr(event, "uri", None) == uri


def recorder() -> tuple[list[str], list[anyio.Event], Any]:
    updates: list[str] = []
    arrived = [anyio.Event()]

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            updates.append(message.params.uri)
            arrived[0].set()

    return updates, arrived, on_message


@pytest.mark.subprocess
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_over_stdio_a_subscriber_hears_of_the_confirm(tmp_path: Path, mode: str):
    updates, arrived, on_message = recorder()
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "rails_mcp"], env=clean_env(tmp_path, RAILS_TENANT="subs")
    )
    async with Client(params, mode=mode, message_handler=on_message) as client:
        assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
        await subscribe_then_confirm(client, updates, arrived)


@pytest.mark.subprocess
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_over_streamable_http_a_subscriber_hears_of_the_confirm(tmp_path: Path, mode: str):
    updates, arrived, on_message = recorder()
    port = free_port()
    env = clean_env(tmp_path, RAILS_TENANT="subs-http")
    with running(
        ["serve", "--transport", "streamable-http", "--port", str(port)], env, port=port, ready_path="/mcp"
    ):
        async with Client(f"http://127.0.0.1:{port}/mcp", mode=mode, message_handler=on_message) as client:
            await subscribe_then_confirm(client, updates, arrived)


async def served_with_receiver(
    tmp_path: Path, *, loopback_caller: bool
) -> tuple[Server[Any], ResourceHub, Rails]:
    app = create_app(tmp_path / "s.db", idle_reset_seconds=None)
    caller = ("127.0.0.1", 50000) if loopback_caller else ("203.0.113.9", 50000)
    rails = Rails(
        RailsClient(
            base_url="http://embedded.invalid",
            repairer=Credentials(*DEMO_REPAIRER),
            supplier=Credentials(*DEMO_SUPPLIER),
            tenant="t1",
            transport=httpx2.ASGITransport(app=app, client=caller),
        )
    )
    hub = ResourceHub(rails.client)
    server = build_server(rails, hub=hub)
    install_webhook_receiver(server, hub, rails.client, [DEMO_REPAIRER[1], DEMO_SUPPLIER[1]])
    return server, hub, rails


async def test_a_server_with_the_receiver_installed_hears_a_confirm_made_by_someone_else_on_the_wire(
    tmp_path: Path,
):
    """Another client confirms PR-1 on the wire; only the sandbox's webhooks can tell the server."""
    server, _, rails = await served_with_receiver(tmp_path, loopback_caller=True)
    updates, arrived, on_message = recorder()
    try:
        async with Client(server, mode="legacy", message_handler=on_message) as client:
            await client.subscribe_resource(PR1_URI)
            await rails.client.supplier.procurements.confirm(identity=m.IdIdentity(id=UUID(PR1)))
            with anyio.fail_after(2):
                while PR1_URI not in updates:
                    await arrived[0].wait()
                    arrived[0] = anyio.Event()
            tracked = await client.call_tool("track_procurement", {"procurement_id": PR1})
        events = (tracked.structured_content or {})["events"]
        assert events[0]["source"] == "webhook"
        assert events[0]["verification"] == "verified"
        assert events[0]["status"] == "order_confirmed"
    finally:
        await rails.client.aclose()


async def test_when_the_wire_refuses_the_webhook_setup_the_server_still_serves_on_its_own_writes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    server, _, rails = await served_with_receiver(tmp_path, loopback_caller=False)
    updates, arrived, on_message = recorder()
    try:
        with caplog.at_level("INFO", logger="rails_mcp.resources"):
            async with Client(server, mode="legacy", message_handler=on_message) as client:
                await client.subscribe_resource(PR1_URI)
                confirmed = await client.call_tool("confirm_procurement", {"procurement_id": PR1})
                assert not confirmed.is_error
                with anyio.fail_after(2):
                    while PR1_URI not in updates:
                        await arrived[0].wait()
                        arrived[0] = anyio.Event()
        assert "webhooks unavailable" in caplog.text
        assert "not_loopback" in caplog.text
        assert "pwh_" not in caplog.text
    finally:
        await rails.client.aclose()


async def test_an_error_inside_the_receiver_context_surfaces_as_itself(tmp_path: Path):
    """The server's own failure must not come back wrapped in an exception group."""
    rails = rails_client(tmp_path)
    hub = ResourceHub(rails)
    try:
        with pytest.raises(LookupError, match="the server's own"):
            async with receive_webhooks(hub, rails, [DEMO_REPAIRER[1]]):
                raise LookupError("the server's own")
    finally:
        await rails.aclose()
