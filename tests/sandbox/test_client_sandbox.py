"""The typed client against the embedded sandbox in-process: one contract, two sides.

Every call goes client → ``httpx2.ASGITransport`` → sandbox, so a model the client and the
sandbox disagree on fails here.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

import httpx2
import pytest

from rails_mcp.client import Credentials, RailsClient
from rails_mcp.config import DEMO_REPAIRER, DEMO_SUPPLIER
from rails_mcp.sandbox import create_app
from rails_mcp.wire import errors as e
from rails_mcp.wire import models as m

pytestmark = pytest.mark.anyio

JOB = m.ExternalIdentity(external="CCC-2026-04817")
JOB_ID = UUID("0d000000-0000-4000-8000-000000000001")
SITE = UUID("0b000000-0000-4000-8000-000000000001")
S1 = UUID("0b000000-0000-4000-8000-000000000010")
S2 = UUID("0b000000-0000-4000-8000-000000000011")
AMI = UUID("0a000000-0000-4000-8000-000000000020")
PR1 = m.IdIdentity(id=UUID("10000000-0000-4000-8000-000000000001"))
MISSING = UUID("99999999-0000-4000-8000-000000000099")


def offer(n: int) -> UUID:
    return UUID(f"0f000000-0000-4000-8000-{n:012x}")


def part(n: int) -> UUID:
    return UUID(f"0e000000-0000-4000-8000-{n:012x}")


QUICKSTART = [
    m.OfferSelectionV1(sellable_id=offer(7), supplier_business_id=S1, job_part_ids=[part(4)], quantity=1),
    m.OfferSelectionV1(sellable_id=offer(10), supplier_business_id=S1, job_part_ids=[part(6)], quantity=1),
]


def rails_for(db: Path, tenant: str | None = "client", **creds: Credentials | None) -> RailsClient:
    return RailsClient(
        base_url="http://sandbox",
        repairer=creds.get("repairer", Credentials(*DEMO_REPAIRER)),
        supplier=creds.get("supplier", Credentials(*DEMO_SUPPLIER)),
        tenant=tenant,
        transport=httpx2.ASGITransport(app=create_app(db)),
    )


@pytest.fixture
async def rails(tmp_path: Path) -> AsyncIterator[RailsClient]:
    async with rails_for(tmp_path / "s.db") as client:
        yield client


async def test_the_quickstart_steps_1_to_7_replay_through_the_typed_client(rails: RailsClient):
    minted = await rails.integrations.insert(
        access_code="ac_demo_valid_15m", client_id="partly_client_demo", client_secret="secret_demo_8f3a"
    )
    assert re.fullmatch(r"partly_[0-9a-f]{32}", minted.api_key)
    rails.repairer_credentials = Credentials(minted.api_key, str(minted.integration_id))

    job = await rails.repairer.jobs.get(identity=JOB)
    assert (job.id, job.job_number, job.claim_number) == (JOB_ID, "J-4817", "AMI-CLM-771204")
    assert job.vehicle == m.VehicleV1(
        chassis_number="JTDBR32E730012345", plate_number="MJL472", plate_state="NZ"
    )

    basket = await rails.repairer.jobs.baskets.latest.get(job_identity=JOB)
    assert len(basket.offers) == 12
    assert len(basket.suppliers) == 3

    placed = await rails.repairer.procurements.insert(job_identity=JOB, offer_selections=QUICKSTART)
    assert placed.x_extension is True
    assert placed.procurement.status is m.ProcurementStatus.ORDER_REQUESTED
    assert placed.procurement.currency_code == "NZD"
    assert placed.procurement.supplier_business.name == "Christchurch Toyota — Parts"

    confirmed = await rails.supplier.procurements.confirm(identity=m.IdIdentity(id=placed.procurement.id))
    assert confirmed.status is m.ProcurementStatus.ORDER_CONFIRMED

    invoices = await rails.repairer.procurements.invoices.list(
        procurement_identity=m.IdIdentity(id=placed.procurement.id)
    )
    [invoice] = invoices.items
    assert invoices.x_extension is True
    assert (invoice.document_type, invoice.status, invoice.currency_code, invoice.total) == (
        m.DocumentType.INVOICE,
        m.InvoiceStatus.RECONCILED,
        "NZD",
        "1099.00",
    )
    assert {li.reconciliation for li in invoice.line_items} == {m.LineReconciliation.MATCHED}
    fetched = await rails.repairer.procurements.invoices.get(identity=m.IdIdentity(id=invoice.id))
    assert fetched.invoice == invoice

    with pytest.raises(e.InvalidAccessCode) as second:
        await rails.integrations.insert(
            access_code="ac_demo_valid_15m", client_id="partly_client_demo", client_secret="secret_demo_8f3a"
        )
    assert second.value.status == 401


async def test_every_read_method_answers_in_the_shared_models(rails: RailsClient):
    assert [b.id for b in (await rails.businesses.list()).items] == [SITE]
    assert [b.id for b in (await rails.businesses.list(credential="supplier")).items] == [S1]
    assert len((await rails.repairer.work_providers.list()).items) == 3
    parts = (await rails.repairer.jobs.parts.list(job_identity=JOB)).items
    assert [p.status for p in parts].count(m.PartStatusV1.ORDERED) == 1
    listed = await rails.repairer.procurements.list(job_identity=JOB)
    assert [p.reference for p in listed.items] == ["PR-1"]
    assert (await rails.repairer.procurements.get(identity=PR1)).status is m.ProcurementStatus.ORDER_REQUESTED
    supplier_view = await rails.supplier.procurements.get(identity=PR1)
    assert supplier_view.buyer_business.id == SITE
    prepared = await rails.tier1.prepare(
        identifiers=[m.VinIdentifier(vin="JTDBR32E730012345"), m.VinIdentifier(vin="SHORT")]
    )
    assert [i.identifier for i in prepared.invalid_identifiers] == [{"vin": "SHORT"}]
    upload = await rails.uploads.prepare(file_name="estimate.jpg", media_type="image", type="job_media")
    assert upload.upload_url.startswith("http://sandbox/uploads/")


async def test_the_upserts_create_then_update_without_losing_fields(rails: RailsClient):
    new_job = m.ExternalIdentity(external="NEW-77")
    created = await rails.repairer.jobs.insert(identity=new_job, repairer_site_id=SITE, claim_number="C-1")
    updated = await rails.repairer.jobs.insert(identity=new_job, repairer_site_id=SITE, work_provider_id=AMI)
    assert updated.id == created.id
    assert (updated.claim_number, updated.work_provider_id) == ("C-1", AMI)
    parts = await rails.repairer.jobs.parts.insert(
        job_identity=new_job, parts=[m.PartInsertV1(description="Headlamp assembly RH", quantity=1)]
    )
    again = await rails.repairer.jobs.parts.insert(
        job_identity=new_job, parts=[m.PartInsertV1(description="headlamp assembly rh ", quantity=1)]
    )
    assert [p.id for p in again.items] == [p.id for p in parts.items]
    basket = await rails.repairer.jobs.baskets.latest.get(job_identity=new_job)
    assert {o.supplier_business_id for o in basket.offers} >= {S1}


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda r: r.repairer.jobs.get(identity=m.ExternalIdentity(external="NOPE")), e.NotFound),
        (lambda r: r.repairer.jobs.baskets.latest.get(job_identity=m.IdIdentity(id=MISSING)), e.NotFound),
        (
            lambda r: r.repairer.jobs.parts.insert(
                job_identity=m.ExternalIdentity(external="NOPE"),
                parts=[m.PartInsertV1(description="Bonnet", quantity=1)],
            ),
            e.NotFound,
        ),
        (lambda r: r.repairer.procurements.get(identity=m.IdIdentity(id=MISSING)), e.NotFound),
        (lambda r: r.repairer.jobs.insert(identity=JOB, repairer_site_id=S2), e.Unprocessable),
        (
            lambda r: r.repairer.jobs.insert(identity=JOB, repairer_site_id=SITE, work_provider_id=MISSING),
            e.WorkProviderNotFound,
        ),
        (
            lambda r: r.repairer.procurements.insert(
                job_identity=JOB,
                offer_selections=[
                    m.OfferSelectionV1(
                        sellable_id=offer(1), supplier_business_id=S1, job_part_ids=[part(1)], quantity=1
                    )
                ],
            ),
            e.Unprocessable,
        ),
        (lambda r: r.repairer.procurements.invoices.list(), e.BadRequest),
        (
            lambda r: r.repairer.procurements.invoices.list(procurement_identity=PR1, job_identity=JOB),
            e.BadRequest,
        ),
        (
            lambda r: r.uploads.prepare(file_name="../x.jpg", media_type="image", type="job_media"),
            e.Unprocessable,
        ),
        (
            lambda r: r.integrations.insert(
                access_code="ac_demo_valid_15m", client_id="nobody", client_secret="x"
            ),
            e.IntegrationNotFound,
        ),
        (
            lambda r: r.integrations.insert(
                access_code="ac_demo_valid_15m", client_id="partly_client_demo", client_secret="wrong"
            ),
            e.InvalidClientSecret,
        ),
        (
            lambda r: r.integrations.insert(
                access_code="ac_demo_valid_15m",
                client_id="partly_client_legacy",
                client_secret="secret_legacy_0000",
            ),
            e.OAuthNotSupportedByIntegration,
        ),
        (
            lambda r: r.call(
                "supplier.procurements.get",
                {"identity": {"id": str(PR1.id)}},
                m.SupplierProcurementV1,
                credential="repairer",
            ),
            e.Forbidden,
        ),
    ],
    ids=[
        "job-not-found",
        "basket-not-found",
        "parts-insert-bare-not-found",
        "procurement-not-found",
        "site-of-another-org",
        "work-provider-not-found",
        "part-already-ordered",
        "invoice-no-selector",
        "invoice-both-selectors",
        "upload-traversal",
        "integration-not-found",
        "invalid-client-secret",
        "oauth-not-supported",
        "supplier-method-with-repairer-key",
    ],
)
async def test_each_documented_error_reaches_the_client_as_its_own_class(rails: RailsClient, call, expected):  # type: ignore[no-untyped-def]
    with pytest.raises(expected) as caught:
        await call(rails)
    assert caught.value.status == expected.http_status


async def test_unknown_credentials_are_unauthorized(tmp_path: Path):
    async with rails_for(
        tmp_path / "s.db", repairer=Credentials("partly_" + "0" * 32, str(MISSING))
    ) as rails:
        with pytest.raises(e.Unauthorized):
            await rails.repairer.jobs.get(identity=JOB)


async def test_a_supplier_cannot_see_or_confirm_another_suppliers_order(rails: RailsClient):
    raw = m.OfferSelectionV1(
        sellable_id=offer(2), supplier_business_id=S2, job_part_ids=[part(1)], quantity=1
    )
    new_job = m.ExternalIdentity(external="S2-ORDER")
    await rails.repairer.jobs.insert(identity=new_job, repairer_site_id=SITE)
    await rails.repairer.jobs.parts.insert(
        job_identity=new_job, parts=[m.PartInsertV1(description="Front bumper cover", quantity=1)]
    )
    basket = await rails.repairer.jobs.baskets.latest.get(job_identity=new_job)
    s2_offer = next(o for o in basket.offers if o.supplier_business_id == S2)
    raw = m.OfferSelectionV1(
        sellable_id=s2_offer.sellable_id,
        supplier_business_id=S2,
        job_part_ids=s2_offer.job_part_ids,
        quantity=s2_offer.quantity,
    )
    placed = await rails.repairer.procurements.insert(job_identity=new_job, offer_selections=[raw])
    ident = m.IdIdentity(id=placed.procurement.id)
    with pytest.raises(e.NotFound):
        await rails.supplier.procurements.get(identity=ident)
    with pytest.raises(e.NotFound):
        await rails.supplier.procurements.confirm(identity=ident)
    assert (
        await rails.repairer.procurements.get(identity=ident)
    ).status is m.ProcurementStatus.ORDER_REQUESTED


async def test_tenants_through_the_client_are_isolated(tmp_path: Path):
    db = tmp_path / "s.db"
    async with rails_for(db, tenant="alpha") as alpha, rails_for(db, tenant="beta") as beta:
        placed = await alpha.repairer.procurements.insert(job_identity=JOB, offer_selections=QUICKSTART)
        with pytest.raises(e.NotFound):
            await beta.repairer.procurements.get(identity=m.IdIdentity(id=placed.procurement.id))
        assert len((await beta.repairer.procurements.list(job_identity=JOB)).items) == 1
        assert len((await alpha.repairer.procurements.list(job_identity=JOB)).items) == 2
