"""A newer Rails API may add enum values and fields: the client keeps them (a status it does not
know is reported as the string it is), the tools never claim more than they know, and the
sandbox stays strict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx2
import pytest
from pydantic import ValidationError

from rails_mcp.client import Credentials, RailsClient
from rails_mcp.config import DEMO_REPAIRER, DEMO_SUPPLIER
from rails_mcp.sandbox import create_app
from rails_mcp.tools import Rails
from rails_mcp.wire import models as m
from tests.support.mcp_support import JOB, isolate_environment, session_over, wire_method
from tests.support.sandbox_support import asgi_client, call

pytestmark = pytest.mark.anyio

ID = "10000000-0000-4000-8000-000000000001"
CONDITION = {"type": "new", "payload": {}, "warranty_months": 12}  # a key the contract lacks
PROCUREMENT: dict[str, Any] = {
    "id": ID,
    "job_id": ID,
    "reference": "PR-9",
    "status": "order_shipped",
    "currency_code": "NZD",
    "created_at": "2026-11-23T16:20:01Z",
    "updated_at": "2026-11-23T16:20:01Z",
    "source_items": [
        {
            "id": ID,
            "sellable_id": ID,
            "name": "Bonnet",
            "job_part_ids": [ID],
            "quantity": 1,
            "trade_price": "10.00",
            "condition": CONDITION,
        }
    ],
    "vehicle": {"chassis_number": "JTD", "colour": "red"},
    "supplier_business": {"id": ID, "name": "S"},
    "supplier_organization": {"id": ID, "name": "S"},
    "tracking_url": "https://example.invalid/track",
}
INVOICE: dict[str, Any] = {
    "id": ID,
    "procurement_id": ID,
    "job_id": ID,
    "document_type": "proforma",
    "status": "disputed",
    "currency_code": "NZD",
    "total": "10.00",
    "issued_at": "2026-11-23T16:20:01Z",
    "line_items": [
        {
            "id": ID,
            "source_item_id": ID,
            "sellable_id": ID,
            "name": "Bonnet",
            "quantity": 1,
            "unit_price": "10.00",
            "total": "10.00",
            "reconciliation": "price_variance",
        }
    ],
}


def _answering(body: object) -> RailsClient:
    return RailsClient(
        base_url="https://rails.test",
        repairer=Credentials(*DEMO_REPAIRER),
        transport=httpx2.MockTransport(lambda _: httpx2.Response(200, json=body)),
    )


async def test_a_procurement_with_a_newer_status_and_added_keys_is_read_not_refused():
    async with _answering(PROCUREMENT) as rails:
        p = await rails.repairer.procurements.get(identity=m.IdIdentity(id=UUID(ID)))
    assert p.status == "order_shipped"
    assert p.status.value == "order_shipped"
    assert m.is_unknown(p.status)
    assert p.status is not m.ProcurementStatus.ORDER_CONFIRMED
    assert p.model_dump(mode="json")["status"] == "order_shipped"
    assert p.source_items[0].condition.type == "new"
    assert p.vehicle.chassis_number == "JTD"


async def test_an_invoice_with_newer_values_is_read_and_they_are_reported_as_they_came():
    async with _answering({"x_extension": True, "invoice": INVOICE}) as rails:
        got = (await rails.repairer.procurements.invoices.get(identity=m.IdIdentity(id=UUID(ID)))).invoice
    dumped = got.model_dump(mode="json")
    assert (dumped["status"], dumped["document_type"]) == ("disputed", "proforma")
    assert dumped["line_items"][0]["reconciliation"] == "price_variance"
    assert got.line_items[0].reconciliation is not m.LineReconciliation.MATCHED


async def test_a_newer_part_status_is_read():
    part = {"id": ID, "description": "Bonnet", "quantity": 1, "status": "backordered"}
    async with _answering({"items": [part]}) as rails:
        items = (await rails.repairer.jobs.parts.list(job_identity=m.ExternalIdentity(external="J"))).items
    assert items[0].status == "backordered"


async def test_a_wrong_type_is_still_a_malformed_response():
    from rails_mcp.wire.errors import MalformedResponse

    async with _answering({**PROCUREMENT, "status": 7}) as rails:
        with pytest.raises(MalformedResponse):
            await rails.repairer.procurements.get(identity=m.IdIdentity(id=UUID(ID)))


def test_without_the_clients_context_the_models_stay_strict():
    with pytest.raises(ValidationError):
        m.BuyerProcurementV1.model_validate(PROCUREMENT)
    with pytest.raises(ValidationError):
        m.InvoiceV1.model_validate(INVOICE)
    schema = m.BuyerProcurementV1.model_json_schema()
    assert schema["$defs"]["ProcurementStatus"]["enum"] == ["order_requested", "order_confirmed", "cancelled"]


async def test_the_sandbox_still_refuses_a_key_the_contract_lacks(tmp_path: Path):
    async with asgi_client(tmp_path / "s.db") as sandbox:
        answer = await call(
            sandbox,
            "repairer.jobs.insert",
            {
                "identity": {"external": "J-NEW"},
                "repairer_site_id": "0b000000-0000-4000-8000-000000000001",
                "vehicle": {"chassis_number": "JTD", "colour": "red"},
            },
        )
    assert answer.status_code == 400
    assert answer.json() == {"type": "bad_request"}


# --- through the tools: a newer value is reported, never mistaken for a known one ----------------


class Rewriting(httpx2.AsyncBaseTransport):
    """The sandbox, with chosen methods' answers rewritten as a newer API would send them."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.rewrites: dict[str, tuple[str, str]] = {}

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        rewrite = self.rewrites.get(wire_method(request))
        if rewrite is None:
            return response
        body = (await response.aread()).replace(
            json.dumps(rewrite[0]).encode(), json.dumps(rewrite[1]).encode()
        )
        return httpx2.Response(
            response.status_code, headers={"content-type": "application/json"}, content=body
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def rewriting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Rails, Rewriting]:
    isolate_environment(monkeypatch, tmp_path)
    transport = Rewriting(httpx2.ASGITransport(app=create_app(tmp_path / "s.db", idle_reset_seconds=None)))
    client = RailsClient(
        base_url="http://newer.invalid",
        repairer=Credentials(*DEMO_REPAIRER),
        supplier=Credentials(*DEMO_SUPPLIER),
        tenant="t1",
        transport=transport,
    )
    return Rails(client), transport


async def test_tools_report_newer_statuses_and_do_not_claim_a_reconciliation(
    rewriting: tuple[Rails, Rewriting],
):
    rails, transport = rewriting
    job = {"job": dict(JOB)}
    async with session_over(rails) as s:  # every result is checked against its published schema
        placed = await s.ok("place_procurement", (await s.ok("recommend_basket", job))["ready_selection"])
        pid = {"procurement_id": placed["procurement"]["id"]}

        transport.rewrites["repairer.procurements.get"] = ("order_requested", "order_shipped")
        tracked = await s.ok("track_procurement", pid)
        assert tracked["procurement"]["status"] == "order_shipped"
        assert "next_tool" not in tracked  # no next step guessed for a status it cannot know

        transport.rewrites["repairer.procurements.get"] = ("order_confirmed", "order_acknowledged")
        confirmed = await s.ok("confirm_procurement", pid)  # the wire accepted it: not "not landed"
        assert confirmed["procurement"]["status"] == "order_acknowledged"

        transport.rewrites["repairer.procurements.invoices.list"] = ("matched", "price_variance")
        reconciled = await s.ok("reconcile_invoice", pid)
        assert reconciled["status"] == "needs_attention"
        assert reconciled["invoices"][0]["line_items"][0]["reconciliation"] == "price_variance"

        transport.rewrites["repairer.jobs.parts.list"] = ("ordered", "backordered")
        listed = await s.ok("list_parts", job)
        assert {p["status"] for p in listed["parts"]} >= {"backordered"}
        assert listed["counts"]["ordered"] == 0
