"""A job's parts: add or update them (upsert), list them with their status."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt, StringConstraints

from rails_mcp.errors import Repairs
from rails_mcp.present import PartCounts, PartView, parts_view
from rails_mcp.wire import models as m

from .base import (
    JOB_ALIASES,
    Identity,
    JobRef,
    Reply,
    ToolContext,
    ToolInput,
    ToolOutput,
    hints,
)
from .declare import declare
from .jobs import JOB_HELP, JobInput
from .views import job_ctx, wire

__all__ = ["IDENTIFY_PARTS", "LIST_PARTS", "Quantity"]

Quantity = Annotated[StrictInt, Field(ge=1, le=1000)]


# --- identify_parts -------------------------------------------------------------------------------


class PartInput(ToolInput):
    description: Annotated[
        str, StringConstraints(min_length=1, max_length=500), Field(description="What the part is.")
    ]
    quantity: Annotated[Quantity, Field(description="How many, 1–1000.")]
    part_number: Annotated[
        Annotated[str, StringConstraints(max_length=100)] | None, Field(description="OEM part number.")
    ] = None
    identity: Annotated[
        Identity | None,
        Field(description="Optional part key; without it the description is the key."),
    ] = None


class IdentifyPartsInput(ToolInput):
    repairs = Repairs(
        aliases={**JOB_ALIASES, "part_list": "parts"},
        identities=frozenset({"job"}),
        item_identities={"parts": "identity"},
    )

    job: JobRef
    parts: Annotated[
        list[PartInput], Field(min_length=1, max_length=200, description="1–200 parts to upsert.")
    ]


class PartsOutput(ToolOutput):
    parts: list[PartView] | None = None
    counts: PartCounts | None = None


class IdentifyPartsOutput(PartsOutput):
    next_tool: Literal["recommend_basket"] | None = None


async def identify_parts(ctx: ToolContext, args: IdentifyPartsInput) -> Reply[IdentifyPartsOutput]:
    parts = [
        m.PartInsertV1(
            identity=p.identity, description=p.description, quantity=p.quantity, part_number=p.part_number
        )
        for p in args.parts
    ]
    wctx = job_ctx(
        "identify_parts",
        args.job,
        unprocessable_fix=(
            "An ordered part's quantity cannot change, and a part addressed by its id must belong "
            "to this job: read list_parts and send matching values."
        ),
    )
    resp = await wire(wctx, ctx.rails.client.repairer.jobs.parts.insert(job_identity=args.job, parts=parts))
    views, counts = parts_view(resp.items)
    return Reply(
        IdentifyPartsOutput(parts=views, counts=counts, next_tool="recommend_basket"),
        f"{len(views)} part(s) on the job: {counts.estimated} estimated, {counts.ordered} ordered.",
    )


IDENTIFY_PARTS = declare(
    identify_parts,
    hints(read_only=False, idempotent=True),
    "Add or update parts on a job (upsert: a part is keyed by its identity, else its "
    "description; nothing is deleted, ordered parts stay ordered). Returns all the job's parts "
    "with status estimated|ordered. " + JOB_HELP,
)


# --- list_parts -----------------------------------------------------------------------------------


ListPartsInput = JobInput


async def list_parts(ctx: ToolContext, args: ListPartsInput) -> Reply[PartsOutput]:
    resp = await wire(
        job_ctx("list_parts", args.job), ctx.rails.client.repairer.jobs.parts.list(job_identity=args.job)
    )
    views, counts = parts_view(resp.items)
    return Reply(
        PartsOutput(parts=views, counts=counts),
        f"{len(views)} part(s): {counts.estimated} estimated, {counts.ordered} ordered.",
    )


LIST_PARTS = declare(
    list_parts,
    hints(read_only=True, idempotent=True),
    "List a job's parts and their status (estimated = not yet ordered, ordered = on a "
    "procurement). " + JOB_HELP,
)
