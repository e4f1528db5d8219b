"""Where the sandbox follows the documents to the letter (issue 9's fidelity audit)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import jsonschema
import pytest

from rails_mcp.wire.methods import METHODS
from tests.support.sandbox_support import (
    API,
    JOB,
    JOB_ID,
    QUICKSTART_SELECTIONS,
    REPAIRER,
    SITE,
    SUPPLIER,
    asgi_client,
    call,
    part,
    place_quickstart,
)

pytestmark = pytest.mark.anyio


# --- /openapi.json speaks the published type names ---------------------------------------------


PUBLISHED = [
    "procurements.v1.buyer.Procurement",
    "procurements.v1.buyer.SourceItem",
    "procurements.v1.buyer.SupplierBusiness",
    "procurements.v1.buyer.SupplierOrganization",
    "procurements.v1.buyer.Status",
    "procurements.v1.buyer.ProcurementsListResponse",
    "procurements.v1.repairer.ProcurementsListRequest",
    "procurements.v1.supplier.Procurement",
    "procurements.v1.supplier.SourceItem",
    "procurements.v1.supplier.BuyerBusiness",
    "procurements.v1.supplier.BuyerOrganization",
    "procurements.v1.Address",
    "procurements.v1.Vehicle",
    "JobV1",
    "OfferV1",
    "PartV1",
    "PartStatusV1",
    "BasketsLatestGetResponseV1",
    "IntegrationsInstallRequestV1",
    "UploadsPrepareResponseV1",
    "WorkProvidersListRequestV1",
]


def schema_for(document: dict[str, Any], ref_or_schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    ref = ref_or_schema.get("$ref")
    schema = dict(ref_or_schema if ref is None else document["components"]["schemas"][ref.rsplit("/", 1)[1]])
    schema["components"] = document["components"]
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def response_validator(document: dict[str, Any], method: str) -> jsonschema.Draft202012Validator:
    operation = document["paths"][API + method]["post"]
    return schema_for(document, operation["responses"]["200"]["content"]["application/json"]["schema"])


async def test_openapi_uses_the_published_schema_names_and_none_of_ours(sandbox: httpx2.AsyncClient):
    document = (await sandbox.get("/openapi.json")).json()
    names = set(document["components"]["schemas"])
    assert document["openapi"] == "3.1.0"
    assert set(PUBLISHED) <= names
    ours = {
        "BuyerProcurementV1",
        "SupplierProcurementV1",
        "SourceItemV1",
        "AddressV1",
        "ProcurementVehicleV1",
    }
    assert not names & ours
    text = (await sandbox.get("/openapi.json")).text
    assert all(f'/schemas/{name}"' not in text for name in ours)


async def test_buyer_and_supplier_source_items_are_separate_schemas(sandbox: httpx2.AsyncClient):
    schemas = (await sandbox.get("/openapi.json")).json()["components"]["schemas"]
    buyer = schemas["procurements.v1.buyer.Procurement"]["properties"]["source_items"]["items"]["$ref"]
    supplier = schemas["procurements.v1.supplier.Procurement"]["properties"]["source_items"]["items"]["$ref"]
    assert buyer.endswith("/procurements.v1.buyer.SourceItem")
    assert supplier.endswith("/procurements.v1.supplier.SourceItem")


async def test_optional_fields_are_not_required_as_published(sandbox: httpx2.AsyncClient):
    schemas = (await sandbox.get("/openapi.json")).json()["components"]["schemas"]
    assert sorted(schemas["JobV1"]["required"]) == ["id", "images", "repairer_site_id"]
    assert sorted(schemas["UploadsPrepareResponseV1"]["required"]) == ["public_url", "upload_url"]
    assert "part_number" not in schemas["PartV1"]["required"]
    assert "currency_code" in schemas["procurements.v1.buyer.Procurement"]["required"]


async def test_requests_the_reference_shows_inline_are_inline(sandbox: httpx2.AsyncClient):
    document = (await sandbox.get("/openapi.json")).json()
    for method in ("repairer.jobs.get", "repairer.procurements.get", "supplier.procurements.confirm"):
        body = document["paths"][API + method]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert "$ref" not in body
        assert body["required"] == ["identity"]
    listed = document["paths"][API + "repairer.procurements.list"]["post"]["requestBody"]
    assert listed["content"]["application/json"]["schema"]["$ref"].endswith(
        "/procurements.v1.repairer.ProcurementsListRequest"
    )


async def test_real_answers_validate_against_the_published_schemas(sandbox: httpx2.AsyncClient):
    public = (await sandbox.get("/openapi.json")).json()
    extensions = (await sandbox.get("/openapi.extensions.json")).json()
    pid = await place_quickstart(sandbox)
    cash = await call(
        sandbox, "repairer.jobs.insert", {"identity": {"external": "CASH-1"}, "repairer_site_id": SITE}
    )
    answers = {
        "repairer.jobs.get": (await call(sandbox, "repairer.jobs.get", {"identity": JOB})).json(),
        "repairer.procurements.get": (
            await call(sandbox, "repairer.procurements.get", {"identity": {"id": pid}})
        ).json(),
        "supplier.procurements.confirm": (
            await call(sandbox, "supplier.procurements.confirm", {"identity": {"id": pid}}, auth=SUPPLIER)
        ).json(),
        "repairer.procurements.list": (
            await call(sandbox, "repairer.procurements.list", {"job_identity": JOB})
        ).json(),
        "repairer.jobs.baskets.latest.get": (
            await call(sandbox, "repairer.jobs.baskets.latest.get", {"job_identity": JOB})
        ).json(),
    }
    for method, answer in answers.items():
        response_validator(public, method).validate(answer)
    response_validator(public, "repairer.jobs.insert").validate(cash.json())  # nulls allowed
    without_optionals = {k: v for k, v in cash.json().items() if v is not None}
    response_validator(public, "repairer.jobs.insert").validate(without_optionals)
    invoices = await call(
        sandbox, "repairer.procurements.invoices.list", {"procurement_identity": {"id": pid}}
    )
    response_validator(extensions, "repairer.procurements.invoices.list").validate(invoices.json())


# --- /llms.txt and /llms-full.txt -------------------------------------------------------------------


async def test_llms_txt_indexes_every_machine_readable_surface_and_method(sandbox: httpx2.AsyncClient):
    response = await sandbox.get("/llms.txt")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert text.startswith("# ")
    for surface in ("/openapi.json", "/openapi.extensions.json", "/llms-full.txt", "/__webhooks/subscribe"):
        assert f"]({surface})" in text
    for name in METHODS:
        assert f"[{name}]({API}{name})" in text
    for surface in ("/openapi.json", "/openapi.extensions.json", "/llms-full.txt", "/healthz"):
        assert (await sandbox.get(surface)).status_code == 200


async def test_llms_full_txt_documents_every_method_its_errors_and_the_webhooks(sandbox: httpx2.AsyncClient):
    response = await sandbox.get("/llms-full.txt")
    assert response.status_code == 200
    text = response.text
    for name, spec in METHODS.items():
        section = text.split(f"### {name}\n", 1)[1].split("###", 1)[0]
        assert ", ".join(spec.errors) in section
    for fact in ("partly-hmac-sha256", "url_not_loopback", "site_job_number", "x_extension", "1099.00"):
        assert fact in text


# --- uploads ------------------------------------------------------------------------------------------


async def prepare_upload(client: httpx2.AsyncClient, media_type: str = "image/jpeg") -> dict[str, str]:
    body = {"file_name": "estimate.jpg", "media_type": media_type, "type": "job_media"}
    response = await call(client, "uploads.prepare", body)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("media_type", ["image", "image/jpeg", "application/pdf", "video"])
async def test_media_type_is_free_text_as_documented(sandbox: httpx2.AsyncClient, media_type: str):
    await prepare_upload(sandbox, media_type)


async def test_a_put_to_the_upload_url_stores_the_bytes_served_at_the_public_url(sandbox: httpx2.AsyncClient):
    urls = await prepare_upload(sandbox)
    photo = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40
    put = await sandbox.put(urls["upload_url"], content=photo, headers={"content-type": "image/jpeg"})
    assert put.status_code == 200
    assert put.json()["size"] == len(photo)
    fetched = await sandbox.get(urls["public_url"])
    assert (fetched.status_code, fetched.content, fetched.headers["content-type"]) == (
        200,
        photo,
        "image/jpeg",
    )


async def test_an_upload_url_with_a_wrong_signature_stores_nothing(sandbox: httpx2.AsyncClient):
    urls = await prepare_upload(sandbox)
    forged = urls["upload_url"].rsplit("=", 1)[0] + "=" + "0" * 32
    put = await sandbox.put(forged, content=b"x")
    assert (put.status_code, put.json()) == (403, {"type": "forbidden"})
    unsigned = await sandbox.put(urls["public_url"], content=b"x")
    assert unsigned.status_code == 403
    assert (await sandbox.get(urls["public_url"])).status_code == 404


async def test_an_upload_over_the_size_cap_is_payload_too_large_and_stores_nothing(tmp_path: Path):
    async with asgi_client(tmp_path / "u.db", max_upload_bytes=1024) as client:
        urls = await prepare_upload(client)
        too_big = await client.put(urls["upload_url"], content=b"x" * 1025)
        assert (too_big.status_code, too_big.json()) == (413, {"type": "payload_too_large"})

        async def stream() -> AsyncIterator[bytes]:
            for _ in range(3):
                yield b"y" * 600

        streamed = await client.put(urls["upload_url"], content=stream())
        assert streamed.status_code == 413
        assert (await client.get(urls["public_url"])).status_code == 404
        assert (await client.put(urls["upload_url"], content=b"x" * 1024)).status_code == 200


async def test_the_default_upload_cap_is_ten_mebibytes(sandbox: httpx2.AsyncClient):
    urls = await prepare_upload(sandbox)
    over = await sandbox.put(urls["upload_url"], content=b"\0" * (10 * 1024 * 1024 + 1))
    assert over.status_code == 413


# --- repairer.jobs.get by site and job number -----------------------------------------------------


async def test_a_job_reads_back_by_its_site_and_job_number(sandbox: httpx2.AsyncClient):
    identity = {"site_job_number": {"repairer_site_id": SITE, "job_number": "J-4817"}}
    response = await call(sandbox, "repairer.jobs.get", {"identity": identity})
    assert response.status_code == 200
    assert response.json() == (await call(sandbox, "repairer.jobs.get", {"identity": JOB})).json()
    assert response.json()["id"] == JOB_ID


@pytest.mark.parametrize(
    "key",
    [
        {"repairer_site_id": SITE, "job_number": "J-0000"},
        {"repairer_site_id": "0b000000-0000-4000-8000-000000000010", "job_number": "J-4817"},
    ],
)
async def test_an_unknown_site_and_job_number_is_not_found(sandbox: httpx2.AsyncClient, key: dict[str, str]):
    response = await call(sandbox, "repairer.jobs.get", {"identity": {"site_job_number": key}})
    assert (response.status_code, response.json()) == (404, {"type": "not_found"})


async def test_site_and_job_number_is_only_a_jobs_get_identity(sandbox: httpx2.AsyncClient):
    identity = {"site_job_number": {"repairer_site_id": SITE, "job_number": "J-4817"}}
    response = await call(sandbox, "repairer.jobs.parts.list", {"job_identity": identity})
    assert (response.status_code, response.json()) == (400, {"type": "bad_request"})


# --- documented error unions and empty bodies -------------------------------------------------------


async def test_tier1_prepare_with_a_supplier_credential_is_unauthorized_its_only_error(
    sandbox: httpx2.AsyncClient,
):
    body = {"identifiers": [{"vin": "JTDBR32E730012345"}]}
    response = await call(sandbox, "tier1.prepare", body, auth=SUPPLIER)
    assert (response.status_code, response.json()) == (401, {"type": "unauthorized"})
    assert METHODS["tier1.prepare"].errors == ("unauthorized",)


@pytest.mark.parametrize("content", [b"", b"  \n"])
async def test_work_providers_with_an_empty_body_lists_the_insurers(
    sandbox: httpx2.AsyncClient, content: bytes
):
    response = await sandbox.post(
        API + "repairer.work-providers.list", content=content, headers={**REPAIRER, "x-partifact-tenant": "t"}
    )
    assert response.status_code == 200
    assert [w["name"] for w in response.json()["items"]] == [
        "AMI Insurance",
        "State Insurance",
        "Tower Insurance",
    ]


async def test_an_empty_body_is_still_a_bad_request_where_fields_are_required(sandbox: httpx2.AsyncClient):
    response = await sandbox.post(API + "repairer.jobs.get", content=b"", headers=REPAIRER)
    assert (response.status_code, response.json()) == (400, {"type": "bad_request"})


# --- a confirmed order's parts are locked -------------------------------------------------------------


async def confirmed_quickstart(client: httpx2.AsyncClient) -> None:
    pid = await place_quickstart(client)
    confirmed = await call(client, "supplier.procurements.confirm", {"identity": {"id": pid}}, auth=SUPPLIER)
    assert confirmed.status_code == 200


async def parts(client: httpx2.AsyncClient) -> list[dict[str, Any]]:
    return (await call(client, "repairer.jobs.parts.list", {"job_identity": JOB})).json()["items"]


@pytest.mark.parametrize(
    "change",
    [
        {"description": "Headlamp assembly RH (LED)", "quantity": 1},
        {"description": "Headlamp assembly RH", "quantity": 1, "part_number": "81130-02K10"},
        {"description": "Headlamp assembly RH", "quantity": 2},
    ],
)
async def test_a_confirmed_parts_description_number_and_quantity_are_locked(
    sandbox: httpx2.AsyncClient, change: dict[str, Any]
):
    await confirmed_quickstart(sandbox)
    before = await parts(sandbox)
    body = {
        "job_identity": JOB,
        "parts": [
            {"description": "Grille assembly", "quantity": 1, "part_number": "53111-02A"},
            {"identity": {"id": part(4)}, **change},
        ],
    }
    response = await call(sandbox, "repairer.jobs.parts.insert", body)
    assert (response.status_code, response.json()) == (422, "unprocessable")
    assert await parts(sandbox) == before  # the grille's change in the same call is not saved either


async def test_upserting_a_confirmed_part_unchanged_is_accepted(sandbox: httpx2.AsyncClient):
    await confirmed_quickstart(sandbox)
    before = await parts(sandbox)
    body = {
        "job_identity": JOB,
        "parts": [{"identity": {"id": part(4)}, "description": "Headlamp assembly RH", "quantity": 1}],
    }
    response = await call(sandbox, "repairer.jobs.parts.insert", body)
    assert response.status_code == 200
    assert await parts(sandbox) == before


async def test_parts_of_an_unconfirmed_order_or_no_order_can_still_be_described(sandbox: httpx2.AsyncClient):
    await place_quickstart(sandbox)  # ordered, not yet confirmed
    body = {
        "job_identity": JOB,
        "parts": [
            {"identity": {"id": part(4)}, "description": "Headlamp assembly RH (LED)", "quantity": 1},
            {"identity": {"id": part(2)}, "description": "Front bumper reinforcement bar", "quantity": 1},
        ],
    }
    response = await call(sandbox, "repairer.jobs.parts.insert", body)
    assert response.status_code == 200
    described = {p["id"]: p["description"] for p in response.json()["items"]}
    assert described[part(4)] == "Headlamp assembly RH (LED)"
    assert described[part(2)] == "Front bumper reinforcement bar"


async def test_the_quickstart_order_is_the_confirmable_suppliers_two_parts_for_1099(
    sandbox: httpx2.AsyncClient,
):
    body = {"job_identity": JOB, "offer_selections": QUICKSTART_SELECTIONS}
    placed = (await call(sandbox, "repairer.procurements.insert", body)).json()["procurement"]
    assert sum(float(i["trade_price"]) for i in placed["source_items"]) == 1099.00
