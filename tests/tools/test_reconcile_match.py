"""reconcile_invoice compares: each invoice line, less credit notes, against the line that was
ordered. A price change, a short shipment or a status this server does not know needs attention,
with the lines and amounts that differ; the seeded order reconciles line for line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest

from rails_mcp.client import Credentials, RailsClient
from rails_mcp.config import DEMO_REPAIRER, DEMO_SUPPLIER
from rails_mcp.tools import Rails
from tests.support.mcp_support import (
    AMI,
    QUICKSTART,
    QUICKSTART_TOTAL,
    Session,
    isolate_environment,
    mcp_session,
    offer,
    session_over,
    wire_method,
)

pytestmark = pytest.mark.anyio

DEV_ROUTE = "/__dev/invoice_discrepancy"


async def _vary(s: Session, pid: str, **change: Any) -> None:
    """The supplier makes its confirmation invoice otherwise than ordered (the sandbox's dev route)."""
    answer = await s.rails.client.dev_post(
        DEV_ROUTE, {"procurement_id": pid, **change}, credential="supplier"
    )
    assert answer.status_code == 200, answer.text


async def _placed_and_confirmed(s: Session, selection: dict[str, Any], **change: Any) -> str:
    pid = (await s.ok("place_procurement", selection))["procurement"]["id"]
    if change:
        await _vary(s, pid, **change)
    await s.ok("confirm_procurement", {"procurement_id": pid})
    return pid


async def test_the_seeded_order_reconciles_every_line_at_1099_nzd(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        pid = await _placed_and_confirmed(s, QUICKSTART)
        out = await s.ok("reconcile_invoice", {"procurement_id": pid})
    assert out["status"] == "reconciled"
    assert out["orders"] == [
        {
            "procurement_id": pid,
            "matched": True,
            "ordered_total": QUICKSTART_TOTAL,
            "invoiced_total": QUICKSTART_TOTAL,
        }
    ]
    assert out["invoices"][0]["currency_code"] == "NZD"
    assert "reason" not in out


async def test_a_price_change_needs_attention_with_the_line_and_both_prices(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        pid = await _placed_and_confirmed(s, QUICKSTART, sellable_id=offer(0x07), unit_price="650.00")
        out = await s.ok("reconcile_invoice", {"procurement_id": pid})
        by_job = await s.ok("reconcile_invoice", {"job": QUICKSTART["job"]})
    assert out["status"] == by_job["status"] == "needs_attention"
    (order,) = out["orders"]
    assert order["matched"] is False
    assert (order["ordered_total"], order["invoiced_total"]) == ("1099.00", "1118.00")
    assert order["differences"] == [
        {
            "sellable_id": offer(0x07),
            "issues": ["price"],
            "ordered_quantity": 1,
            "invoiced_quantity": 1,
            "ordered_unit_price": "631.00",
            "invoiced_unit_price": "650.00",
        }
    ]
    assert "supplier" in out["reason"]
    assert by_job["orders"] == out["orders"]


async def test_a_short_shipment_needs_attention_with_both_quantities(tmp_path: Path):
    job = {"external": "SHORT-1"}
    async with mcp_session(tmp_path) as s:
        await s.ok("open_repair_job", {"job": job, "work_provider_id": AMI})
        await s.ok(
            "identify_parts",
            {
                "job": job,
                "parts": [
                    {"description": "Headlamp assembly RH", "quantity": 2},
                    {"description": "Radiator support", "quantity": 1},
                ],
            },
        )
        ready = (await s.ok("recommend_basket", {"job": job}))["ready_selection"]
        pid = await _placed_and_confirmed(
            s, ready, sellable_id=ready["offer_selections"][0]["sellable_id"], quantity=1
        )
        out = await s.ok("reconcile_invoice", {"procurement_id": pid})
    assert out["status"] == "needs_attention"
    (order,) = out["orders"]
    (difference,) = order["differences"]
    assert difference["issues"] == ["quantity"]
    assert (difference["ordered_quantity"], difference["invoiced_quantity"]) == (2, 1)
    assert difference["ordered_unit_price"] == difference["invoiced_unit_price"] == "631.00"
    assert (order["ordered_total"], order["invoiced_total"]) == ("1730.00", "1099.00")


# --- a real API's answers (MockTransport): unknown values, credit notes, many orders -------------

JOB_ID = "10000000-0000-4000-8000-0000000000aa"
LINE = "10000000-0000-4000-8000-0000000000b1"
SELLABLE = "10000000-0000-4000-8000-0000000000c1"


def _procurement(pid: str) -> dict[str, Any]:
    return {
        "id": pid,
        "job_id": JOB_ID,
        "reference": "PR-9",
        "status": "order_confirmed",
        "currency_code": "NZD",
        "created_at": "2026-11-23T16:20:01Z",
        "updated_at": "2026-11-23T16:20:01Z",
        "source_items": [
            {
                "id": LINE,
                "sellable_id": SELLABLE,
                "name": "Bonnet",
                "job_part_ids": [JOB_ID],
                "quantity": 1,
                "trade_price": "100.00",
                "condition": {"type": "new", "payload": {}},
            }
        ],
        "vehicle": {"chassis_number": "JTD"},
        "supplier_business": {"id": JOB_ID, "name": "S"},
        "supplier_organization": {"id": JOB_ID, "name": "S"},
    }


def _invoice(
    pid: str,
    n: int,
    *,
    kind: str = "invoice",
    status: str = "reconciled",
    price: str = "100.00",
    line: str = "matched",
) -> dict[str, Any]:
    return {
        "id": f"20000000-0000-4000-8000-{n:012d}",
        "procurement_id": pid,
        "job_id": JOB_ID,
        "document_type": kind,
        "status": status,
        "currency_code": "NZD",
        "total": price,
        "issued_at": "2026-11-23T16:20:01Z",
        "line_items": [
            {
                "id": f"30000000-0000-4000-8000-{n:012d}",
                "source_item_id": LINE,
                "sellable_id": SELLABLE,
                "name": "Bonnet",
                "quantity": 1,
                "unit_price": price,
                "total": price,
                "reconciliation": line,
            }
        ],
    }


def _answering(orders: list[dict[str, Any]], invoices: list[dict[str, Any]]) -> Rails:
    """Tools over a mock Rails API answering with these orders and invoices."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        method = wire_method(request)
        body = json.loads(request.content or b"{}")
        if method == "repairer.procurements.invoices.list":
            return httpx2.Response(200, json={"items": invoices})
        if method == "repairer.procurements.list":
            return httpx2.Response(200, json={"items": orders})
        if method == "repairer.procurements.get":
            wanted = body["identity"]["id"]
            return httpx2.Response(200, json=next(o for o in orders if o["id"] == wanted))
        return httpx2.Response(404, json={"type": "not_found"})

    client = RailsClient(
        base_url="http://newer.invalid",
        repairer=Credentials(*DEMO_REPAIRER),
        supplier=Credentials(*DEMO_SUPPLIER),
        transport=httpx2.MockTransport(answer),
    )
    return Rails(client)


def _pid(n: int) -> str:
    return f"40000000-0000-4000-8000-{n:012d}"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_environment(monkeypatch, tmp_path)


@pytest.mark.parametrize(
    ("invoice", "expected"),
    [
        (
            {"status": "disputed"},
            {
                "problems": [
                    "Invoice 20000000-0000-4000-8000-000000000001 has status disputed, not reconciled."
                ]
            },
        ),
        ({"line": "price_variance"}, {"differences": [{"issues": ["status"]}]}),
        (
            {"kind": "proforma"},
            {"problems": ["Invoice 20000000-0000-4000-8000-000000000001 is a proforma: not counted."]},
        ),
    ],
)
async def test_a_value_this_server_does_not_know_needs_attention_not_a_malformed_response(
    invoice: dict[str, Any], expected: dict[str, Any]
):
    pid = _pid(1)
    async with session_over(_answering([_procurement(pid)], [_invoice(pid, 1, **invoice)])) as s:
        out = await s.ok("reconcile_invoice", {"procurement_id": pid})
    assert out["status"] == "needs_attention"
    (order,) = out["orders"]
    for key, value in expected.items():
        if key == "differences":
            assert [d["issues"] for d in order[key]] == [v["issues"] for v in value]
        else:
            assert order[key] == value


async def test_a_credit_note_is_taken_off_the_invoice_it_corrects():
    pid = _pid(1)
    overcharged = _invoice(pid, 1, price="119.00")
    credit = _invoice(pid, 2, kind="credit_note", price="19.00")
    credit["line_items"][0]["quantity"] = 0  # a price credit: no goods returned
    async with session_over(_answering([_procurement(pid)], [overcharged])) as s:
        before = await s.ok("reconcile_invoice", {"procurement_id": pid})
    async with session_over(_answering([_procurement(pid)], [overcharged, credit])) as s:
        after = await s.ok("reconcile_invoice", {"procurement_id": pid})
    assert before["status"] == "needs_attention"
    assert before["orders"][0]["differences"][0]["invoiced_unit_price"] == "119.00"
    assert after["status"] == "reconciled"
    assert after["orders"][0] == {
        "procurement_id": pid,
        "matched": True,
        "ordered_total": "100.00",
        "invoiced_total": "100.00",
        "credited_total": "19.00",
    }


async def test_by_job_the_answer_is_paged_and_shows_the_orders_needing_attention_first():
    count, limit = 15, 10
    orders = [_procurement(_pid(n)) for n in range(count)]
    invoices = [_invoice(_pid(n), n, price="150.00" if n == count - 1 else "100.00") for n in range(count)]
    async with session_over(_answering(orders, invoices)) as s:
        first = await s.ok("reconcile_invoice", {"job": {"id": JOB_ID}, "limit": limit})
        last = await s.ok(
            "reconcile_invoice", {"job": {"id": JOB_ID}, "limit": limit, "cursor": first["next_cursor"]}
        )
    assert first["status"] == last["status"] == "needs_attention"  # the verdict is the whole job's
    assert len(first["orders"]) == limit
    assert first["orders"][0]["procurement_id"] == _pid(count - 1)
    assert {i["procurement_id"] for i in first["invoices"]} == {o["procurement_id"] for o in first["orders"]}
    assert "5 more order(s) on later pages (0 needing attention)" in first["reason"]
    assert "next_cursor" not in last
    assert len(last["orders"]) == count - limit
    shown = [o["procurement_id"] for page in (first, last) for o in page["orders"]]
    assert sorted(shown) == sorted(_pid(n) for n in range(count))
