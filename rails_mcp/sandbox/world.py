"""A tenant's world and the business rules that answer each wire method.

A world is one pydantic document (organizations, credentials, jobs, procurements, invoices).
Every rule is a plain function ``(world, call, request) -> response`` that raises a
:mod:`rails_mcp.wire.errors` exception to refuse; it never touches storage, HTTP or the
clock, so it can be read (and tested) as the specification it implements. The store runs
write rules inside one SQLite transaction, which is what makes them atomic.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID, uuid4, uuid5

from pydantic import BaseModel, ConfigDict

from rails_mcp.sandbox import seed
from rails_mcp.wire import errors as e
from rails_mcp.wire import models as m
from rails_mcp.wire.methods import Scope
from rails_mcp.wire.webhooks import EventType

__all__ = [
    "RULES",
    "Business",
    "Call",
    "Credential",
    "Emit",
    "Job",
    "OAuthClient",
    "Organization",
    "Part",
    "Procurement",
    "Rule",
    "World",
    "authenticate",
    "iso_timestamp",
    "part_kind",
    "seed_world",
    "upload_signature",
]

CredentialScope = Literal["repairer", "supplier"]

#: Namespace of the deterministic sellable ids of offers priced after the seed.
_SELLABLE_NS = UUID("5a9d0c3e-7f52-4c1e-9a57-3f0e2b6d8c41")
_CURRENCY = "NZD"


# --- the state ------------------------------------------------------------------------------


class _State(BaseModel):
    """Persisted state: strict about its own keys, so a corrupt document fails loudly."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class Organization(_State):
    id: UUID
    name: str
    kind: CredentialScope


class Business(_State):
    id: UUID
    name: str
    organization_id: UUID
    shipping_address: m.AddressV1 | None = None


class Credential(_State):
    api_key: str
    integration_id: UUID
    scope: CredentialScope
    organization_id: UUID
    #: Signs this integration's webhook deliveries (``pwh_`` + 32 hex); never in a response
    #: of the wire, only on the loopback dev route ``/__webhooks/secret``.
    webhook_secret: str | None = None


class OAuthClient(_State):
    client_id: str
    client_secret: str
    oauth_enabled: bool
    organization_id: UUID
    #: Codes not yet exchanged; an install removes its code (single use per tenant).
    access_codes: list[str]


class Part(_State):
    id: UUID
    external_id: str | None = None
    description: str
    quantity: int
    part_number: str | None = None
    status: m.PartStatusV1


class Job(_State):
    id: UUID
    external_id: str | None = None
    job_number: str | None = None
    claim_number: str | None = None
    repairer_site_id: UUID
    work_provider_id: UUID | None = None
    vehicle: m.VehicleV1 | None = None
    images: list[m.ImageV1]
    parts: list[Part]
    #: The latest basket: offers for the job's priced parts, ordered parts included.
    offers: list[m.OfferV1]


class Procurement(_State):
    id: UUID
    job_id: UUID
    reference: str
    status: m.ProcurementStatus
    currency_code: str
    created_at: str
    updated_at: str
    buyer_business_id: UUID
    supplier_business_id: UUID
    source_items: list[m.SourceItemV1]
    total_shipping_price: str | None = None
    vehicle: m.ProcurementVehicleV1


class World(_State):
    """Everything one tenant can see and change. Dicts keep insertion order."""

    organizations: dict[UUID, Organization]
    businesses: dict[UUID, Business]
    #: By api_key.
    credentials: dict[str, Credential]
    #: By client_id.
    oauth_clients: dict[str, OAuthClient]
    work_providers: list[m.WorkProviderV1]
    jobs: dict[UUID, Job]
    procurements: dict[UUID, Procurement]
    invoices: dict[UUID, m.InvoiceV1]


def seed_world() -> World:
    """A fresh copy of the seeded world (SPEC §1), identical every time."""
    parts = [
        Part(
            id=p.id,
            description=p.description,
            quantity=1,
            status=m.PartStatusV1.ORDERED if p.ordered else m.PartStatusV1.ESTIMATED,
        )
        for p in seed.PARTS
    ]
    offers = [
        m.OfferV1(
            name=o.name,
            sellable_id=o.sellable_id,
            supplier_business_id=o.supplier_business_id,
            job_part_ids=[o.job_part_id],
            quantity=1,
            trade_price=o.trade_price,
            condition=m.ConditionV1(type="new", payload={}),
        )
        for o in seed.OFFERS
    ]
    vehicle = m.VehicleV1.model_validate(seed.VEHICLE)
    job = Job(
        id=seed.JOB_ID,
        external_id=seed.JOB_EXTERNAL_ID,
        job_number=seed.JOB_NUMBER,
        claim_number=seed.CLAIM_NUMBER,
        repairer_site_id=seed.REPAIRER_SITE,
        work_provider_id=seed.AMI,
        vehicle=vehicle,
        images=[],
        parts=parts,
        offers=offers,
    )
    pr1_offer = seed.PR1_OFFER
    pr1 = Procurement(
        id=seed.PR1_ID,
        job_id=seed.JOB_ID,
        reference="PR-1",
        status=m.ProcurementStatus.ORDER_REQUESTED,
        currency_code=_CURRENCY,
        created_at=seed.SEED_TIME,
        updated_at=seed.SEED_TIME,
        buyer_business_id=seed.REPAIRER_SITE,
        supplier_business_id=pr1_offer.supplier_business_id,
        source_items=[
            m.SourceItemV1(
                id=seed.PR1_SOURCE_ITEM_ID,
                sellable_id=pr1_offer.sellable_id,
                name=pr1_offer.name,
                job_part_ids=[pr1_offer.job_part_id],
                quantity=1,
                trade_price=pr1_offer.trade_price,
                condition=m.ConditionV1(type="new", payload={}),
            )
        ],
        vehicle=m.ProcurementVehicleV1.model_validate(seed.VEHICLE),
    )
    return World(
        organizations={o.id: Organization(id=o.id, name=o.name, kind=o.kind) for o in seed.ORGANIZATIONS},
        businesses={
            b.id: Business(
                id=b.id,
                name=b.name,
                organization_id=b.organization_id,
                shipping_address=None
                if b.shipping_address is None
                else m.AddressV1.model_validate(b.shipping_address),
            )
            for b in seed.BUSINESSES
        },
        credentials={
            c.api_key: Credential(
                api_key=c.api_key,
                integration_id=c.integration_id,
                scope=c.scope,
                organization_id=c.organization_id,
                webhook_secret=c.webhook_secret,
            )
            for c in seed.CREDENTIALS
        },
        oauth_clients={
            c.client_id: OAuthClient(
                client_id=c.client_id,
                client_secret=c.client_secret,
                oauth_enabled=c.oauth_enabled,
                organization_id=c.organization_id,
                access_codes=list(c.access_codes),
            )
            for c in seed.OAUTH_CLIENTS
        },
        work_providers=[m.WorkProviderV1(id=i, name=n) for i, n in seed.WORK_PROVIDERS],
        jobs={job.id: job},
        procurements={pr1.id: pr1},
        invoices={},
    )


# --- one call -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Emit:
    """A webhook event a write produces, for every integration of ``organization_id``.

    Rules only say what happened; the store turns each into outbox rows, in the same
    transaction as the write, for the organization's integrations that have subscribed.
    """

    type: EventType
    organization_id: UUID
    data: dict[str, str]


@dataclass(frozen=True, slots=True)
class Call:
    """What a rule may know about the call besides its body."""

    caller: Credential | None
    #: Seconds since the epoch, from the app's (injectable) clock.
    now: float
    #: The request's base URL, ending in ``/`` (uploads.prepare builds URLs on it).
    base_url: str
    #: Key that signs upload URLs (per database, so any process serving it accepts the PUT).
    upload_key: bytes = b""
    #: Webhook events the rule produced; saved with the write, or not at all.
    events: list[Emit] = field(default_factory=list[Emit])

    @property
    def org(self) -> UUID:
        if self.caller is None:  # only integrations.insert runs without a caller
            raise e.Unauthorized()
        return self.caller.organization_id

    @property
    def timestamp(self) -> str:
        return iso_timestamp(self.now)


def iso_timestamp(now: float) -> str:
    """ISO-8601 UTC with a ``Z``, to the second: the seed's format."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def authenticate(
    world: World, authorization: str | None, integration_id: str | None, scope: Scope
) -> Credential | None:
    """The credential behind the two headers, checked against the method's scope.

    Missing headers, a scheme other than Bearer, or an unknown (api_key, integration_id)
    pair are all ``unauthorized``: the answer does not say which half was wrong.
    """
    if scope == "none":
        return None
    if not authorization or not integration_id:
        raise e.Unauthorized()
    scheme, _, api_key = authorization.strip().partition(" ")
    api_key = api_key.strip()
    if scheme.lower() != "bearer" or not api_key:
        raise e.Unauthorized()
    credential = world.credentials.get(api_key)
    try:
        presented = UUID(integration_id.strip())
    except ValueError:
        raise e.Unauthorized() from None
    if credential is None or credential.integration_id != presented:
        raise e.Unauthorized()
    if scope != "any" and credential.scope != scope:
        raise e.Forbidden()
    return credential


# --- lookups, always within the caller's organization ---------------------------------------


def _org_of(world: World, business_id: UUID) -> UUID | None:
    business = world.businesses.get(business_id)
    return None if business is None else business.organization_id


def _find_job(world: World, org: UUID, identity: m.Identity) -> Job | None:
    if isinstance(identity, m.IdIdentity):
        job = world.jobs.get(identity.id)
        candidates: Iterable[Job] = () if job is None else (job,)
    else:
        candidates = (j for j in world.jobs.values() if j.external_id == identity.external)
    for job in candidates:
        if _org_of(world, job.repairer_site_id) == org:
            return job
    return None


def _find_job_by_number(world: World, org: UUID, key: m.SiteJobNumberV1) -> Job | None:
    if _org_of(world, key.repairer_site_id) != org:
        return None
    wanted = key.job_number.strip().casefold()
    for job in world.jobs.values():
        number = job.job_number
        if job.repairer_site_id == key.repairer_site_id and number and number.strip().casefold() == wanted:
            return job
    return None


def _job(world: World, call: Call, identity: m.Identity) -> Job:
    job = _find_job(world, call.org, identity)
    if job is None:
        raise e.NotFound(detail="no such job for this organization")
    return job


def _buyer_procurement(world: World, call: Call, procurement_id: UUID) -> Procurement:
    p = world.procurements.get(procurement_id)
    if p is None or _org_of(world, p.buyer_business_id) != call.org:
        raise e.NotFound(detail="no such procurement for this organization")
    return p


def _supplier_procurement(world: World, call: Call, procurement_id: UUID) -> Procurement:
    p = world.procurements.get(procurement_id)
    if p is None or _org_of(world, p.supplier_business_id) != call.org:
        raise e.NotFound(detail="no such procurement for this supplier")
    return p


# --- views -------------------------------------------------------------------------------


def _job_view(job: Job) -> m.JobV1:
    return m.JobV1(
        id=job.id,
        external_id=job.external_id,
        job_number=job.job_number,
        claim_number=job.claim_number,
        repairer_site_id=job.repairer_site_id,
        work_provider_id=job.work_provider_id,
        vehicle=job.vehicle,
        images=list(job.images),
    )


def _parts_view(job: Job) -> m.JobsPartsListResponseV1:
    return m.JobsPartsListResponseV1(
        items=[
            m.PartV1(
                id=p.id,
                external_id=p.external_id,
                description=p.description,
                quantity=p.quantity,
                part_number=p.part_number,
                status=p.status,
            )
            for p in job.parts
        ]
    )


def _procurement_fields(p: Procurement) -> dict[str, Any]:
    return {
        "id": p.id,
        "job_id": p.job_id,
        "reference": p.reference,
        "status": p.status,
        "currency_code": p.currency_code,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "source_items": list(p.source_items),
        "total_shipping_price": p.total_shipping_price,
        "vehicle": p.vehicle,
    }


def buyer_view(world: World, p: Procurement) -> m.BuyerProcurementV1:
    supplier = world.businesses[p.supplier_business_id]
    org = world.organizations[supplier.organization_id]
    return m.BuyerProcurementV1.model_validate(
        {
            **_procurement_fields(p),
            "supplier_business": m.SupplierBusinessV1(id=supplier.id, name=supplier.name),
            "supplier_organization": m.SupplierOrganizationV1(id=org.id, name=org.name),
        }
    )


def supplier_view(world: World, p: Procurement) -> m.SupplierProcurementV1:
    buyer = world.businesses[p.buyer_business_id]
    org = world.organizations[buyer.organization_id]
    if buyer.shipping_address is None:  # every repairer site is seeded with one
        raise e.ServerError(detail="buyer business has no shipping address")
    return m.SupplierProcurementV1.model_validate(
        {
            **_procurement_fields(p),
            "buyer_business": m.BuyerBusinessV1(id=buyer.id, name=buyer.name),
            "buyer_organization": m.BuyerOrganizationV1(id=org.id, name=org.name),
            "buyer_shipping_address": buyer.shipping_address,
        }
    )


# --- pricing -------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")


def part_kind(description: str) -> seed.PartKind | None:
    """Which catalogue kind a free-text part description names, if any.

    Deliberately narrow: a part we cannot name with confidence gets no offers rather than
    the wrong ones, and a headlamp without a side is ambiguous, so it is not priced.
    """
    text = description.lower().replace("l/h", " lh ").replace("r/h", " rh ")
    words = set(_WORD.findall(text))
    if "bumper" in words:
        if words & {"reinforcement", "reinforcer", "rebar", "beam"}:
            return "bumper_reinforcement"
        if words & {"cover", "fascia", "skin"}:
            return "bumper_cover"
        return None
    if words & {"headlamp", "headlight"} or ("head" in words and words & {"lamp", "light"}):
        left, right = bool(words & {"lh", "left"}), bool(words & {"rh", "right"})
        if left != right:
            return "headlamp_lh" if left else "headlamp_rh"
        return None
    if words & {"grille", "grill"}:
        return "grille"
    if "radiator" in words and "support" in words:
        return "radiator_support"
    return None


def _price(job: Job, part: Part) -> list[m.OfferV1]:
    kind = part_kind(part.description)
    if kind is None:
        return []
    return [
        m.OfferV1(
            name=t.name,
            sellable_id=uuid5(_SELLABLE_NS, f"{job.id}:{part.id}:{t.template}"),
            supplier_business_id=t.supplier_business_id,
            job_part_ids=[part.id],
            quantity=part.quantity,
            trade_price=t.trade_price,
            condition=m.ConditionV1(type="new", payload={}),
        )
        for t in seed.CATALOGUE[kind]
    ]


def _money(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01')):.2f}"


# --- the rules, method by method ------------------------------------------------------------


def businesses_list(world: World, call: Call, req: m.BusinessesListRequestV1) -> m.BusinessesListResponseV1:
    org = call.org
    return m.BusinessesListResponseV1(
        items=[
            m.BusinessV1(id=b.id, name=b.name) for b in world.businesses.values() if b.organization_id == org
        ]
    )


def integrations_insert(
    world: World, call: Call, req: m.IntegrationsInstallRequestV1
) -> m.IntegrationsInstallResponseV1:
    """The OAuth install handshake; checks in the order the error table lists them."""
    client = world.oauth_clients.get(req.client_id)
    if client is None:
        raise e.IntegrationNotFound()
    if not client.oauth_enabled:
        raise e.OAuthNotSupportedByIntegration()
    if not hmac.compare_digest(req.client_secret.encode(), client.client_secret.encode()):
        raise e.InvalidClientSecret()
    if req.access_code not in client.access_codes:
        raise e.InvalidAccessCode(detail="unknown or already exchanged access code")
    client.access_codes.remove(req.access_code)
    credential = Credential(
        api_key="partly_" + uuid4().hex,
        integration_id=uuid4(),
        scope="repairer",
        organization_id=client.organization_id,
        webhook_secret="pwh_" + uuid4().hex,
    )
    world.credentials[credential.api_key] = credential
    return m.IntegrationsInstallResponseV1(
        api_key=credential.api_key, integration_id=credential.integration_id
    )


def jobs_get(world: World, call: Call, req: m.JobsGetRequestV1) -> m.JobV1:
    """By id, by external id, or by site and job number (the sandbox's tagged variant)."""
    identity = req.identity
    if isinstance(identity, m.SiteJobNumberIdentity):
        job = _find_job_by_number(world, call.org, identity.site_job_number)
        if job is None:
            raise e.NotFound(detail="no job with that job number at that site for this organization")
        return _job_view(job)
    return _job_view(_job(world, call, identity))


def jobs_insert(world: World, call: Call, req: m.JobsInsertRequestV1) -> m.JobV1:
    """Upsert by identity; fields the request omits keep their values on update."""
    org = call.org
    if _org_of(world, req.repairer_site_id) != org:
        raise e.Unprocessable(detail="repairer_site_id is not a business of this organization")
    given = req.model_fields_set
    if req.work_provider_id is not None and not any(
        w.id == req.work_provider_id for w in world.work_providers
    ):
        raise e.WorkProviderNotFound()
    job = _find_job(world, org, req.identity)
    change_action = "updated"
    if job is None:
        change_action = "inserted"
        if isinstance(req.identity, m.IdIdentity):
            raise e.Unprocessable(detail="no job with that id; use {external} to create one")
        job = Job(
            id=uuid4(),
            external_id=req.identity.external,
            repairer_site_id=req.repairer_site_id,
            images=[],
            parts=[],
            offers=[],
        )
        world.jobs[job.id] = job
    job.repairer_site_id = req.repairer_site_id
    if "work_provider_id" in given:
        job.work_provider_id = req.work_provider_id
    if "vehicle" in given:
        job.vehicle = req.vehicle
    if "claim_number" in given:
        job.claim_number = req.claim_number
    if "job_number" in given:
        job.job_number = req.job_number
    call.events.append(
        Emit(EventType.REPAIRER_JOBS, org, {"job_id": str(job.id), "change_action": change_action})
    )
    return _job_view(job)


def _normalise(description: str) -> str:
    return description.strip().casefold()


def jobs_parts_insert(world: World, call: Call, req: m.JobsPartsInsertRequestV1) -> m.JobsPartsListResponseV1:
    """Upsert each listed part; never delete, never move an ordered part back.

    A part on a confirmed procurement is locked ("on confirm the order is locked", seeds/002):
    upserting it with the same values is fine, any change to it is ``unprocessable`` and,
    the rule being one transaction, nothing of the request is saved.
    """
    job = _job(world, call, req.job_identity)
    locked = _locked_part_ids(world, job)
    for item in req.parts:
        description = item.description.strip()
        if not description:
            raise e.Unprocessable(detail="a part description cannot be blank")
        identity = item.identity
        if isinstance(identity, m.IdIdentity):
            part = next((p for p in job.parts if p.id == identity.id), None)
            if part is None:
                raise e.Unprocessable(detail="part id is not a part of this job")
        elif isinstance(identity, m.ExternalIdentity):
            part = next((p for p in job.parts if p.external_id == identity.external), None)
        else:
            key = _normalise(description)
            part = next((p for p in job.parts if _normalise(p.description) == key), None)
        if part is None:
            part = Part(
                id=uuid4(),
                external_id=identity.external if isinstance(identity, m.ExternalIdentity) else None,
                description=description,
                quantity=item.quantity,
                part_number=item.part_number,
                status=m.PartStatusV1.ESTIMATED,
            )
            job.parts.append(part)
            job.offers.extend(_price(job, part))
            continue
        if part.id in locked:
            _refuse_change_to_locked(part, item, description)
            continue
        if part.status is m.PartStatusV1.ORDERED and item.quantity != part.quantity:
            raise e.Unprocessable(detail="the quantity of an ordered part cannot change")
        part.description = description
        if "part_number" in item.model_fields_set:
            part.part_number = item.part_number
        if item.quantity != part.quantity:
            part.quantity = item.quantity
            for offer in job.offers:  # keep the basket placeable at the new quantity
                if offer.job_part_ids == [part.id]:
                    offer.quantity = item.quantity
    return _parts_view(job)


def _locked_part_ids(world: World, job: Job) -> set[UUID]:
    return {
        part_id
        for p in world.procurements.values()
        if p.job_id == job.id and p.status is m.ProcurementStatus.ORDER_CONFIRMED
        for item in p.source_items
        for part_id in item.job_part_ids
    }


def _refuse_change_to_locked(part: Part, item: m.PartInsertV1, description: str) -> None:
    if _normalise(description) != _normalise(part.description):
        raise e.Unprocessable(detail="the part is on a confirmed order: its description is locked")
    if "part_number" in item.model_fields_set and item.part_number != part.part_number:
        raise e.Unprocessable(detail="the part is on a confirmed order: its part number is locked")
    if item.quantity != part.quantity:
        raise e.Unprocessable(detail="the part is on a confirmed order: its quantity is locked")


def jobs_parts_list(world: World, call: Call, req: m.JobsPartsListRequestV1) -> m.JobsPartsListResponseV1:
    return _parts_view(_job(world, call, req.job_identity))


def baskets_latest_get(
    world: World, call: Call, req: m.BasketsLatestGetRequestV1
) -> m.BasketsLatestGetResponseV1:
    """Every offer of the job; suppliers in order of first appearance. No currency (D52)."""
    job = _job(world, call, req.job_identity)
    suppliers: dict[UUID, m.SupplierV1] = {}
    for offer in job.offers:
        sid = offer.supplier_business_id
        if sid not in suppliers:
            suppliers[sid] = m.SupplierV1(business_id=sid, name=world.businesses[sid].name)
    return m.BasketsLatestGetResponseV1(offers=list(job.offers), suppliers=list(suppliers.values()))


def procurements_get(world: World, call: Call, req: m.ProcurementsGetRequestV1) -> m.BuyerProcurementV1:
    return buyer_view(world, _buyer_procurement(world, call, req.identity.id))


def procurements_list(
    world: World, call: Call, req: m.ProcurementsListRequestV1
) -> m.ProcurementsListResponseV1:
    job = _job(world, call, req.job_identity)
    org = call.org
    return m.ProcurementsListResponseV1(
        items=[
            buyer_view(world, p)
            for p in world.procurements.values()
            if p.job_id == job.id and _org_of(world, p.buyer_business_id) == org
        ]
    )


def work_providers_list(
    world: World, call: Call, req: m.WorkProvidersListRequestV1
) -> m.WorkProvidersListResponseV1:
    return m.WorkProvidersListResponseV1(items=list(world.work_providers))


def supplier_procurements_get(
    world: World, call: Call, req: m.SupplierProcurementsGetRequestV1
) -> m.SupplierProcurementV1:
    return supplier_view(world, _supplier_procurement(world, call, req.identity.id))


def supplier_procurements_confirm(
    world: World, call: Call, req: m.SupplierProcurementsConfirmRequestV1
) -> m.SupplierProcurementV1:
    """order_requested → order_confirmed plus one invoice; a repeat changes nothing."""
    p = _supplier_procurement(world, call, req.identity.id)
    if p.status is m.ProcurementStatus.CANCELLED:
        raise e.Unprocessable(detail="a cancelled procurement cannot be confirmed")
    if p.status is m.ProcurementStatus.ORDER_REQUESTED:
        p.status = m.ProcurementStatus.ORDER_CONFIRMED
        p.updated_at = call.timestamp
        if not any(i.procurement_id == p.id for i in world.invoices.values()):
            invoice = _invoice(p, call.timestamp)
            world.invoices[invoice.id] = invoice
        _emit_procurement(world, call, p)
    return supplier_view(world, p)


def _emit_procurement(world: World, call: Call, p: Procurement) -> None:
    """The two events of a procurement change: the buyer's and the supplier's."""
    data = {"procurement_id": str(p.id), "job_id": str(p.job_id), "status": p.status.value}
    for event_type, business_id in (
        (EventType.REPAIRER_PROCUREMENTS, p.buyer_business_id),
        (EventType.SUPPLIER_PROCUREMENTS, p.supplier_business_id),
    ):
        org = _org_of(world, business_id)
        if org is not None:
            call.events.append(Emit(event_type, org, dict(data)))


def _invoice(p: Procurement, issued_at: str) -> m.InvoiceV1:
    lines: list[m.InvoiceLineItemV1] = []
    total = Decimal(0)
    for item in p.source_items:
        line_total = Decimal(item.trade_price) * item.quantity
        total += line_total
        lines.append(
            m.InvoiceLineItemV1(
                id=uuid4(),
                source_item_id=item.id,
                sellable_id=item.sellable_id,
                name=item.name,
                quantity=item.quantity,
                unit_price=item.trade_price,
                total=_money(line_total),
                reconciliation=m.LineReconciliation.MATCHED,
            )
        )
    return m.InvoiceV1(
        id=uuid4(),
        procurement_id=p.id,
        job_id=p.job_id,
        document_type=m.DocumentType.INVOICE,
        status=m.InvoiceStatus.RECONCILED,
        currency_code=p.currency_code,
        total=_money(total),
        issued_at=issued_at,
        line_items=lines,
    )


_VIN = re.compile(r"[A-HJ-NPR-Z0-9]{17}")
_VIN_CHAR = re.compile(r"[A-HJ-NPR-Z0-9]")
_VRM = re.compile(r"[A-Z0-9]{1,8}")


def _vin_problem(raw: str) -> str | None:
    vin = raw.strip().upper()
    if _VIN.fullmatch(vin):
        return None
    if len(vin) != 17:
        return f"a VIN has exactly 17 characters; this one has {len(vin)}"
    bad = sorted({c for c in vin if not _VIN_CHAR.fullmatch(c)})
    if set(bad) <= {"I", "O", "Q"}:
        return f"a VIN never contains the letters I, O or Q; found {', '.join(bad)}"
    return f"a VIN contains only letters and digits; found {' '.join(repr(c) for c in bad)}"


def _vrm_problem(raw: str) -> str | None:
    vrm = re.sub(r"[\s-]", "", raw).upper()
    if _VRM.fullmatch(vrm):
        return None
    if not vrm:
        return "a registration plate needs at least one letter or digit"
    if len(vrm) > 8:
        return f"a registration plate has at most 8 letters and digits; this one has {len(vrm)}"
    bad = sorted({c for c in vrm if not c.isascii() or not c.isalnum()})
    return f"a registration plate contains only letters A-Z and digits; found {' '.join(bad)}"


def tier1_prepare(world: World, call: Call, req: m.Tier1PrepareRequestV1) -> m.Tier1PrepareResponseV1:
    """Validate the identifiers; nothing is stored (the warm-up is fire-and-forget)."""
    invalid: list[m.InvalidIdentifierV1] = []
    for ident in req.identifiers:
        if isinstance(ident, m.VinIdentifier):
            problem, echo = _vin_problem(ident.vin), {"vin": ident.vin}
        else:
            problem, echo = _vrm_problem(ident.vrm), {"vrm": ident.vrm}
        if problem is not None:
            invalid.append(m.InvalidIdentifierV1(identifier=echo, reason=problem))
    return m.Tier1PrepareResponseV1(invalid_identifiers=invalid)


def upload_signature(upload_key: bytes, upload_id: str) -> str:
    """The ``signature`` of an upload URL: binds the URL to its id, checkable statelessly."""
    return hmac.new(upload_key, upload_id.encode(), "sha256").hexdigest()[:32]


def uploads_prepare(world: World, call: Call, req: m.UploadsPrepareRequestV1) -> m.UploadsPrepareResponseV1:
    """A pre-signed URL on this sandbox; ``PUT`` the bytes there, read them at ``public_url``.

    ``media_type`` and ``type`` are free text, as the documents state no enumeration
    (``"image"`` and ``"image/jpeg"`` are both fine); only a file name with a path in it is
    ``unprocessable``.
    """
    name = req.file_name
    if "/" in name or "\\" in name or ".." in name or any(ord(c) < 32 for c in name):
        raise e.Unprocessable(detail="file_name must be a plain file name")
    if not req.media_type.strip() or not req.type.strip():
        raise e.Unprocessable(detail="media_type and type cannot be blank")
    upload_id = str(uuid4())
    public_url = f"{call.base_url}uploads/{upload_id}"
    return m.UploadsPrepareResponseV1(
        upload_url=f"{public_url}?signature={upload_signature(call.upload_key, upload_id)}",
        public_url=public_url,
    )


def procurements_insert(
    world: World, call: Call, req: m.ProcurementsInsertRequestV1
) -> m.ProcurementsInsertResponseV1:
    """Place selected basket offers with one supplier; the parts become ``ordered``."""
    job = _job(world, call, req.job_identity)
    offers = {o.sellable_id: o for o in job.offers}
    parts = {p.id: p for p in job.parts}
    suppliers: set[UUID] = set()
    covered: set[UUID] = set()
    chosen: list[m.OfferV1] = []
    for sel in req.offer_selections:
        offer = offers.get(sel.sellable_id)
        if offer is None:
            raise e.Unprocessable(detail=f"{sel.sellable_id} is not an offer of the latest basket")
        if sel.supplier_business_id != offer.supplier_business_id:
            raise e.Unprocessable(detail="supplier_business_id does not match the offer")
        if len(set(sel.job_part_ids)) != len(sel.job_part_ids) or set(sel.job_part_ids) != set(
            offer.job_part_ids
        ):
            raise e.Unprocessable(detail="job_part_ids do not match the offer")
        if sel.quantity != offer.quantity:
            raise e.Unprocessable(detail="quantity does not match the offer")
        for part_id in offer.job_part_ids:
            if part_id in covered:
                raise e.Unprocessable(detail="a part is selected twice")
            if parts[part_id].status is m.PartStatusV1.ORDERED:
                raise e.Unprocessable(detail="a selected part is already ordered")
            covered.add(part_id)
        suppliers.add(offer.supplier_business_id)
        chosen.append(offer)
    if len(suppliers) != 1:
        raise e.Unprocessable(detail="all offers of one procurement come from one supplier")
    now = call.timestamp
    vehicle = job.vehicle or m.VehicleV1()
    procurement = Procurement(
        id=uuid4(),
        job_id=job.id,
        reference=f"PR-{len(world.procurements) + 1}",
        status=m.ProcurementStatus.ORDER_REQUESTED,
        currency_code=_CURRENCY,
        created_at=now,
        updated_at=now,
        buyer_business_id=job.repairer_site_id,
        supplier_business_id=suppliers.pop(),
        source_items=[
            m.SourceItemV1(
                id=uuid4(),
                sellable_id=o.sellable_id,
                name=o.name,
                job_part_ids=list(o.job_part_ids),
                quantity=o.quantity,
                trade_price=o.trade_price,
                condition=o.condition,
            )
            for o in chosen
        ],
        total_shipping_price=None,
        vehicle=m.ProcurementVehicleV1(
            chassis_number=vehicle.chassis_number,
            plate_number=vehicle.plate_number,
            plate_state=vehicle.plate_state,
        ),
    )
    world.procurements[procurement.id] = procurement
    for part_id in covered:
        parts[part_id].status = m.PartStatusV1.ORDERED
    _emit_procurement(world, call, procurement)
    return m.ProcurementsInsertResponseV1(procurement=buyer_view(world, procurement))


def invoices_list(
    world: World, call: Call, req: m.ProcurementsInvoicesListRequestV1
) -> m.ProcurementsInvoicesListResponseV1:
    """Exactly one selector; empty until the procurement is confirmed."""
    if req.selector_count() != 1:
        raise e.BadRequest(detail="give exactly one of procurement_identity and job_identity")
    if req.procurement_identity is not None:
        wanted = {_buyer_procurement(world, call, req.procurement_identity.id).id}
    else:
        assert req.job_identity is not None
        job = _job(world, call, req.job_identity)
        org = call.org
        wanted = {
            p.id
            for p in world.procurements.values()
            if p.job_id == job.id and _org_of(world, p.buyer_business_id) == org
        }
    return m.ProcurementsInvoicesListResponseV1(
        items=[i for i in world.invoices.values() if i.procurement_id in wanted]
    )


def invoices_get(
    world: World, call: Call, req: m.ProcurementsInvoicesGetRequestV1
) -> m.ProcurementsInvoicesGetResponseV1:
    invoice = world.invoices.get(req.identity.id)
    if invoice is None:
        raise e.NotFound(detail="no such invoice")
    _buyer_procurement(world, call, invoice.procurement_id)  # another org's: not_found
    return m.ProcurementsInvoicesGetResponseV1(invoice=invoice)


# --- the table ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """How the sandbox answers one method; ``writes`` rules run in a write transaction."""

    handle: Callable[[World, Call, Any], BaseModel]
    writes: bool = False


#: One rule per wire method; a test checks this covers ``METHODS`` exactly.
RULES: dict[str, Rule] = {
    "businesses.list": Rule(businesses_list),
    "integrations.insert": Rule(integrations_insert, writes=True),
    "repairer.jobs.baskets.latest.get": Rule(baskets_latest_get),
    "repairer.jobs.get": Rule(jobs_get),
    "repairer.jobs.insert": Rule(jobs_insert, writes=True),
    "repairer.jobs.parts.insert": Rule(jobs_parts_insert, writes=True),
    "repairer.jobs.parts.list": Rule(jobs_parts_list),
    "repairer.procurements.get": Rule(procurements_get),
    "repairer.procurements.list": Rule(procurements_list),
    "repairer.work-providers.list": Rule(work_providers_list),
    "supplier.procurements.confirm": Rule(supplier_procurements_confirm, writes=True),
    "supplier.procurements.get": Rule(supplier_procurements_get),
    "tier1.prepare": Rule(tier1_prepare),
    "uploads.prepare": Rule(uploads_prepare),
    "repairer.procurements.insert": Rule(procurements_insert, writes=True),
    "repairer.procurements.invoices.list": Rule(invoices_list),
    "repairer.procurements.invoices.get": Rule(invoices_get),
}
