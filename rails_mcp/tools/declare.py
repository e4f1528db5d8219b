"""``declare``: a tool is named, titled and typed by its handler, so the four cannot disagree."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import cast, get_args

import mcp_types

from .base import InT, OutT, Reply, ToolContext, ToolDef

__all__ = ["declare"]


def declare(
    handler: Callable[[ToolContext, InT], Awaitable[Reply[OutT]]],
    annotations: mcp_types.ToolAnnotations,
    description: str,
    *,
    extension: bool = False,
) -> ToolDef[InT, OutT]:
    """``list_parts(ctx, args: ListPartsInput) -> Reply[ListPartsOutput]`` declares the tool
    ``list_parts``, titled "List parts", reading ListPartsInput and answering ListPartsOutput."""
    signature = inspect.signature(handler, eval_str=True)
    _ctx, args = signature.parameters.values()
    (output_model,) = get_args(signature.return_annotation)
    return ToolDef(
        name=handler.__name__,
        title=handler.__name__.replace("_", " ").capitalize(),
        description=description,
        input_model=cast("type[InT]", args.annotation),
        output_model=cast("type[OutT]", output_model),
        annotations=annotations,
        handler=handler,
        extension=extension,
    )
