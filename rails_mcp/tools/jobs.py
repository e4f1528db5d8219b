"""The repair job: open (upsert) it, read its header."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from rails_mcp.errors import Repairs, ToolError, ToolFailure, WireContext
from rails_mcp.present import JobView, job_view
from rails_mcp.wire import models as m
from rails_mcp.wire.errors import RailsError

from .base import JOB_ALIASES, JobRef, Reply, ToolContext, ToolInput, ToolOutput, hints
from .declare import declare
from .views import job_ctx, wire

__all__ = ["GET_REPAIR_JOB", "JOB_HELP", "JOB_REPAIRS", "OPEN_REPAIR_JOB", "JobInput"]

JOB_HELP = 'job is {"external": "<your ref>"} or {"id": "<uuid>"} (key "external", not "external_id").'
#: The repairs of every tool whose only argument is ``job``.
JOB_REPAIRS = Repairs(aliases=JOB_ALIASES, identities=frozenset({"job"}))

Text100 = Annotated[str, StringConstraints(max_length=100)]


class VehicleInput(ToolInput):
    """The wire's vehicle, with each field described for the agent."""

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
            "insurer_id": "work_provider_id",
            "work_provider": "work_provider_id",
            "workProviderId": "work_provider_id",
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
        f"Job {job.external_id or job.id} is open (id {job.id}).",
    )


OPEN_REPAIR_JOB = declare(
    open_repair_job,
    hints(read_only=False, idempotent=True),
    "Create or update a repair job (upsert keyed by job). "
    + JOB_HELP
    + " Fields you omit stay unchanged; repairer_site_id defaults to the only site. Next: identify_parts.",
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
    return Reply(
        GetRepairJobOutput(
            job=job_view(job),
            note="Header only: parts via list_parts, prices via recommend_basket, orders via "
            "list_procurements.",
        ),
        f"Job {job.external_id or job.id}: claim {job.claim_number}, vehicle "
        f"{job.vehicle.plate_number if job.vehicle else 'unknown'}.",
    )


GET_REPAIR_JOB = declare(
    get_repair_job,
    hints(read_only=True, idempotent=True),
    "Read a job's header (vehicle, site, insurer, claim). "
    + JOB_HELP
    + " Parts, prices and orders are separate: list_parts, recommend_basket, list_procurements.",
)
