"""A job's parts: add or update them (upsert), list them with their status."""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast

from pydantic import Field, StrictInt, StringConstraints

from rails_mcp.errors import Repairs
from rails_mcp.paging import PAGE_ALIASES, NextCursor, PageInput, Window, cursor_key
from rails_mcp.present import PartCounts, PartView, part_counts, part_view, parts_view
from rails_mcp.wire import models as m
from rails_mcp.wire.errors import RailsError
from rails_mcp.wire.untrusted import quote

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
from .jobs import JobInput
from .lookup import Candidate, Fix, job_correction, list_and_job, uuid_of
from .views import job_ctx, wire

__all__ = ["IDENTIFY_PARTS", "LIST_PARTS", "Quantity"]

Quantity = Annotated[StrictInt, Field(ge=1, le=1000)]


# --- identify_parts -------------------------------------------------------------------------------


class PartInput(ToolInput):
    repairs = Repairs(
        aliases={
            "qty": "quantity",
            "count": "quantity",
            "amount": "quantity",
            "number": "quantity",
            "name": "description",
            "desc": "description",
            "part_name": "description",
            "title": "description",
            "oem_number": "part_number",
            "part_no": "part_number",
            "oem": "part_number",
            "sku": "part_number",
            "oem_part_number": "part_number",
        }
    )

    description: Annotated[
        str, StringConstraints(min_length=1, max_length=500), Field(description="What the part is.")
    ]
    quantity: Annotated[Quantity, Field(description="How many, 1–1000.")]
    part_number: Annotated[
        Annotated[str, StringConstraints(max_length=100)] | None, Field(description="OEM part number.")
    ] = None
    identity: Annotated[
        Identity | None,
        Field(description="Optional; else the description is the key."),
    ] = None


class IdentifyPartsInput(ToolInput):
    repairs = Repairs(
        aliases={
            **JOB_ALIASES,
            "part_list": "parts",
            "parts_list": "parts",
            "items": "parts",
            "part": "parts",
            "job_parts": "parts",
        },
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
    """``parts``: only those this call added or updated; ``counts``: the whole job's."""

    parts_on_job: int | None = None
    next_tool: Literal["recommend_basket"] | None = None


def _touched(sent: list[PartInput], items: list[m.PartV1]) -> list[m.PartV1]:
    """The job's parts that ``sent`` named, in the order sent: by id, external id, or description.

    The wire answers with every part of the job; a result that grew with the job would
    repeat the whole job on every call, so only what this call changed goes back.
    """
    by_id = {p.id: p for p in items}
    by_external = {p.external_id: p for p in items if p.external_id}
    by_description = {p.description.strip().casefold(): p for p in reversed(items)}
    touched: dict[object, m.PartV1] = {}
    for part in sent:
        ident = part.identity
        if isinstance(ident, m.IdIdentity):
            found = by_id.get(ident.id)
        elif isinstance(ident, m.ExternalIdentity):
            found = by_external.get(ident.external)
        else:
            found = by_description.get(part.description.strip().casefold())
        if found is not None:
            touched.setdefault(found.id, found)
    return list(touched.values())


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
    _, counts = parts_view(resp.items)
    views, _ = parts_view(_touched(args.parts, resp.items))
    return Reply(
        IdentifyPartsOutput(
            parts=views, counts=counts, parts_on_job=len(resp.items), next_tool="recommend_basket"
        ),
        f"{len(views)} part(s) added or updated; the job has {len(resp.items)}: "
        f"{counts.estimated} estimated, {counts.ordered} ordered.",
    )


async def _correct_parts(fix: Fix) -> list[Candidate]:
    """The job looked up, then each part's identity checked against the job's parts."""
    cand = await fix.with_job(fix.base)
    found = list_and_job(cand, "parts")
    if found is None:
        return [(cand, [])]
    items, identity = found
    try:
        listed = await fix.client.repairer.jobs.parts.list(job_identity=identity)
    except RailsError:
        return [(cand, [])]
    current = {str(p.id): p for p in listed.items}
    fixed: list[Any] = []
    for item in items:
        if isinstance(item, dict) and isinstance(cast("dict[str, Any]", item).get("identity"), dict):
            part = dict(cast("dict[str, Any]", item))
            if not _known_part(fix, part, current):
                return [(cand, [])]
            fixed.append(part)
        else:
            fixed.append(item)
    return [({**cand, "parts": fixed}, [])]


def _known_part(fix: Fix, part: dict[str, Any], current: dict[str, m.PartV1]) -> bool:
    """Drop ``part``'s identity when the job has no such part; False when only the person can say."""
    pid = cast("dict[str, Any]", part["identity"]).get("id")
    if pid is None:
        return True
    known = current.get(str(uuid_of(pid)))
    if known is None:
        del part["identity"]  # not a part of this job: the description keys it
        fix.notes.append(f"{quote(pid, 60)} is not a part of this job: send the part without identity.")
    elif known.status is m.PartStatusV1.ORDERED and part.get("quantity") != known.quantity:
        # Putting the old quantity back would "succeed" and do nothing the agent meant.
        fix.ask = {
            "fix": f"{quote(known.description, 60)} is already ordered (see list_parts), so its "
            f"quantity stays {known.quantity}. Ask the person whether more are needed; if "
            "so, identify them as a new part (a new description, no identity).",
            "next_tool": "list_parts",
        }
        return False
    return True


async def _parts_accepted(ctx: ToolContext, args: IdentifyPartsInput) -> bool:
    """Each part given by id is the job's, and an ordered one keeps its quantity."""
    listed = await ctx.rails.client.repairer.jobs.parts.list(job_identity=args.job)
    current = {p.id: p for p in listed.items}
    for part in args.parts:
        ident = part.identity
        if isinstance(ident, m.IdIdentity):
            known = current.get(ident.id)
            if known is None:
                return False
            if known.status is m.PartStatusV1.ORDERED and known.quantity != part.quantity:
                return False
    return True


IDENTIFY_PARTS = declare(
    identify_parts,
    hints(read_only=False, idempotent=True),
    "Add or update parts on a job (upsert: a part is keyed by its identity, else its "
    "description; nothing is deleted, ordered parts stay ordered). Returns the parts it changed "
    "and the job's counts.",
    correct=_correct_parts,
    probe=_parts_accepted,
)


# --- list_parts -----------------------------------------------------------------------------------


class ListPartsInput(PageInput, JobInput):
    repairs = Repairs(
        aliases={**JOB_ALIASES, **PAGE_ALIASES, "part_status": "status", "state": "status"},
        identities=frozenset({"job"}),
    )

    status: Annotated[Literal["estimated", "ordered"] | None, Field(description="Only this status.")] = None


class ListPartsOutput(PartsOutput, NextCursor):
    pass


async def list_parts(ctx: ToolContext, args: ListPartsInput) -> Reply[ListPartsOutput]:
    window = Window.of("list_parts", args, cursor_key(ctx.rails.client))
    resp = await wire(
        job_ctx("list_parts", args.job), ctx.rails.client.repairer.jobs.parts.list(job_identity=args.job)
    )
    chosen = [p for p in resp.items if args.status is None or p.status.value == args.status]
    page, next_cursor = window.cut(chosen)
    counts = part_counts(resp.items)
    output = ListPartsOutput(parts=[part_view(p) for p in page], counts=counts).carry(next_cursor)
    noun = f"{args.status} part(s)" if args.status else "part(s)"
    return Reply(
        output,
        f"{window.summary(len(page), len(chosen), noun)}; the job has {counts.estimated} estimated, "
        f"{counts.ordered} ordered.",
    )


LIST_PARTS = declare(
    list_parts,
    hints(read_only=True, idempotent=True),
    "List a job's parts; status estimated = not yet ordered, ordered = on a procurement.",
    correct=job_correction,
)
