"""The repair job: open (upsert) it, read its header."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from rails_mcp.errors import Repairs, ToolError, ToolFailure, WireContext
from rails_mcp.present import JobView, job_view
from rails_mcp.wire import models as m
from rails_mcp.wire.errors import RailsError
from rails_mcp.wire.untrusted import quote

from .base import JOB_ALIASES, JobRef, Reply, ToolContext, ToolInput, ToolOutput, hints
from .declare import declare
from .lookup import Candidate, Fix, by_name, identity_of, job_correction, uuid_of
from .views import job_ctx, wire

__all__ = ["GET_REPAIR_JOB", "JOB_HELP", "JOB_REPAIRS", "OPEN_REPAIR_JOB", "JobInput"]

JOB_HELP = 'job: {"external": "<your ref>"} or {"id": "<uuid>"} (never "external_id").'
#: The repairs of every tool whose only argument is ``job``.
JOB_REPAIRS = Repairs(aliases=JOB_ALIASES, identities=frozenset({"job"}))

Text100 = Annotated[str, StringConstraints(max_length=100)]


class VehicleInput(ToolInput):
    """The wire's vehicle, with each field described for the agent."""

    repairs = Repairs(
        aliases={
            "vin": "chassis_number",
            "chassis": "chassis_number",
            "vin_number": "chassis_number",
            "plate": "plate_number",
            "rego": "plate_number",
            "registration": "plate_number",
            "vrm": "plate_number",
            "plate_no": "plate_number",
            "registration_number": "plate_number",
            "state": "plate_state",
            "region": "plate_state",
            "plate_region": "plate_state",
            "country": "plate_state",
        }
    )

    chassis_number: Annotated[str | None, Field(max_length=64, description="VIN.")] = None
    plate_number: Annotated[str | None, Field(max_length=32, description="Plate.")] = None
    plate_state: Annotated[str | None, Field(max_length=32, description="Plate region.")] = None


# --- open_repair_job ------------------------------------------------------------------------------


class OpenRepairJobInput(ToolInput):
    repairs = Repairs(
        aliases={
            **JOB_ALIASES,
            "site_id": "repairer_site_id",
            "repairerSiteId": "repairer_site_id",
            "site": "repairer_site_id",
            "repairer_site": "repairer_site_id",
            "repairer_id": "repairer_site_id",
            "business_id": "repairer_site_id",
            "location_id": "repairer_site_id",
            "insurer_id": "work_provider_id",
            "work_provider": "work_provider_id",
            "workProviderId": "work_provider_id",
            "insurer": "work_provider_id",
            "provider_id": "work_provider_id",
            "insurance_id": "work_provider_id",
            "claim": "claim_number",
            "claim_no": "claim_number",
            "claim_id": "claim_number",
            "claim_ref": "claim_number",
            "job_no": "job_number",
            "job_card": "job_number",
            "job_card_number": "job_number",
            "car": "vehicle",
            "vehicle_details": "vehicle",
        },
        identities=frozenset({"job"}),
        ids=frozenset({"repairer_site_id", "work_provider_id"}),
    )

    job: JobRef
    repairer_site_id: Annotated[
        UUID | None, Field(description="From list_businesses; omitted = the only site.")
    ] = None
    work_provider_id: Annotated[
        UUID | None, Field(description="From list_work_providers; omit for cash jobs.")
    ] = None
    vehicle: Annotated[VehicleInput | None, Field(description="The vehicle.")] = None
    claim_number: Annotated[Text100 | None, Field(description="Insurer claim number.")] = None
    job_number: Annotated[Text100 | None, Field(description="Your job card number.")] = None


class OpenRepairJobOutput(ToolOutput):
    job: JobView | None = None
    next_tool: Literal["identify_parts"] | None = None


async def _default_site(ctx: ToolContext, job: m.Identity) -> UUID:
    client = ctx.rails.client
    try:
        return (await client.repairer.jobs.get(identity=job)).repairer_site_id
    except RailsError:  # not found, or unreadable just now: the only site will do
        pass
    sites = await wire(WireContext("open_repair_job"), client.businesses.list())
    if len(sites.items) == 1:
        return sites.items[0].id
    raise ToolFailure(
        ToolError(
            code="invalid_arguments",
            message=f"repairer_site_id is needed: this repairer has {len(sites.items)} sites.",
            fix="Pass repairer_site_id with one of the ids from list_businesses.",
            retryable=False,
            field="repairer_site_id",
            valid_values=[str(s.id) for s in sites.items],
            next_tool="list_businesses",
        )
    )


async def open_repair_job(ctx: ToolContext, args: OpenRepairJobInput) -> Reply[OpenRepairJobOutput]:
    site = args.repairer_site_id or await _default_site(ctx, args.job)
    wctx = job_ctx(
        "open_repair_job",
        args.job,
        unprocessable_fix=(
            'repairer_site_id must come from list_businesses, and a job addressed by {"id"} must '
            'already exist: use {"external": "<your ref>"} to create one.'
        ),
    )
    job = await wire(
        wctx,
        ctx.rails.client.repairer.jobs.insert(
            identity=args.job,
            repairer_site_id=site,
            work_provider_id=args.work_provider_id,
            vehicle=m.VehicleV1.model_validate(args.vehicle.model_dump()) if args.vehicle else None,
            claim_number=args.claim_number,
            job_number=args.job_number,
        ),
    )
    if ctx.hub is not None:  # scenario://current shows the jobs this server opened
        ctx.hub.note_job(job.id, job.external_id)
    return Reply(
        OpenRepairJobOutput(job=job_view(job), next_tool="identify_parts"),
        f"Job {job_name(job)} is open (id {job.id}).",
    )


def job_name(job: m.JobV1) -> str:
    """A job as the server's sentences name it: its reference quoted as data, or its id."""
    return quote(job.external_id) if job.external_id else str(job.id)


async def _correct_open_job(fix: Fix) -> list[Candidate]:
    """A site or an insurer named (or an only one meant): the job's own is left to the wire."""
    cand = dict(fix.base)
    if cand.get("repairer_site_id") is not None:
        await _site(fix, cand)
    if cand.get("work_provider_id") is not None:
        await _work_provider(fix, cand)
    return [(cand, [])]


async def _site(fix: Fix, cand: dict[str, Any]) -> None:
    site = cand["repairer_site_id"]
    sites = (await fix.client.businesses.list()).items
    ids = {str(s.id) for s in sites}
    given = uuid_of(site)
    if given is not None and str(given) in ids:
        return
    named = by_name(sites, site) if isinstance(site, str) and given is None else None
    own = named if named is not None else sites[0] if len(sites) == 1 else None
    if own is not None:  # named, or the repairer's own (only) site
        cand["repairer_site_id"] = str(own.id)
        fix.notes.append(
            "repairer_site_id is one of this repairer's own sites (list_businesses): "
            f"{quote(own.name)} ({own.id})."
        )
        return
    fix.ask = {
        "fix": "repairer_site_id must be one of this repairer's sites: ask the person which "
        "(list_businesses names them).",
        "valid_values": sorted(ids),
        "next_tool": "list_businesses",
    }


async def _work_provider(fix: Fix, cand: dict[str, Any]) -> None:
    provider = cand["work_provider_id"]
    providers = (await fix.client.repairer.work_providers.list()).items
    ids = {str(w.id) for w in providers}
    given = uuid_of(provider)
    if given is not None and str(given) in ids:
        return
    named = by_name(providers, provider) if isinstance(provider, str) and given is None else None
    exists = False
    identity = identity_of(cand.get("job"))
    if named is None and identity is not None:
        exists = await fix.get_job(identity) is not None
    only = providers[0] if len(providers) == 1 else None
    chosen = named or (only if not exists else None)
    if chosen is not None:
        cand["work_provider_id"] = str(chosen.id)
        fix.notes.append(
            f"work_provider_id is the id of {quote(chosen.name)} (list_work_providers): {chosen.id}."
        )
        return
    # A new job, or an existing one whose insurer the agent meant to change: only the person knows.
    names = ", ".join(f"{quote(w.name)} ({w.id})" for w in providers)
    fix.ask = {
        "fix": f"{quote(provider, 60)} is not a work provider. Ask the person which "
        f"insurer this job is billed to — {names} — or omit work_provider_id "
        + ("to keep the job's insurer." if exists else "for a cash job."),
        "valid_values": sorted(ids),
        "next_tool": "list_work_providers",
    }


async def _open_job_accepted(ctx: ToolContext, args: OpenRepairJobInput) -> bool:
    """The wire would take it: a job addressed by id exists, the site and the insurer are known."""
    client = ctx.rails.client
    job = args.job
    if isinstance(job, m.IdIdentity):
        await client.repairer.jobs.get(identity=job)
    site = args.repairer_site_id
    if site is not None and site not in {b.id for b in (await client.businesses.list()).items}:
        return False
    provider = args.work_provider_id
    providers = (await client.repairer.work_providers.list()).items
    return provider is None or provider in {w.id for w in providers}


OPEN_REPAIR_JOB = declare(
    open_repair_job,
    hints(read_only=False, idempotent=True),
    "Create or update a repair job (upsert keyed by job). "
    + JOB_HELP
    + " Fields you omit stay unchanged. Next: identify_parts.",
    correct=_correct_open_job,
    probe=_open_job_accepted,
)


# --- get_repair_job -------------------------------------------------------------------------------


class JobInput(ToolInput):
    """The arguments of every tool that reads one job: the job alone."""

    repairs = JOB_REPAIRS

    job: JobRef


GetRepairJobInput = JobInput


class GetRepairJobOutput(ToolOutput):
    job: JobView | None = None
    note: str | None = None


async def get_repair_job(ctx: ToolContext, args: GetRepairJobInput) -> Reply[GetRepairJobOutput]:
    job = await wire(
        job_ctx("get_repair_job", args.job), ctx.rails.client.repairer.jobs.get(identity=args.job)
    )
    plate = job.vehicle.plate_number if job.vehicle else None
    return Reply(
        GetRepairJobOutput(
            job=job_view(job),
            note="Header only: parts via list_parts, prices via recommend_basket, orders via "
            "list_procurements.",
        ),
        f"Job {job_name(job)}: claim {quote(job.claim_number) if job.claim_number else 'none'}, "
        f"vehicle {quote(plate) if plate else 'unknown'}.",
    )


GET_REPAIR_JOB = declare(
    get_repair_job,
    hints(read_only=True, idempotent=True),
    "Read a job's header (vehicle, site, insurer, claim); its parts, prices and orders: "
    "list_parts, recommend_basket, list_procurements.",
    correct=job_correction,
)
