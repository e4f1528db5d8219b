"""The rules of jobs, their parts and the basket, and how a part is priced.

A new part whose description names a catalogue kind gets that kind's offers at once, so
the basket of a job is always the latest pricing of its parts.
"""

from __future__ import annotations

import re
from uuid import UUID, uuid4, uuid5

from rails_mcp.sandbox import seed
from rails_mcp.sandbox.world import Call, Emit, Job, Part, World, find_job, org_of, owned_job
from rails_mcp.wire import errors as e
from rails_mcp.wire import models as m
from rails_mcp.wire.webhooks import EventType

__all__ = [
    "baskets_latest_get",
    "jobs_get",
    "jobs_insert",
    "jobs_parts_insert",
    "jobs_parts_list",
    "part_kind",
]

#: Namespace of the deterministic sellable ids of offers priced after the seed.
_SELLABLE_NS = UUID("5a9d0c3e-7f52-4c1e-9a57-3f0e2b6d8c41")


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


def _find_job_by_number(world: World, org: UUID, key: m.SiteJobNumberV1) -> Job | None:
    if org_of(world, key.repairer_site_id) != org:
        return None
    wanted = key.job_number.strip().casefold()
    for job in world.jobs.values():
        number = job.job_number
        if job.repairer_site_id == key.repairer_site_id and number and number.strip().casefold() == wanted:
            return job
    return None


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


# --- the rules ---------------------------------------------------------------------------


def jobs_get(world: World, call: Call, req: m.JobsGetRequestV1) -> m.JobV1:
    """By id, by external id, or by site and job number (the sandbox's tagged variant)."""
    identity = req.identity
    if isinstance(identity, m.SiteJobNumberIdentity):
        job = _find_job_by_number(world, call.org, identity.site_job_number)
        if job is None:
            raise e.NotFound(detail="no job with that job number at that site for this organization")
        return _job_view(job)
    return _job_view(owned_job(world, call, identity))


def jobs_insert(world: World, call: Call, req: m.JobsInsertRequestV1) -> m.JobV1:
    """Upsert by identity; fields the request omits keep their values on update."""
    org = call.org
    if org_of(world, req.repairer_site_id) != org:
        raise e.Unprocessable(detail="repairer_site_id is not a business of this organization")
    given = req.model_fields_set
    if req.work_provider_id is not None and not any(
        w.id == req.work_provider_id for w in world.work_providers
    ):
        raise e.WorkProviderNotFound()
    job = find_job(world, org, req.identity)
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

    A part on a confirmed procurement is locked (the vendor's documents: "on confirm the
    order is locked"): upserting it with the same values is fine, any change to it is
    ``unprocessable`` and, the rule being one transaction, nothing of the request is saved.
    """
    job = owned_job(world, call, req.job_identity)
    locked = _locked_part_ids(world, job)
    for item in req.parts:
        description = item.description.strip()
        if not description:
            raise e.Unprocessable(detail="a part description cannot be blank")
        part = _existing_part(job, item.identity, description)
        if part is None:
            _add_part(job, item, description)
        elif part.id in locked:
            _refuse_change_to_locked(part, item, description)
        else:
            _update_part(job, part, item, description)
    return _parts_view(job)


def _existing_part(job: Job, identity: m.Identity | None, description: str) -> Part | None:
    """The part an upsert names: by id (which must exist), external id, or description."""
    if isinstance(identity, m.IdIdentity):
        part = next((p for p in job.parts if p.id == identity.id), None)
        if part is None:
            raise e.Unprocessable(detail="part id is not a part of this job")
        return part
    if isinstance(identity, m.ExternalIdentity):
        return next((p for p in job.parts if p.external_id == identity.external), None)
    key = _normalise(description)
    return next((p for p in job.parts if _normalise(p.description) == key), None)


def _add_part(job: Job, item: m.PartInsertV1, description: str) -> None:
    """A new estimated part, priced at once."""
    identity = item.identity
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


def _update_part(job: Job, part: Part, item: m.PartInsertV1, description: str) -> None:
    """Apply an upsert to an unlocked part; an ordered part keeps its quantity."""
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
    return _parts_view(owned_job(world, call, req.job_identity))


def baskets_latest_get(
    world: World, call: Call, req: m.BasketsLatestGetRequestV1
) -> m.BasketsLatestGetResponseV1:
    """Every offer of the job; suppliers in order of first appearance.

    No currency: the vendor's basket carries none (its decision D52); currency first appears
    on procurements and invoices.
    """
    job = owned_job(world, call, req.job_identity)
    suppliers: dict[UUID, m.SupplierV1] = {}
    for offer in job.offers:
        sid = offer.supplier_business_id
        if sid not in suppliers:
            suppliers[sid] = m.SupplierV1(business_id=sid, name=world.businesses[sid].name)
    return m.BasketsLatestGetResponseV1(offers=list(job.offers), suppliers=list(suppliers.values()))
