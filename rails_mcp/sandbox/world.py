"""A tenant's world: the state, what one call may know, and the look-ups every rule shares.

A world is one pydantic document (organizations, credentials, jobs, procurements, invoices).
The rules that answer each wire method live beside it, one module a resource (``jobs``,
``procurements``, ``organizations``, ``prepare``), and :mod:`rules` tables them. Every rule
is a plain function ``(world, call, request) -> response`` that raises a
:mod:`rails_mcp.wire.errors` exception to refuse; it never touches storage, HTTP or the
clock, so it can be read (and tested) as the specification it implements. The store runs
write rules inside one SQLite transaction, which is what makes them atomic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from rails_mcp.sandbox import seed
from rails_mcp.wire import errors as e
from rails_mcp.wire import models as m
from rails_mcp.wire.methods import Scope
from rails_mcp.wire.webhooks import EventType

__all__ = [
    "CURRENCY",
    "Business",
    "Call",
    "Credential",
    "Emit",
    "InvoiceVariance",
    "Job",
    "OAuthClient",
    "Organization",
    "Part",
    "Procurement",
    "World",
    "authenticate",
    "buyer_procurement",
    "credential_of",
    "find_job",
    "iso_timestamp",
    "org_of",
    "owned_job",
    "seed_world",
    "supplier_procurement",
]

CredentialScope = Literal["repairer", "supplier"]

#: Every procurement and invoice of the sandbox is priced in New Zealand dollars.
CURRENCY = "NZD"


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


class InvoiceVariance(_State):
    """How the supplier's invoice will differ from one ordered line (set by the dev route
    ``/__dev/invoice_discrepancy``): another unit price, or fewer shipped."""

    sellable_id: UUID
    quantity: int
    unit_price: str


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
    #: Lines the confirmation will invoice otherwise than ordered (dev-only; never on the wire).
    invoice_variances: list[InvoiceVariance] = Field(default_factory=list[InvoiceVariance])


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
    """A fresh copy of the seeded world (``seed.py``), identical every time."""
    job = _seed_job()
    pr1 = _seed_pr1()
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


def _seed_job() -> Job:
    """The seeded job with its parts and its priced basket."""
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
    return Job(
        id=seed.JOB_ID,
        external_id=seed.JOB_EXTERNAL_ID,
        job_number=seed.JOB_NUMBER,
        claim_number=seed.CLAIM_NUMBER,
        repairer_site_id=seed.REPAIRER_SITE,
        work_provider_id=seed.AMI,
        vehicle=m.VehicleV1.model_validate(seed.VEHICLE),
        images=[],
        parts=parts,
        offers=offers,
    )


def _seed_pr1() -> Procurement:
    """The seeded procurement PR-1: one offer of the basket, requested and not yet confirmed."""
    offer = seed.PR1_OFFER
    return Procurement(
        id=seed.PR1_ID,
        job_id=seed.JOB_ID,
        reference="PR-1",
        status=m.ProcurementStatus.ORDER_REQUESTED,
        currency_code=CURRENCY,
        created_at=seed.SEED_TIME,
        updated_at=seed.SEED_TIME,
        buyer_business_id=seed.REPAIRER_SITE,
        supplier_business_id=offer.supplier_business_id,
        source_items=[
            m.SourceItemV1(
                id=seed.PR1_SOURCE_ITEM_ID,
                sellable_id=offer.sellable_id,
                name=offer.name,
                job_part_ids=[offer.job_part_id],
                quantity=1,
                trade_price=offer.trade_price,
                condition=m.ConditionV1(type="new", payload={}),
            )
        ],
        vehicle=m.ProcurementVehicleV1.model_validate(seed.VEHICLE),
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


def org_of(world: World, business_id: UUID) -> UUID | None:
    """The organization a business belongs to, if the business exists."""
    business = world.businesses.get(business_id)
    return None if business is None else business.organization_id


def find_job(world: World, org: UUID, identity: m.Identity) -> Job | None:
    """The job by id or external id, if it is one of ``org``'s sites'."""
    if isinstance(identity, m.IdIdentity):
        job = world.jobs.get(identity.id)
        candidates: Iterable[Job] = () if job is None else (job,)
    else:
        candidates = (j for j in world.jobs.values() if j.external_id == identity.external)
    for job in candidates:
        if org_of(world, job.repairer_site_id) == org:
            return job
    return None


def owned_job(world: World, call: Call, identity: m.Identity) -> Job:
    """The caller's job, or ``not_found`` (another organization's job does not exist for it)."""
    job = find_job(world, call.org, identity)
    if job is None:
        raise e.NotFound(detail="no such job for this organization")
    return job


def buyer_procurement(world: World, call: Call, procurement_id: UUID) -> Procurement:
    """A procurement the caller bought, or ``not_found``."""
    p = world.procurements.get(procurement_id)
    if p is None or org_of(world, p.buyer_business_id) != call.org:
        raise e.NotFound(detail="no such procurement for this organization")
    return p


def supplier_procurement(world: World, call: Call, procurement_id: UUID) -> Procurement:
    """A procurement the caller supplies, or ``not_found``."""
    p = world.procurements.get(procurement_id)
    if p is None or org_of(world, p.supplier_business_id) != call.org:
        raise e.NotFound(detail="no such procurement for this supplier")
    return p


def credential_of(world: World, integration_id: str) -> Credential | None:
    """The credential of an integration named by its id as text, if there is one."""
    try:
        wanted = UUID(integration_id)
    except ValueError:
        return None
    return next((c for c in world.credentials.values() if c.integration_id == wanted), None)
