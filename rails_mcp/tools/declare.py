"""``declare``: a tool is named, titled and typed by its handler, so the four cannot disagree."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast, get_args

import mcp_types

from .base import InT, OutT, Reply, ToolContext, ToolDef

if TYPE_CHECKING:
    from .lookup import Candidate, Fix

__all__ = ["ALL_SCOPES", "READ_SCOPE", "declare", "runs", "scope_of"]

#: The OAuth scope every read-only tool needs; each tool that writes names its own below.
READ_SCOPE = "rails:read"
#: The scope a write needs, per tool: what a token must grant to call it over HTTP with OAuth.
#: Spending (``rails:order``) and confirming (``rails:confirm``) are granted apart from the
#: other writes, so an agent can prepare a job without being able to spend.
WRITE_SCOPES: dict[str, str] = {
    "prepare_vehicle": "rails:write",
    "open_repair_job": "rails:write",
    "identify_parts": "rails:write",
    "place_procurement": "rails:order",
    "confirm_procurement": "rails:confirm",
}
ALL_SCOPES = (READ_SCOPE, *dict.fromkeys(WRITE_SCOPES.values()))

Handler = Callable[[ToolContext, InT], Awaitable[Reply[OutT]]]
Probe = Callable[[ToolContext, InT], Awaitable[bool]]


def runs(handler: Handler[InT, OutT]) -> Probe[InT]:
    """A probe that runs the tool itself: for a tool whose run changes nothing a person would undo."""

    async def probe(ctx: ToolContext, args: InT) -> bool:
        await handler(ctx, args)
        return True

    return probe


def declare(
    handler: Handler[InT, OutT],
    annotations: mcp_types.ToolAnnotations,
    description: str,
    *,
    extension: bool = False,
    correct: Callable[[Fix], Awaitable[list[Candidate]]] | None = None,
    probe: Probe[InT] | None = None,
    ui: str | None = None,
) -> ToolDef[InT, OutT]:
    """``list_parts(ctx, args: ListPartsInput) -> Reply[ListPartsOutput]`` declares the tool
    ``list_parts``, titled "List parts", reading ListPartsInput and answering ListPartsOutput.

    A read-only tool is probed by running it unless it declares its own ``probe``."""
    if not annotations.read_only_hint and handler.__name__ not in WRITE_SCOPES:
        raise ValueError(f"{handler.__name__} writes: name the OAuth scope it needs in WRITE_SCOPES")
    signature = inspect.signature(handler, eval_str=True)
    _ctx, args = signature.parameters.values()
    (output_model,) = get_args(signature.return_annotation)
    if probe is None and annotations.read_only_hint:
        probe = runs(handler)
    title = handler.__name__.replace("_", " ").capitalize()
    return ToolDef(
        name=handler.__name__,
        title=title,
        description=description,
        input_model=cast("type[InT]", args.annotation),
        output_model=cast("type[OutT]", output_model),
        # Said twice on purpose: 2025-03-26 hosts show ``annotations.title``, later ones ``title``.
        annotations=annotations.model_copy(update={"title": title}),
        handler=handler,
        extension=extension,
        correct=correct,
        probe=probe,
        ui=ui,
    )


def scope_of(tool: ToolDef[Any, Any]) -> str:
    """The OAuth scope a token must grant to list and call ``tool``."""
    return READ_SCOPE if tool.read_only else WRITE_SCOPES[tool.name]
