"""The Quickstart (seeds/000), steps 1–7, in-process, with its documented values."""

from __future__ import annotations

import re

import httpx2
import pytest

from tests.support.sandbox_support import (
    INSTALL,
    JOB,
    JOB_ID,
    QUICKSTART_SELECTIONS,
    S1,
    SITE,
    SUPPLIER,
    call,
    offer,
    part,
    walk_keys,
)

pytestmark = pytest.mark.anyio


async def test_the_quickstart_runs_from_install_to_a_reconciled_1099_invoice(
    sandbox: httpx2.AsyncClient,
):
    tenant = "quickstart-root"

    # 1. Install.
    install = await call(sandbox, "integrations.insert", INSTALL, auth=None, tenant=tenant)
    assert install.status_code == 200
    api_key, integration_id = install.json()["api_key"], install.json()["integration_id"]
    assert re.fullmatch(r"partly_[0-9a-f]{32}", api_key)
    # 2. The two headers.
    auth = {"Authorization": f"Bearer {api_key}", "Partly-Integration-ID": integration_id}

    # 3. Read the pre-seeded job.
    job = await call(sandbox, "repairer.jobs.get", {"identity": JOB}, auth=auth, tenant=tenant)
    assert job.json() == {
        "id": JOB_ID,
        "external_id": "CCC-2026-04817",
        "job_number": "J-4817",
        "claim_number": "AMI-CLM-771204",
        "repairer_site_id": SITE,
        "work_provider_id": "0a000000-0000-4000-8000-000000000020",
        "vehicle": {
            "chassis_number": "JTDBR32E730012345",
            "plate_number": "MJL472",
            "plate_state": "NZ",
        },
        "images": [],
    }

    # 4. The recommended basket: 12 offers, 3 suppliers, no currency.
    basket = (
        await call(
            sandbox, "repairer.jobs.baskets.latest.get", {"job_identity": JOB}, auth=auth, tenant=tenant
        )
    ).json()
    assert len(basket["offers"]) == 12
    assert len(basket["suppliers"]) == 3
    assert not [k for k in walk_keys(basket) if "currency" in k]
    by_id = {o["sellable_id"]: o for o in basket["offers"]}
    assert by_id[offer(7)] == {
        "name": "Toyota Genuine Headlamp RH",
        "sellable_id": offer(7),
        "supplier_business_id": S1,
        "job_part_ids": [part(4)],
        "quantity": 1,
        "trade_price": "631.00",
        "condition": {"type": "new", "payload": {}},
    }
    assert by_id[offer(0x0A)]["trade_price"] == "468.00"

    # 5. Place the order (extension).
    place = await call(
        sandbox,
        "repairer.procurements.insert",
        {"job_identity": JOB, "offer_selections": QUICKSTART_SELECTIONS},
        auth=auth,
        tenant=tenant,
    )
    placed = place.json()
    assert placed["x_extension"] is True
    procurement_id = placed["procurement"]["id"]
    assert {
        "job_id": placed["procurement"]["job_id"],
        "status": placed["procurement"]["status"],
        "currency_code": placed["procurement"]["currency_code"],
        "supplier_business": placed["procurement"]["supplier_business"],
    } == {
        "job_id": JOB_ID,
        "status": "order_requested",
        "currency_code": "NZD",
        "supplier_business": {"id": S1, "name": "Christchurch Toyota — Parts"},
    }

    # 6. Confirm as the supplier.
    confirm = await call(
        sandbox,
        "supplier.procurements.confirm",
        {"identity": {"id": procurement_id}},
        auth=SUPPLIER,
        tenant=tenant,
    )
    assert (confirm.json()["id"], confirm.json()["status"]) == (procurement_id, "order_confirmed")
    truth = await call(
        sandbox,
        "repairer.procurements.get",
        {"identity": {"id": procurement_id}},
        auth=auth,
        tenant=tenant,
    )
    assert truth.json()["status"] == "order_confirmed"

    # 7. Reconcile the invoice (extension).
    invoices = (
        await call(
            sandbox,
            "repairer.procurements.invoices.list",
            {"procurement_identity": {"id": procurement_id}},
            auth=auth,
            tenant=tenant,
        )
    ).json()
    assert invoices["x_extension"] is True
    [invoice] = invoices["items"]
    assert (
        invoice["document_type"],
        invoice["status"],
        invoice["currency_code"],
        invoice["total"],
    ) == ("invoice", "reconciled", "NZD", "1099.00")
    assert [line["reconciliation"] for line in invoice["line_items"]] == ["matched", "matched"]

    # A second install in the same tenant: the code is spent.
    again = await call(sandbox, "integrations.insert", INSTALL, auth=None, tenant=tenant)
    assert (again.status_code, again.json()) == (401, {"type": "invalid_access_code"})
