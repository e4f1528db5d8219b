"""The one helper that turns a wire failure into an enriched tool error, and what a job or a
procurement that is not found tells the agent. (How things look: :mod:`rails_mcp.present`.)"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar
from uuid import UUID

from rails_mcp.errors import ToolFailure, WireContext, wire_error
from rails_mcp.wire import models as m
from rails_mcp.wire.errors import RailsError
from rails_mcp.wire.untrusted import quote

__all__ = ["job_ctx", "procurement_ctx", "wire"]

T = TypeVar("T")


async def wire(ctx: WireContext, call: Awaitable[T]) -> T:
    """Await a wire call; a wire failure ends the tool with an error enriched by ``ctx``."""
    try:
        return await call
    except RailsError as exc:
        raise ToolFailure(wire_error(exc, ctx)) from None


def _label(job: m.Identity) -> str:
    """A job identity as an error names it, its reference quoted as data."""
    return f"external {quote(job.external)}" if isinstance(job, m.ExternalIdentity) else f"id {job.id}"


def job_ctx(tool: str, job: m.Identity, **kw: Any) -> WireContext:
    return WireContext(
        tool=tool,
        not_found=f"No repair job with {_label(job)} exists for this repairer.",
        not_found_fix=(
            'Check the reference (the key is "external", not "external_id"), or create the job '
            "with open_repair_job."
        ),
        not_found_next_tool="open_repair_job",
        **kw,
    )


def procurement_ctx(
    tool: str,
    procurement_id: UUID,
    *,
    not_found_fix: str = (
        "Use a procurement id from list_procurements for the job (ids of other jobs' or "
        "tenants' orders are not visible)."
    ),
    **kw: Any,
) -> WireContext:
    return WireContext(
        tool=tool,
        not_found=f"No procurement {procurement_id} is visible to this credential.",
        not_found_fix=not_found_fix,
        not_found_next_tool="list_procurements",
        **kw,
    )
