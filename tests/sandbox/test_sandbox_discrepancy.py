"""The dev route that makes a supplier invoice otherwise than ordered: only that supplier, from
loopback, never through a proxy, before confirmation; the next invoice carries the difference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest

from rails_mcp.sandbox import create_app
from tests.support.sandbox_support import (
    REPAIRER,
    SUPPLIER,
    asgi_client,
    call,
    headers,
    offer,
    place_quickstart,
)

pytestmark = pytest.mark.anyio

ROUTE = "/__dev/invoice_discrepancy"


async def _ask(
    client: httpx2.AsyncClient, body: Any, auth: dict[str, str] | None = SUPPLIER, **extra: str
) -> httpx2.Response:
    return await client.post(ROUTE, json=body, headers={**headers(auth, "t"), **extra})


async def _invoice_after_confirm(client: httpx2.AsyncClient, pid: str) -> dict[str, Any]:
    confirmed = await call(client, "supplier.procurements.confirm", {"identity": {"id": pid}}, auth=SUPPLIER)
    assert confirmed.status_code == 200, confirmed.text
    listed = await call(client, "repairer.procurements.invoices.list", {"procurement_identity": {"id": pid}})
    (invoice,) = listed.json()["items"]
    return invoice


async def test_a_price_change_is_invoiced_at_the_new_unit_price(tmp_path: Path):
    async with asgi_client(tmp_path / "s.db") as client:
        pid = await place_quickstart(client)
        answer = await _ask(
            client, {"procurement_id": pid, "sellable_id": offer(0x07), "unit_price": "650.00"}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "ok": True,
            "procurement_id": pid,
            "sellable_id": offer(0x07),
            "quantity": 1,
            "unit_price": "650.00",
        }
        invoice = await _invoice_after_confirm(client, pid)
    lines = {li["sellable_id"]: li for li in invoice["line_items"]}
    assert (lines[offer(0x07)]["unit_price"], lines[offer(0x07)]["total"]) == ("650.00", "650.00")
    assert lines[offer(0x0A)]["unit_price"] == "468.00"
    assert invoice["total"] == "1118.00"
    # The wire's own words stay "reconciled"/"matched": the buyer's match must find the difference.
    assert invoice["status"] == "reconciled"


async def test_a_line_shipped_at_none_is_left_off_the_invoice(tmp_path: Path):
    async with asgi_client(tmp_path / "s.db") as client:
        pid = await place_quickstart(client)
        answer = await _ask(client, {"procurement_id": pid, "sellable_id": offer(0x0A), "quantity": 0})
        assert answer.status_code == 200, answer.text
        invoice = await _invoice_after_confirm(client, pid)
    assert [li["sellable_id"] for li in invoice["line_items"]] == [offer(0x07)]
    assert invoice["total"] == "631.00"


@pytest.mark.parametrize(
    ("body", "auth", "extra", "status", "reason"),
    [
        ({}, SUPPLIER, {}, 400, "missing_field"),
        ({"quantity": -1}, SUPPLIER, {}, 400, "bad_body"),
        ({"unit_price": "1"}, SUPPLIER, {}, 400, "bad_body"),
        ({"quantity": 2}, SUPPLIER, {}, 400, "quantity_above_ordered"),
        ({"sellable_id": offer(0x03), "quantity": 0}, SUPPLIER, {}, 400, "unknown_line"),
        ({"quantity": 0}, None, {}, 401, "unauthorized"),
        ({"quantity": 0}, REPAIRER, {}, 404, "unknown_procurement"),
        ({"quantity": 0}, SUPPLIER, {"X-Forwarded-For": "127.0.0.1"}, 403, "proxied_request"),
    ],
)
async def test_a_refused_request_says_why_and_changes_nothing(
    tmp_path: Path,
    body: dict[str, Any],
    auth: dict[str, str] | None,
    extra: dict[str, str],
    status: int,
    reason: str,
):
    async with asgi_client(tmp_path / "s.db") as client:
        pid = await place_quickstart(client)
        answer = await _ask(client, {"procurement_id": pid, **body}, auth, **extra)
        invoice = await _invoice_after_confirm(client, pid)
    assert (answer.status_code, answer.json()) == (status, {"ok": False, "reason": reason})
    assert invoice["total"] == "1099.00"


async def test_only_an_order_not_yet_confirmed_can_be_changed(tmp_path: Path):
    async with asgi_client(tmp_path / "s.db") as client:
        pid = await place_quickstart(client)
        await _invoice_after_confirm(client, pid)
        answer = await _ask(client, {"procurement_id": pid, "unit_price": "1.00"})
    assert (answer.status_code, answer.json()["reason"]) == (409, "already_confirmed")


async def test_a_caller_off_this_machine_is_refused(tmp_path: Path):
    app = create_app(tmp_path / "s.db", idle_reset_seconds=None)
    transport = httpx2.ASGITransport(app=app, client=("203.0.113.9", 4000))
    async with httpx2.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        pid = await place_quickstart(client)
        answer = await _ask(client, {"procurement_id": pid, "unit_price": "1.00"})
    assert (answer.status_code, answer.json()["reason"]) == (403, "not_loopback")
