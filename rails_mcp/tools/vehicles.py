"""Resolution helpers: warm the catalogue for vehicles, find the site and the insurer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

import anyio
from pydantic import Field

from rails_mcp.errors import Repairs, ToolFailure, WireContext
from rails_mcp.paging import PAGE_ALIASES, NextCursor, PageInput, Window, cursor_key
from rails_mcp.present import BusinessView, OneKey, business_view
from rails_mcp.wire import models as m

from .base import (
    Reply,
    Shape,
    ToolContext,
    ToolInput,
    ToolOutput,
    VehicleIdentifierRef,
    hints,
)
from .declare import declare, runs
from .views import wire

__all__ = ["LIST_BUSINESSES", "LIST_WORK_PROVIDERS", "PREPARE_VEHICLE"]


# --- prepare_vehicle --------------------------------------------------------------------------


class PrepareVehicleInput(ToolInput):
    repairs = Repairs(
        aliases={
            "vins": "identifiers",
            "identifier": "identifiers",
            "vehicles": "identifiers",
            "vehicle_identifiers": "identifiers",
            "ids": "identifiers",
            "plates": "identifiers",
            # One vehicle sent as its own argument: wrapped as an item of ``identifiers``.
            "vin": "identifiers",
            "vrm": "identifiers",
            "chassis": "identifiers",
            "plate": "identifiers",
            "registration": "identifiers",
            "rego": "identifiers",
        },
        identifiers=frozenset({"identifiers"}),
    )

    identifiers: Annotated[
        list[VehicleIdentifierRef],
        Field(min_length=1, max_length=1000, description='Each {"vin": "<17 chars>"} or {"vrm": "<plate>"}.'),
    ]


class IdentifierView(OneKey):
    """An identifier as the agent sent it: a VIN or a plate (VRM), never both."""

    vin: str | None = Field(default=None, description="Vehicle identification number, 17 characters.")
    vrm: str | None = Field(default=None, description="Vehicle registration mark (the plate).")


class InvalidIdentifier(Shape):
    """One identifier tier1.prepare refused, and the reason it gave."""

    identifier: IdentifierView = Field(description="The identifier as sent.")
    reason: str = Field(description="Why the wire refused it.")


class ReasonCount(Shape):
    """How many identifiers the wire refused for one reason."""

    reason: str = Field(description="The reason the wire gave.")
    count: int = Field(description="Identifiers refused for it.")


class PrepareVehicleOutput(ToolOutput):
    """``invalid_identifiers`` is the first :data:`SHOWN_INVALID`; ``invalid_by_reason`` counts all."""

    submitted: int | None = None
    queued: int | None = None
    invalid: int | None = None
    invalid_by_reason: list[ReasonCount] | None = None
    invalid_identifiers: list[InvalidIdentifier] | None = None
    next_tool: Literal["open_repair_job"] | None = None


#: Invalid identifiers shown one by one; the rest are counted by reason, so 1,000 stay small.
SHOWN_INVALID = 20
#: Distinct reasons counted by name; any further ones are counted together.
SHOWN_REASONS = 10
OTHER_REASONS = "(other reasons)"


def _by_reason(invalid: list[InvalidIdentifier]) -> list[ReasonCount]:
    """How many identifiers each reason refused, most common first, at most SHOWN_REASONS named."""
    counts: dict[str, int] = {}
    for item in invalid:
        counts[item.reason] = counts.get(item.reason, 0) + 1
    ranked = sorted(counts.items(), key=lambda pair: -pair[1])
    named = [ReasonCount(reason=reason, count=count) for reason, count in ranked[:SHOWN_REASONS]]
    rest = sum(count for _, count in ranked[SHOWN_REASONS:])
    return [*named, ReasonCount(reason=OTHER_REASONS, count=rest)] if rest else named


#: A batch larger than this is prepared in chunks of this size, reporting progress as each lands
#: (``report_progress`` is a no-op when the client gave no progress token).
PROGRESS_CHUNK = 50
#: Chunks in flight at once: a 1000-identifier batch costs five round trips, not twenty.
PARALLEL_CHUNKS = 4


async def prepare_vehicle(ctx: ToolContext, args: PrepareVehicleInput) -> Reply[PrepareVehicleOutput]:
    n = len(args.identifiers)
    chunk = PROGRESS_CHUNK if n > PROGRESS_CHUNK else n
    starts = list(range(0, n, chunk))
    found: dict[int, list[InvalidIdentifier]] = {}
    limiter = anyio.CapacityLimiter(PARALLEL_CHUNKS)
    failures: list[ToolFailure] = []

    async def prepare(start: int) -> None:
        async with limiter:
            batch = args.identifiers[start : start + chunk]
            try:
                resp = await wire(
                    WireContext("prepare_vehicle"), ctx.rails.client.tier1.prepare(identifiers=batch)
                )
            except ToolFailure as failure:
                failures.append(failure)
                return
            found[start] = [
                InvalidIdentifier(identifier=IdentifierView.model_validate(i.identifier), reason=i.reason)
                for i in resp.invalid_identifiers
            ]
            if len(starts) > 1 and ctx.request is not None:
                done = min(n, sum(len(args.identifiers[s : s + chunk]) for s in found))
                await ctx.request.session.report_progress(
                    done, n, f"{done} of {n} vehicle identifiers prepared"
                )

    async with anyio.create_task_group() as tg:
        for start in starts:
            tg.start_soon(prepare, start)
    if failures:
        raise failures[0]
    invalid = [item for start in sorted(found) for item in found[start]]
    shown = (
        "" if len(invalid) <= SHOWN_INVALID else f" (the first {SHOWN_INVALID} listed, all counted by reason)"
    )
    return Reply(
        PrepareVehicleOutput(
            submitted=n,
            queued=n - len(invalid),
            invalid=len(invalid),
            invalid_by_reason=_by_reason(invalid),
            invalid_identifiers=invalid[:SHOWN_INVALID],
            next_tool="open_repair_job",
        ),
        f"{n - len(invalid)} of {n} vehicle identifiers queued; {len(invalid)} invalid{shown}.",
    )


PREPARE_VEHICLE = declare(
    prepare_vehicle,
    hints(read_only=False, idempotent=True),
    "Warm the parts catalogue for 1–1000 vehicles before opening jobs. Changes no job; returns "
    "the invalid identifiers (first 20), counted by reason.",
    probe=runs(prepare_vehicle),
)


# --- list_businesses ------------------------------------------------------------------------------


class ListBusinessesInput(PageInput, ToolInput):
    repairs = Repairs(aliases=PAGE_ALIASES)


async def _business_page(
    ctx: ToolContext,
    tool: str,
    args: ListBusinessesInput,
    call: Callable[[], Awaitable[m.BusinessesListResponseV1 | m.WorkProvidersListResponseV1]],
    noun: str,
) -> tuple[list[BusinessView], str | None, str]:
    """Sites and insurers are both businesses: listed and paged the same way, id and name."""
    window = Window.of(tool, args, cursor_key(ctx.rails.client))
    resp = await wire(WireContext(tool), call())
    page, next_cursor = window.cut(resp.items)
    return [business_view(b) for b in page], next_cursor, window.summary(len(page), len(resp.items), noun)


class ListBusinessesOutput(ToolOutput, NextCursor):
    businesses: list[BusinessView] | None = None
    next_tool: Literal["open_repair_job"] | None = None


async def list_businesses(ctx: ToolContext, args: ListBusinessesInput) -> Reply[ListBusinessesOutput]:
    items, next_cursor, shown = await _business_page(
        ctx, "list_businesses", args, ctx.rails.client.businesses.list, "business(es)"
    )
    output = ListBusinessesOutput(businesses=items, next_tool="open_repair_job").carry(next_cursor)
    return Reply(
        output,
        f"{shown}; use one id as repairer_site_id in open_repair_job.",
    )


LIST_BUSINESSES = declare(
    list_businesses,
    hints(read_only=True, idempotent=True),
    "List the repairer's businesses (sites): an id is open_repair_job's repairer_site_id.",
)


# --- list_work_providers --------------------------------------------------------------------------


class ListWorkProvidersInput(ListBusinessesInput):
    pass


class ListWorkProvidersOutput(ToolOutput, NextCursor):
    work_providers: list[BusinessView] | None = None
    next_tool: Literal["open_repair_job"] | None = None


async def list_work_providers(
    ctx: ToolContext, args: ListWorkProvidersInput
) -> Reply[ListWorkProvidersOutput]:
    items, next_cursor, shown = await _business_page(
        ctx, "list_work_providers", args, ctx.rails.client.repairer.work_providers.list, "work provider(s)"
    )
    output = ListWorkProvidersOutput(work_providers=items, next_tool="open_repair_job").carry(next_cursor)
    return Reply(
        output,
        f"{shown} (insurers); omit work_provider_id for cash jobs.",
    )


LIST_WORK_PROVIDERS = declare(
    list_work_providers,
    hints(read_only=True, idempotent=True),
    "List the insurers (work providers) that pay for jobs: an id is open_repair_job's work_provider_id.",
)
