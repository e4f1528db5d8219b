"""Corrections the server can look up, checked before they are offered.

The repair engine (``rails_mcp.errors.repair``) fixes what the arguments alone reveal: key
spellings, shapes, bounds. What only the wire knows is fixed by the tool's own ``correct`` hook
(declared beside its handler, built on the shared look-ups of ``lookup``): a job reference in the
wrong case, a site named instead of identified, a ``PR-1`` reference instead of the procurement's
id. A candidate becomes ``example_arguments`` only when the tool's ``probe`` accepts it now. When
nothing verifies, no example is offered (never a wrong id) and the fix says what to ask.
This module reaches each tool through its declaration only: it imports no tool module.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping
from typing import Any, cast

import anyio
from pydantic import BaseModel, ValidationError

from rails_mcp.errors import ToolError, ToolFailure
from rails_mcp.errors.reshape import deep_repair
from rails_mcp.wire.errors import RailsError

from .base import InputNeeded, ToolContext, ToolDef
from .lookup import Candidate, Fix

__all__ = ["corrected"]

log = logging.getLogger("rails_mcp.tools.correct")

#: Errors no argument change can fix: the same call may work later, or the setup is wrong.
_NOT_ARGUMENTS = frozenset(
    {
        "unauthorized",
        "forbidden",
        "internal_error",
        "rate_limited",
        "placement_outcome_unknown",
        "placement_not_landed",
        "confirmation_not_landed",
        "part_already_ordered",
        # Refusals by this deployment's controls: the same call is refused again, and only the
        # person running the server (or the person approving) can change the outcome.
        "approval_unavailable",
        "approval_replayed",
        "over_spending_limit",
        "read_only_mode",
        "tool_not_allowed",
    }
)
#: Codes whose fix speaks of the mistake in general: a looked-up correction replaces it. Others (the
#: guard's own codes) already name the exact fix and keep it.
_GENERIC_FIX = frozenset(
    {"not_found", "unprocessable", "work_provider_not_found", "bad_request", "invalid_arguments"}
)
#: How long the look-ups behind one correction may take before the error goes out without one.
_BUDGET_SECONDS = 10.0


async def corrected(
    tool: ToolDef[Any, Any], ctx: ToolContext, arguments: Mapping[str, Any], error: ToolError
) -> ToolError:
    """``error`` with ``example_arguments`` that the same tool accepts now, or with none at all."""
    if error.retryable or error.code in _NOT_ARGUMENTS:
        return error
    try:
        with anyio.fail_after(_BUDGET_SECONDS):
            return await _correct(tool, dataclasses.replace(ctx, request=None), arguments, error)
    except Exception as exc:  # a correction is a courtesy: the error goes out as it was
        log.info("no correction looked up for %s (%s)", tool.name, type(exc).__name__)
        return error


async def _correct(
    tool: ToolDef[Any, Any], ctx: ToolContext, arguments: Mapping[str, Any], error: ToolError
) -> ToolError:
    model = cast("type[BaseModel]", tool.input_model)
    base = error.example_arguments
    if base is None:
        base = deep_repair(model, {k: v for k, v in arguments.items()})
    fix = Fix(ctx, base, error, arguments)
    no_look_ups: list[Candidate] = [(fix.base, [])]
    candidates = await tool.correct(fix) if tool.correct is not None else no_look_ups
    for candidate, why in candidates:
        try:
            args = model.model_validate(candidate)
        except ValidationError:
            continue
        if await _accepted(tool, ctx, args):
            return _with_example(error, fix, args, why)
    return _without_example(error, fix)


async def _accepted(tool: ToolDef[Any, Any], ctx: ToolContext, args: BaseModel) -> bool:
    if tool.probe is None:
        return False
    try:
        return await tool.probe(ctx, args)
    except (ToolFailure, RailsError, InputNeeded):
        return False


def _with_example(error: ToolError, fix: Fix, args: BaseModel, why: list[str]) -> ToolError:
    example = args.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    update: dict[str, Any] = {"example_arguments": example}
    notes = [*fix.notes, *why]
    if notes and error.code in _GENERIC_FIX:
        update["fix"] = " ".join(notes) + " example_arguments is the corrected call; replay it."
    if fix.cautions:  # a price the agent did not choose: said whatever the code
        update["fix"] = " ".join([update.get("fix", error.fix), *fix.cautions])
    return error.model_copy(update=update)


def _without_example(error: ToolError, fix: Fix) -> ToolError:
    update: dict[str, Any] = {"example_arguments": None, **fix.ask}
    if "example_arguments" in update.get("fix", error.fix):  # no example to point to after all
        kept = [
            s for s in re.split(r"(?<=[.;])\s+", update.get("fix", error.fix)) if "example_arguments" not in s
        ]
        update["fix"] = (
            " ".join(kept) or "No corrected call can be offered now: ask the person how to proceed."
        )
    return error.model_copy(update=update)
