"""``declare``: a tool is named, titled and typed by its handler, so the four cannot disagree."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, cast, get_args

import mcp_types

from .base import InT, OutT, Reply, ToolContext, ToolDef

if TYPE_CHECKING:
    from .lookup import Candidate, Fix

__all__ = ["declare", "runs"]

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
