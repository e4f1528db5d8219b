"""Every wire method of the sandbox: its success path and each error it documents."""

from __future__ import annotations

import re
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette

from tests.support.sandbox_support import (
    AMI,
    INSTALL,
    JOB,
    JOB_EXTERNAL,
    JOB_ID,
    MISSING,
    PR1,
    QUICKSTART_SELECTIONS,
    REPAIRER,
    S1,
    S2,
    S3,
    SITE,
    SUPPLIER,
    call,
    offer,
    part,
    place_quickstart,
    selection,
    walk_keys,
)

pytestmark = pytest.mark.anyio

SEEDED_JOB = {
    "id": JOB_ID,
    "external_id": JOB_EXTERNAL,
    "job_number": "J-4817",
    "claim_number": "AMI-CLM-771204",
    "repairer_site_id": SITE,
    "work_provider_id": AMI,
    "vehicle": {"chassis_number": "JTDBR32E730012345", "plate_number": "MJL472", "plate_state": "NZ"},
    "images": [],
}

SEEDED_OFFERS = [
    (0x01, "Toyota Genuine Front Bumper Cover", S1, 1, "512.00"),
    (0x02, "Repco Front Bumper Cover", S2, 1, "289.00"),
    (0x03, "Repco Bumper Reinforcement", S2, 2, "231.00"),
    (0x04, "PartsMaster Bumper Reinforcement", S3, 2, "198.00"),
    (0x05, "PartsMaster Headlamp LH", S3, 3, "356.00"),
    (0x06, "Repco Headlamp LH", S2, 3, "402.00"),
    (0x07, "Toyota Genuine Headlamp RH", S1, 4, "631.00"),
    (0x08, "PartsMaster Headlamp RH", S3, 4, "389.00"),
    (0x09, "Repco Grille", S2, 5, "188.00"),
    (0x0A, "Toyota Genuine Radiator Support", S1, 6, "468.00"),
    (0x0B, "Repco Radiator Support", S2, 6, "301.00"),
    (0x0C, "PartsMaster Grille", S3, 5, "142.00"),
]


def assert_error(response: httpx2.Response, status: int, code: str) -> None:
    assert (response.status_code, response.json()) == (status, {"type": code})


async def parts_of(client: httpx2.AsyncClient, tenant: str = "t") -> dict[str, dict[str, Any]]:
    response = await call(client, "repairer.jobs.parts.list", {"job_identity": JOB}, tenant=tenant)
    return {p["id"]: p for p in response.json()["items"]}


async def new_job(client: httpx2.AsyncClient, external: str, **fields: Any) -> dict[str, Any]:
    body = {"identity": {"external": external}, "repairer_site_id": SITE, **fields}
    response = await call(client, "repairer.jobs.insert", body)
    assert response.status_code == 200, response.text
    return response.json()


# --- businesses.list -----------------------------------------------------------------------


async def test_a_repairer_credential_lists_only_the_repairer_site(sandbox: httpx2.AsyncClient):
    response = await call(sandbox, "businesses.list", {})
    assert response.status_code == 200
    assert response.json() == {"items": [{"id": SITE, "name": "Riccarton Collision Centre"}]}


async def test_the_supplier_credential_lists_only_its_own_business(sandbox: httpx2.AsyncClient):
    response = await call(sandbox, "businesses.list", {}, auth=SUPPLIER)
    assert response.json() == {"items": [{"id": S1, "name": "Christchurch Toyota — Parts"}]}


async def test_listing_businesses_without_credentials_is_unauthorized(sandbox: httpx2.AsyncClient):
    assert_error(await call(sandbox, "businesses.list", {}, auth=None), 401, "unauthorized")


# --- integrations.insert -------------------------------------------------------------------


async def test_installing_mints_a_partly_key_and_a_uuid_integration_id(sandbox: httpx2.AsyncClient):
    response = await call(sandbox, "integrations.insert", INSTALL, auth=None)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"api_key", "integration_id"}
    assert re.fullmatch(r"partly_[0-9a-f]{32}", body["api_key"])
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", body["integration_id"]
    )


async def test_a_minted_credential_works_at_once_with_repairer_scope_in_its_tenant_only(
    sandbox: httpx2.AsyncClient,
):
    minted = (await call(sandbox, "integrations.insert", INSTALL, auth=None, tenant="a")).json()
    auth = {
        "Authorization": f"Bearer {minted['api_key']}",
        "Partly-Integration-ID": minted["integration_id"],
    }
    ok = await call(sandbox, "repairer.jobs.get", {"identity": JOB}, auth=auth, tenant="a")
    assert ok.json() == SEEDED_JOB
    forbidden = await call(
        sandbox, "supplier.procurements.get", {"identity": {"id": PR1}}, auth=auth, tenant="a"
    )
    assert_error(forbidden, 403, "forbidden")
    elsewhere = await call(sandbox, "repairer.jobs.get", {"identity": JOB}, auth=auth, tenant="b")
    assert_error(elsewhere, 401, "unauthorized")


async def test_the_demo_access_code_is_single_use_per_tenant(sandbox: httpx2.AsyncClient):
    assert (await call(sandbox, "integrations.insert", INSTALL, auth=None)).status_code == 200
    again = await call(sandbox, "integrations.insert", INSTALL, auth=None)
    assert_error(again, 401, "invalid_access_code")
    other_tenant = await call(sandbox, "integrations.insert", INSTALL, auth=None, tenant="other")
    assert other_tenant.status_code == 200


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"client_id": "partly_client_nope"}, 404, "integration_not_found"),
        ({"client_id": "partly_client_nope", "client_secret": "x"}, 404, "integration_not_found"),
        (
            {"client_id": "partly_client_legacy", "client_secret": "secret_legacy_0000"},
            400,
            "o_auth_not_supported_by_integration",
        ),
        (
            {"client_id": "partly_client_legacy", "client_secret": "wrong"},
            400,
            "o_auth_not_supported_by_integration",
        ),
        ({"client_secret": "secret_demo_nope"}, 401, "invalid_client_secret"),
        ({"client_secret": "secret_demo_nope", "access_code": "x"}, 401, "invalid_client_secret"),
        ({"access_code": "ac_demo_expired"}, 401, "invalid_access_code"),
    ],
)
async def test_a_bad_install_is_refused_with_the_first_failing_check(
    sandbox: httpx2.AsyncClient, change: dict[str, str], status: int, code: str
):
    assert_error(await call(sandbox, "integrations.insert", {**INSTALL, **change}, auth=None), status, code)
    # A refused install consumes nothing: the real code still works afterwards.
    assert (await call(sandbox, "integrations.insert", INSTALL, auth=None)).status_code == 200


async def test_an_install_body_missing_a_field_is_a_bad_request(sandbox: httpx2.AsyncClient):
    body = {"client_id": "partly_client_demo", "client_secret": "secret_demo_8f3a"}
    assert_error(await call(sandbox, "integrations.insert", body, auth=None), 400, "bad_request")


# --- repairer.jobs.get -----------------------------------------------------------------------


@pytest.mark.parametrize("identity", [JOB, {"id": JOB_ID}])
async def test_the_seeded_job_reads_back_by_external_or_by_id(
    sandbox: httpx2.AsyncClient, identity: dict[str, str]
):
    response = await call(sandbox, "repairer.jobs.get", {"identity": identity})
    assert response.status_code == 200
    assert response.json() == SEEDED_JOB


@pytest.mark.parametrize("identity", [{"external": "CCC-0000"}, {"id": MISSING}])
async def test_getting_an_unknown_job_is_not_found(sandbox: httpx2.AsyncClient, identity: dict[str, str]):
    assert_error(await call(sandbox, "repairer.jobs.get", {"identity": identity}), 404, "not_found")


async def test_getting_a_job_with_the_supplier_credential_is_forbidden(sandbox: httpx2.AsyncClient):
    response = await call(sandbox, "repairer.jobs.get", {"identity": JOB}, auth=SUPPLIER)
    assert_error(response, 403, "forbidden")


# --- repairer.jobs.insert --------------------------------------------------------------------


async def test_inserting_a_new_external_job_creates_it_with_a_fresh_id(sandbox: httpx2.AsyncClient):
    vehicle = {"chassis_number": "7AT0H63RX12345678", "plate_number": "ABC123", "plate_state": "NZ"}
    job = await new_job(sandbox, "CCC-NEW-1", work_provider_id=AMI, vehicle=vehicle, claim_number="C-1")
    assert job["id"] != JOB_ID
    assert job == {
        "id": job["id"],
        "external_id": "CCC-NEW-1",
        "job_number": None,
        "claim_number": "C-1",
        "repairer_site_id": SITE,
        "work_provider_id": AMI,
        "vehicle": vehicle,
        "images": [],
    }
    read = await call(sandbox, "repairer.jobs.get", {"identity": {"id": job["id"]}})
    assert read.json() == job


async def test_a_cash_job_has_no_work_provider(sandbox: httpx2.AsyncClient):
    job = await new_job(sandbox, "CASH-1", work_provider_id=None)
    assert job["work_provider_id"] is None


async def test_updating_a_job_keeps_every_field_the_request_omits(sandbox: httpx2.AsyncClient):
    job = await new_job(sandbox, JOB_EXTERNAL, claim_number="AMI-CLM-999")
    assert job == {**SEEDED_JOB, "claim_number": "AMI-CLM-999"}
    by_id = await call(
        sandbox,
        "repairer.jobs.insert",
        {"identity": {"id": JOB_ID}, "repairer_site_id": SITE, "work_provider_id": None},
    )
    assert by_id.json() == {**SEEDED_JOB, "claim_number": "AMI-CLM-999", "work_provider_id": None}


async def test_inserting_a_job_by_an_unknown_id_is_unprocessable(sandbox: httpx2.AsyncClient):
    body = {"identity": {"id": MISSING}, "repairer_site_id": SITE}
    assert_error(await call(sandbox, "repairer.jobs.insert", body), 422, "unprocessable")


async def test_a_job_at_a_site_outside_the_organization_is_unprocessable(
    sandbox: httpx2.AsyncClient,
):
    body = {"identity": {"external": "X-1"}, "repairer_site_id": S1}
    assert_error(await call(sandbox, "repairer.jobs.insert", body), 422, "unprocessable")


async def test_a_job_with_an_unknown_work_provider_is_refused_and_not_created(
    sandbox: httpx2.AsyncClient,
):
    body = {"identity": {"external": "X-2"}, "repairer_site_id": SITE, "work_provider_id": MISSING}
    assert_error(await call(sandbox, "repairer.jobs.insert", body), 422, "work_provider_not_found")
    read = await call(sandbox, "repairer.jobs.get", {"identity": {"external": "X-2"}})
    assert_error(read, 404, "not_found")


async def test_inserting_a_job_with_the_supplier_credential_is_forbidden(
    sandbox: httpx2.AsyncClient,
):
    body = {"identity": {"external": "X-3"}, "repairer_site_id": SITE}
    assert_error(await call(sandbox, "repairer.jobs.insert", body, auth=SUPPLIER), 403, "forbidden")


# --- repairer.jobs.parts.insert / parts.list ---------------------------------------------------


async def test_the_seeded_job_has_six_parts_and_only_the_bumper_cover_is_ordered(
    sandbox: httpx2.AsyncClient,
):
    parts = await parts_of(sandbox)
    assert list(parts) == [part(n) for n in range(1, 7)]
    assert [p["status"] for p in parts.values()] == ["ordered"] + ["estimated"] * 5
    assert parts[part(4)] == {
        "id": part(4),
        "external_id": None,
        "description": "Headlamp assembly RH",
        "quantity": 1,
        "part_number": None,
        "status": "estimated",
    }


async def test_listing_the_parts_of_an_unknown_job_is_not_found(sandbox: httpx2.AsyncClient):
    body = {"job_identity": {"external": "nope"}}
    assert_error(await call(sandbox, "repairer.jobs.parts.list", body), 404, "not_found")


async def test_a_new_catalogue_part_is_estimated_and_priced_in_the_basket(
    sandbox: httpx2.AsyncClient,
):
    job = await new_job(sandbox, "CCC-PARTS-1")
    identity = {"id": job["id"]}
    body = {
        "job_identity": identity,
        "parts": [
            {"description": "Front bumper cover assembly", "quantity": 2},
            {"description": "Wheel arch liner", "quantity": 1},
        ],
    }
    response = await call(sandbox, "repairer.jobs.parts.insert", body)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [(p["description"], p["quantity"], p["status"]) for p in items] == [
        ("Front bumper cover assembly", 2, "estimated"),
        ("Wheel arch liner", 1, "estimated"),
    ]
    basket = (await call(sandbox, "repairer.jobs.baskets.latest.get", {"job_identity": identity})).json()
    assert [(o["name"], o["supplier_business_id"], o["trade_price"]) for o in basket["offers"]] == [
        ("Toyota Genuine Front Bumper Cover", S1, "512.00"),
        ("Repco Front Bumper Cover", S2, "289.00"),
    ]
    assert all(o["job_part_ids"] == [items[0]["id"]] and o["quantity"] == 2 for o in basket["offers"])
    assert basket["suppliers"] == [
        {"business_id": S1, "name": "Christchurch Toyota — Parts"},
        {"business_id": S2, "name": "Repco Trade — Christchurch"},
    ]
    again = (await call(sandbox, "repairer.jobs.baskets.latest.get", {"job_identity": identity})).json()
    assert again == basket


async def test_a_part_without_identity_updates_the_part_with_the_same_description(
    sandbox: httpx2.AsyncClient,
):
    body = {
        "job_identity": JOB,
        "parts": [{"description": "  front BUMPER reinforcement ", "quantity": 2, "part_number": "52021-02"}],
    }
    response = await call(sandbox, "repairer.jobs.parts.insert", body)
    items = {p["id"]: p for p in response.json()["items"]}
    assert len(items) == 6
    assert items[part(2)]["quantity"] == 2
    assert items[part(2)]["part_number"] == "52021-02"
    basket = (await call(sandbox, "repairer.jobs.baskets.latest.get", {"job_identity": JOB})).json()
    reinforcement = [o for o in basket["offers"] if o["job_part_ids"] == [part(2)]]
    assert [o["quantity"] for o in reinforcement] == [2, 2]


async def test_a_part_keyed_by_external_is_created_once_then_updated(sandbox: httpx2.AsyncClient):
    def body(quantity: int) -> dict[str, Any]:
        return {
            "job_identity": JOB,
            "parts": [
                {"identity": {"external": "LINE-7"}, "description": "Grille emblem", "quantity": quantity}
            ],
        }

    first = (await call(sandbox, "repairer.jobs.parts.insert", body(1))).json()["items"]
    second = (await call(sandbox, "repairer.jobs.parts.insert", body(3))).json()["items"]
    assert len(first) == len(second) == 7
    assert second[-1]["id"] == first[-1]["id"]
    assert (second[-1]["external_id"], second[-1]["quantity"]) == ("LINE-7", 3)


async def test_parts_insert_never_deletes_unlisted_parts(sandbox: httpx2.AsyncClient):
    body = {"job_identity": JOB, "parts": [{"description": "Bonnet", "quantity": 1}]}
    items = (await call(sandbox, "repairer.jobs.parts.insert", body)).json()["items"]
    assert [p["id"] for p in items[:6]] == [part(n) for n in range(1, 7)]
    assert items[6]["description"] == "Bonnet"


async def test_an_ordered_part_stays_ordered_when_upserted_with_its_quantity(
    sandbox: httpx2.AsyncClient,
):
    body = {
        "job_identity": JOB,
        "parts": [{"identity": {"id": part(1)}, "description": "Front bumper cover", "quantity": 1}],
    }
    items = (await call(sandbox, "repairer.jobs.parts.insert", body)).json()["items"]
    assert items[0]["status"] == "ordered"


async def test_changing_the_quantity_of_an_ordered_part_is_a_bare_unprocessable(
    sandbox: httpx2.AsyncClient,
):
    body = {
        "job_identity": JOB,
        "parts": [{"identity": {"id": part(1)}, "description": "Front bumper cover", "quantity": 2}],
    }
    response = await call(sandbox, "repairer.jobs.parts.insert", body)
    assert (response.status_code, response.json()) == (422, "unprocessable")


async def test_a_part_id_from_outside_the_job_is_a_bare_unprocessable_and_nothing_is_saved(
    sandbox: httpx2.AsyncClient,
):
    body = {
        "job_identity": JOB,
        "parts": [
            {"description": "Bonnet", "quantity": 1},
            {"identity": {"id": MISSING}, "description": "Grille", "quantity": 1},
        ],
    }
    response = await call(sandbox, "repairer.jobs.parts.insert", body)
    assert (response.status_code, response.json()) == (422, "unprocessable")
    assert len(await parts_of(sandbox)) == 6


async def test_inserting_parts_on_an_unknown_job_is_a_bare_not_found(sandbox: httpx2.AsyncClient):
    body = {"job_identity": {"external": "nope"}, "parts": [{"description": "Bonnet", "quantity": 1}]}
    response = await call(sandbox, "repairer.jobs.parts.insert", body)
    assert (response.status_code, response.json()) == (404, "not_found")


@pytest.mark.parametrize(
    ("auth", "tenant", "body", "status", "code"),
    [
        (None, "t", {"job_identity": JOB, "parts": []}, 401, "unauthorized"),
        (SUPPLIER, "t", {"job_identity": JOB, "parts": []}, 403, "forbidden"),
        (REPAIRER, "t", {"job_identity": JOB, "parts": []}, 400, "bad_request"),
        (REPAIRER, "t", {"job_identity": {"external_id": "x"}, "parts": []}, 400, "bad_request"),
        (REPAIRER, "Bad Tenant", {"job_identity": JOB, "parts": []}, 400, "bad_request"),
    ],
)
async def test_every_parts_insert_error_is_a_bare_json_string(
    sandbox: httpx2.AsyncClient,
    auth: dict[str, str] | None,
    tenant: str,
    body: dict[str, Any],
    status: int,
    code: str,
):
    response = await call(sandbox, "repairer.jobs.parts.insert", body, auth=auth, tenant=tenant)
    assert (response.status_code, response.json()) == (status, code)


# --- repairer.jobs.baskets.latest.get --------------------------------------------------------


async def test_the_seeded_basket_is_the_twelve_offers_in_order_from_three_suppliers(
    sandbox: httpx2.AsyncClient,
):
    response = await call(sandbox, "repairer.jobs.baskets.latest.get", {"job_identity": JOB})
    assert response.status_code == 200
    basket = response.json()
    assert basket["offers"] == [
        {
            "name": name,
            "sellable_id": offer(n),
            "supplier_business_id": supplier,
            "job_part_ids": [part(p)],
            "quantity": 1,
            "trade_price": price,
            "condition": {"type": "new", "payload": {}},
        }
        for n, name, supplier, p, price in SEEDED_OFFERS
    ]
    assert basket["suppliers"] == [
        {"business_id": S1, "name": "Christchurch Toyota — Parts"},
        {"business_id": S2, "name": "Repco Trade — Christchurch"},
        {"business_id": S3, "name": "PartsMaster Aftermarket NZ"},
    ]


async def test_the_confirmable_supplier_offers_only_the_ordered_bumper_and_the_quickstart_pair(
    sandbox: httpx2.AsyncClient,
):
    """SPEC §1 (corrected): S1's unordered offers are 07 + 0a, the ~1,099 NZD order."""
    basket = (await call(sandbox, "repairer.jobs.baskets.latest.get", {"job_identity": JOB})).json()
    s1 = [o for o in basket["offers"] if o["supplier_business_id"] == S1]
    assert [o["sellable_id"] for o in s1] == [offer(0x01), offer(0x07), offer(0x0A)]
    ordered = {pid for pid, p in (await parts_of(sandbox)).items() if p["status"] == "ordered"}
    unordered = [o for o in s1 if not set(o["job_part_ids"]) & ordered]
    assert sum(float(o["trade_price"]) for o in unordered) == 1099.00
    uncovered = {part(n) for n in (2, 3, 5)}
    assert all(
        o["supplier_business_id"] != S1 for o in basket["offers"] if set(o["job_part_ids"]) & uncovered
    )


async def test_no_basket_carries_a_currency_anywhere(sandbox: httpx2.AsyncClient):
    await place_quickstart(sandbox)  # ordered parts keep their offers in the basket
    basket = (await call(sandbox, "repairer.jobs.baskets.latest.get", {"job_identity": JOB})).json()
    assert len(basket["offers"]) == 12
    assert not [k for k in walk_keys(basket) if "currency" in k]


async def test_a_job_without_priced_parts_has_an_empty_basket(sandbox: httpx2.AsyncClient):
    job = await new_job(sandbox, "EMPTY-1")
    response = await call(sandbox, "repairer.jobs.baskets.latest.get", {"job_identity": {"id": job["id"]}})
    assert (response.status_code, response.json()) == (200, {"offers": [], "suppliers": []})


async def test_the_basket_of_an_unknown_job_is_not_found(sandbox: httpx2.AsyncClient):
    body = {"job_identity": {"id": MISSING}}
    assert_error(await call(sandbox, "repairer.jobs.baskets.latest.get", body), 404, "not_found")


async def test_a_basket_request_with_both_identity_keys_is_a_bad_request(
    sandbox: httpx2.AsyncClient,
):
    body = {"job_identity": {"external": JOB_EXTERNAL, "id": JOB_ID}}
    assert_error(await call(sandbox, "repairer.jobs.baskets.latest.get", body), 400, "bad_request")


# --- repairer.procurements.get / list ----------------------------------------------------------


async def test_the_seeded_pr1_reads_back_in_the_buyer_view(sandbox: httpx2.AsyncClient):
    response = await call(sandbox, "repairer.procurements.get", {"identity": {"id": PR1}})
    assert response.status_code == 200
    assert response.json() == {
        "id": PR1,
        "job_id": JOB_ID,
        "reference": "PR-1",
        "status": "order_requested",
        "currency_code": "NZD",
        "created_at": "2026-01-12T21:30:00Z",
        "updated_at": "2026-01-12T21:30:00Z",
        "source_items": [
            {
                "id": "11000000-0000-4000-8000-000000000001",
                "sellable_id": offer(1),
                "name": "Toyota Genuine Front Bumper Cover",
                "job_part_ids": [part(1)],
                "quantity": 1,
                "trade_price": "512.00",
                "condition": {"type": "new", "payload": {}},
            }
        ],
        "total_shipping_price": None,
        "vehicle": SEEDED_JOB["vehicle"],
        "supplier_business": {"id": S1, "name": "Christchurch Toyota — Parts"},
        "supplier_organization": {
            "id": "01000000-0000-4000-8000-000000000010",
            "name": "Christchurch Toyota Ltd",
        },
    }


async def test_getting_an_unknown_procurement_is_not_found(sandbox: httpx2.AsyncClient):
    body = {"identity": {"id": MISSING}}
    assert_error(await call(sandbox, "repairer.procurements.get", body), 404, "not_found")


async def test_the_supplier_credential_cannot_use_the_buyer_view(sandbox: httpx2.AsyncClient):
    body = {"identity": {"id": PR1}}
    response = await call(sandbox, "repairer.procurements.get", body, auth=SUPPLIER)
    assert_error(response, 403, "forbidden")


async def test_listing_procurements_of_the_job_shows_pr1_then_new_orders(
    sandbox: httpx2.AsyncClient,
):
    listed = (await call(sandbox, "repairer.procurements.list", {"job_identity": JOB})).json()
    assert [p["reference"] for p in listed["items"]] == ["PR-1"]
    placed = await place_quickstart(sandbox)
    listed = (await call(sandbox, "repairer.procurements.list", {"job_identity": JOB})).json()
    assert [(p["id"], p["reference"]) for p in listed["items"]] == [(PR1, "PR-1"), (placed, "PR-2")]


async def test_listing_procurements_of_a_job_without_orders_is_empty(sandbox: httpx2.AsyncClient):
    job = await new_job(sandbox, "NO-ORDERS")
    listed = await call(sandbox, "repairer.procurements.list", {"job_identity": {"id": job["id"]}})
    assert listed.json() == {"items": []}


async def test_listing_procurements_of_an_unknown_job_is_not_found(sandbox: httpx2.AsyncClient):
    body = {"job_identity": {"external": "nope"}}
    assert_error(await call(sandbox, "repairer.procurements.list", body), 404, "not_found")


# --- repairer.work-providers.list ------------------------------------------------------------


async def test_the_three_seeded_insurers_are_the_work_providers(sandbox: httpx2.AsyncClient):
    response = await call(sandbox, "repairer.work-providers.list", {})
    assert response.json() == {
        "items": [
            {"id": AMI, "name": "AMI Insurance"},
            {"id": "0a000000-0000-4000-8000-000000000021", "name": "State Insurance"},
            {"id": "0a000000-0000-4000-8000-000000000022", "name": "Tower Insurance"},
        ]
    }


async def test_work_providers_are_forbidden_to_the_supplier(sandbox: httpx2.AsyncClient):
    response = await call(sandbox, "repairer.work-providers.list", {}, auth=SUPPLIER)
    assert_error(response, 403, "forbidden")


# --- supplier.procurements.get / confirm -----------------------------------------------------


async def test_the_supplier_sees_pr1_with_the_buyer_and_its_shipping_address(
    sandbox: httpx2.AsyncClient,
):
    response = await call(sandbox, "supplier.procurements.get", {"identity": {"id": PR1}}, auth=SUPPLIER)
    assert response.status_code == 200
    body = response.json()
    assert body["reference"] == "PR-1"
    assert body["buyer_business"] == {"id": SITE, "name": "Riccarton Collision Centre"}
    assert body["buyer_organization"] == {
        "id": "01000000-0000-4000-8000-000000000001",
        "name": "Riccarton Collision Ltd",
    }
    assert body["buyer_shipping_address"] == {
        "line1": "120 Riccarton Road",
        "line2": None,
        "city": "Christchurch",
        "region": "Canterbury",
        "postal_code": "8011",
        "country_code": "NZ",
    }
    assert "supplier_business" not in body


async def test_a_supplier_method_with_the_repairer_key_is_forbidden(sandbox: httpx2.AsyncClient):
    for method in ("supplier.procurements.get", "supplier.procurements.confirm"):
        response = await call(sandbox, method, {"identity": {"id": PR1}})
        assert_error(response, 403, "forbidden")


async def test_a_procurement_placed_with_another_supplier_is_not_found_for_s1(
    sandbox: httpx2.AsyncClient,
):
    placed = await call(
        sandbox,
        "repairer.procurements.insert",
        {"job_identity": JOB, "offer_selections": [selection(0x08, S3, 4)]},
    )
    other = placed.json()["procurement"]["id"]
    for method in ("supplier.procurements.get", "supplier.procurements.confirm"):
        response = await call(sandbox, method, {"identity": {"id": other}}, auth=SUPPLIER)
        assert_error(response, 404, "not_found")
    still = await call(sandbox, "repairer.procurements.get", {"identity": {"id": other}})
    assert still.json()["status"] == "order_requested"


async def test_confirming_pr1_moves_it_to_order_confirmed_with_a_512_invoice(
    sandbox: httpx2.AsyncClient,
):
    response = await call(sandbox, "supplier.procurements.confirm", {"identity": {"id": PR1}}, auth=SUPPLIER)
    assert response.status_code == 200
    assert response.json()["status"] == "order_confirmed"
    invoices = await call(
        sandbox, "repairer.procurements.invoices.list", {"procurement_identity": {"id": PR1}}
    )
    [invoice] = invoices.json()["items"]
    assert (invoice["total"], invoice["currency_code"]) == ("512.00", "NZD")


async def test_confirming_twice_returns_the_order_unchanged_and_creates_no_second_invoice(
    sandbox: httpx2.AsyncClient,
):
    body = {"identity": {"id": PR1}}
    first = await call(sandbox, "supplier.procurements.confirm", body, auth=SUPPLIER, tenant="t")
    second = await call(sandbox, "supplier.procurements.confirm", body, auth=SUPPLIER, tenant="t")
    assert second.status_code == 200
    assert second.json() == first.json()
    listed = await call(sandbox, "repairer.procurements.invoices.list", {"procurement_identity": {"id": PR1}})
    assert len(listed.json()["items"]) == 1


async def test_confirming_an_unknown_procurement_is_not_found(sandbox: httpx2.AsyncClient):
    body = {"identity": {"id": MISSING}}
    response = await call(sandbox, "supplier.procurements.confirm", body, auth=SUPPLIER)
    assert_error(response, 404, "not_found")


# --- tier1.prepare ---------------------------------------------------------------------------


async def test_valid_vins_and_plates_are_accepted_without_changing_any_state(
    sandbox: httpx2.AsyncClient, sandbox_app: Starlette
):
    await call(sandbox, "repairer.jobs.get", {"identity": JOB})  # seed the tenant
    store = sandbox_app.state.sandbox.store
    before = store.peek("t")
    body = {
        "identifiers": [
            {"vin": "JTDBR32E730012345"},
            {"vin": " jtdbr32e730012345 "},
            {"vrm": "MJL472"},
            {"vrm": "mjl 472"},
            {"vrm": "AB-12"},
        ]
    }
    response = await call(sandbox, "tier1.prepare", body)
    assert response.json() == {"invalid_identifiers": []}
    assert store.peek("t") == before


async def test_invalid_identifiers_are_listed_each_with_a_specific_reason(
    sandbox: httpx2.AsyncClient,
):
    body = {
        "identifiers": [
            {"vin": "JTDBR32E73001234"},
            {"vin": "JTDBR32E73OO12345"},
            {"vin": "JTDBR32E7300123-5"},
            {"vrm": "ABCDEFGH9"},
            {"vrm": "AB!12"},
            {"vrm": " - "},
            {"vin": "JTDBR32E730012345"},
        ]
    }
    response = await call(sandbox, "tier1.prepare", body)
    invalid = response.json()["invalid_identifiers"]
    assert [i["identifier"] for i in invalid] == body["identifiers"][:6]
    reasons = [i["reason"] for i in invalid]
    assert "exactly 17 characters; this one has 16" in reasons[0]
    assert "I, O or Q" in reasons[1]
    assert "'-'" in reasons[2]
    assert "at most 8 letters and digits; this one has 9" in reasons[3]
    assert "!" in reasons[4]
    assert "at least one" in reasons[5]


async def test_preparing_vehicles_without_credentials_is_unauthorized(sandbox: httpx2.AsyncClient):
    body = {"identifiers": [{"vin": "JTDBR32E730012345"}]}
    assert_error(await call(sandbox, "tier1.prepare", body, auth=None), 401, "unauthorized")


async def test_an_identifier_with_both_vin_and_vrm_is_a_bad_request(sandbox: httpx2.AsyncClient):
    body = {"identifiers": [{"vin": "JTDBR32E730012345", "vrm": "MJL472"}]}
    assert_error(await call(sandbox, "tier1.prepare", body), 400, "bad_request")


# --- uploads.prepare -------------------------------------------------------------------------


async def test_an_upload_gets_a_signed_url_and_a_public_url_on_the_request_base(
    sandbox: httpx2.AsyncClient,
):
    body = {"file_name": "estimate.jpg", "media_type": "image", "type": "job_media"}
    response = await call(sandbox, "uploads.prepare", body)
    assert response.status_code == 200
    urls = response.json()
    match = re.fullmatch(
        r"http://sandbox/uploads/([0-9a-f-]{36})\?signature=[0-9a-f]{32}", urls["upload_url"]
    )
    assert match
    assert urls["public_url"] == f"http://sandbox/uploads/{match.group(1)}"


@pytest.mark.parametrize(
    "change",
    [
        {"media_type": " "},
        {"type": " "},
        {"file_name": "../etc/passwd"},
        {"file_name": "a/b.jpg"},
        {"file_name": "a\\b.jpg"},
        {"file_name": "x..jpg"},
    ],
)
async def test_an_upload_with_a_path_or_blank_field_is_unprocessable(
    sandbox: httpx2.AsyncClient, change: dict[str, str]
):
    body = {"file_name": "estimate.jpg", "media_type": "image", "type": "job_media", **change}
    assert_error(await call(sandbox, "uploads.prepare", body), 422, "unprocessable")


async def test_uploads_are_forbidden_to_the_supplier(sandbox: httpx2.AsyncClient):
    body = {"file_name": "estimate.jpg", "media_type": "image", "type": "job_media"}
    assert_error(await call(sandbox, "uploads.prepare", body, auth=SUPPLIER), 403, "forbidden")


# --- repairer.procurements.insert (extension) ------------------------------------------------


async def test_placing_creates_pr2_from_the_offers_and_orders_its_parts(
    sandbox: httpx2.AsyncClient,
):
    response = await call(
        sandbox,
        "repairer.procurements.insert",
        {"job_identity": JOB, "offer_selections": QUICKSTART_SELECTIONS},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["x_extension"] is True
    p = body["procurement"]
    assert (p["reference"], p["status"], p["currency_code"], p["job_id"]) == (
        "PR-2",
        "order_requested",
        "NZD",
        JOB_ID,
    )
    assert p["total_shipping_price"] is None
    assert p["vehicle"] == SEEDED_JOB["vehicle"]
    assert p["supplier_business"] == {"id": S1, "name": "Christchurch Toyota — Parts"}
    assert [(s["sellable_id"], s["trade_price"], s["name"]) for s in p["source_items"]] == [
        (offer(7), "631.00", "Toyota Genuine Headlamp RH"),
        (offer(0x0A), "468.00", "Toyota Genuine Radiator Support"),
    ]
    parts = await parts_of(sandbox)
    assert [parts[part(n)]["status"] for n in range(1, 7)] == [
        "ordered",
        "estimated",
        "estimated",
        "ordered",
        "estimated",
        "ordered",
    ]
    read = await call(sandbox, "repairer.procurements.get", {"identity": {"id": p["id"]}})
    assert read.json() == p


@pytest.mark.parametrize(
    "selections",
    [
        pytest.param([selection(0x07, S1, 4) | {"sellable_id": MISSING}], id="not-in-basket"),
        pytest.param([selection(0x07, S3, 4)], id="wrong-supplier"),
        pytest.param([selection(0x07, S1, 5)], id="wrong-parts"),
        pytest.param([selection(0x07, S1, 4) | {"job_part_ids": [part(4), part(4)]}], id="part-repeated"),
        pytest.param([selection(0x07, S1, 4, quantity=2)], id="wrong-quantity"),
        pytest.param([selection(0x07, S1, 4), selection(0x0B, S2, 6)], id="two-suppliers"),
        pytest.param([selection(0x01, S1, 1)], id="already-ordered"),
        pytest.param([selection(0x07, S1, 4), selection(0x07, S1, 4)], id="offer-twice"),
        pytest.param([selection(0x07, S1, 4), selection(0x08, S3, 4)], id="part-twice"),
    ],
)
async def test_a_placement_breaking_a_basket_rule_is_unprocessable_and_orders_nothing(
    sandbox: httpx2.AsyncClient, selections: list[dict[str, Any]]
):
    body = {"job_identity": JOB, "offer_selections": selections}
    assert_error(await call(sandbox, "repairer.procurements.insert", body), 422, "unprocessable")
    parts = await parts_of(sandbox)
    assert [p["status"] for p in parts.values()] == ["ordered"] + ["estimated"] * 5
    listed = (await call(sandbox, "repairer.procurements.list", {"job_identity": JOB})).json()
    assert len(listed["items"]) == 1


async def test_placing_on_an_unknown_job_is_not_found(sandbox: httpx2.AsyncClient):
    body = {"job_identity": {"external": "nope"}, "offer_selections": QUICKSTART_SELECTIONS}
    assert_error(await call(sandbox, "repairer.procurements.insert", body), 404, "not_found")


async def test_placing_with_no_selections_is_a_bad_request(sandbox: httpx2.AsyncClient):
    body = {"job_identity": JOB, "offer_selections": []}
    assert_error(await call(sandbox, "repairer.procurements.insert", body), 400, "bad_request")


async def test_placing_the_offers_of_a_newly_identified_part_works(sandbox: httpx2.AsyncClient):
    job = await new_job(sandbox, "NEW-PLACE")
    identity = {"id": job["id"]}
    await call(
        sandbox,
        "repairer.jobs.parts.insert",
        {"job_identity": identity, "parts": [{"description": "Radiator support", "quantity": 2}]},
    )
    basket = (await call(sandbox, "repairer.jobs.baskets.latest.get", {"job_identity": identity})).json()
    genuine = basket["offers"][0]
    assert genuine["supplier_business_id"] == S1
    chosen = {k: genuine[k] for k in ("sellable_id", "supplier_business_id", "job_part_ids", "quantity")}
    placed = await call(
        sandbox,
        "repairer.procurements.insert",
        {"job_identity": identity, "offer_selections": [chosen]},
    )
    assert placed.status_code == 200
    pid = placed.json()["procurement"]["id"]
    await call(sandbox, "supplier.procurements.confirm", {"identity": {"id": pid}}, auth=SUPPLIER)
    invoices = await call(sandbox, "repairer.procurements.invoices.list", {"job_identity": identity})
    [invoice] = invoices.json()["items"]
    assert invoice["total"] == "936.00"
    assert invoice["line_items"][0]["unit_price"] == "468.00"
    assert invoice["line_items"][0]["quantity"] == 2


# --- repairer.procurements.invoices.list / get (extensions) ----------------------------------


async def test_a_procurement_has_no_invoice_before_it_is_confirmed(sandbox: httpx2.AsyncClient):
    placed = await place_quickstart(sandbox)
    for body in ({"procurement_identity": {"id": placed}}, {"job_identity": JOB}):
        response = await call(sandbox, "repairer.procurements.invoices.list", body)
        assert response.json() == {"x_extension": True, "items": []}


@pytest.mark.parametrize(
    "body",
    [{}, {"procurement_identity": {"id": PR1}, "job_identity": JOB}],
    ids=["neither", "both"],
)
async def test_invoices_need_exactly_one_selector(sandbox: httpx2.AsyncClient, body: dict[str, Any]):
    assert_error(await call(sandbox, "repairer.procurements.invoices.list", body), 400, "bad_request")


@pytest.mark.parametrize(
    "body",
    [{"procurement_identity": {"id": MISSING}}, {"job_identity": {"external": "nope"}}],
    ids=["procurement", "job"],
)
async def test_invoices_of_an_unknown_procurement_or_job_are_not_found(
    sandbox: httpx2.AsyncClient, body: dict[str, Any]
):
    assert_error(await call(sandbox, "repairer.procurements.invoices.list", body), 404, "not_found")


async def test_an_invoice_reads_back_by_its_own_id(sandbox: httpx2.AsyncClient):
    await call(sandbox, "supplier.procurements.confirm", {"identity": {"id": PR1}}, auth=SUPPLIER)
    listed = await call(sandbox, "repairer.procurements.invoices.list", {"job_identity": JOB})
    [invoice] = listed.json()["items"]
    read = await call(sandbox, "repairer.procurements.invoices.get", {"identity": {"id": invoice["id"]}})
    assert read.json() == {"x_extension": True, "invoice": invoice}


async def test_getting_an_unknown_invoice_is_not_found(sandbox: httpx2.AsyncClient):
    body = {"identity": {"id": MISSING}}
    assert_error(await call(sandbox, "repairer.procurements.invoices.get", body), 404, "not_found")


async def test_invoices_are_forbidden_to_the_supplier(sandbox: httpx2.AsyncClient):
    body = {"job_identity": JOB}
    response = await call(sandbox, "repairer.procurements.invoices.list", body, auth=SUPPLIER)
    assert_error(response, 403, "forbidden")
