"""A tool declaration (:class:`ToolDef`), what a handler receives (:class:`ToolContext`) and
returns (:class:`Reply`), the human-approval seam, and the bases of input and output models."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeVar, cast

import mcp_types
from mcp.server import ServerRequestContext
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from rails_mcp.errors import RepairableInput, ToolError
from rails_mcp.errors.repair import IDENTIFIER_SHAPE, IDENTITY_SHAPE
from rails_mcp.resources import ResourceHub
from rails_mcp.wire.models import ExternalIdentity, IdIdentity, VinIdentifier, VrmIdentifier

from .context import Rails

if TYPE_CHECKING:
    from .lookup import Candidate, Fix

__all__ = [
    "JOB_ALIASES",
    "ApprovalOutcome",
    "Identity",
    "InputNeeded",
    "JobRef",
    "OrderForApproval",
    "OrderLine",
    "Reply",
    "ToolContext",
    "ToolDef",
    "ToolInput",
    "ToolOutput",
    "VehicleIdentifierRef",
    "compact_schema",
    "no_approval",
]

InT = TypeVar("InT", bound=BaseModel)
OutT = TypeVar("OutT", bound=BaseModel)


class Shape(BaseModel):
    """Base of the tools' nested shapes: each pydantic schema is built on first use, not at
    import (start-up builds none; the published schemas come from ``published_tools.json``)."""

    model_config = ConfigDict(defer_build=True)


# --- the human-approval seam -----------------------------------------------------------------


class OrderLine(Shape):
    sellable_id: str
    name: str
    job_part_ids: list[str]
    quantity: int
    trade_price: str


class OrderForApproval(Shape):
    """What a human is asked to approve before ``place_procurement`` writes to the wire."""

    job: dict[str, str]
    supplier_business_id: str
    supplier_name: str | None
    lines: list[OrderLine]
    total: str
    currency: str | None = None
    is_extension: bool
    arguments: dict[str, Any]


class ApprovalOutcome(Shape):
    status: Literal["approved", "declined", "off", "not_requested (host cannot ask)"]
    detail: str | None = None


async def no_approval(order: OrderForApproval) -> ApprovalOutcome:
    """The default hook: approval is off, the order is placed as the agent asked."""
    return ApprovalOutcome(status="off")


class InputNeeded(Exception):
    """Raised by a hook to answer ``tools/call`` with an ``InputRequiredResult`` instead."""

    def __init__(self, result: mcp_types.InputRequiredResult) -> None:
        super().__init__("input required")
        self.result = result


# --- handlers and declarations ---------------------------------------------------------------


@dataclass
class ToolContext:
    """What one tool call may use: the wire, the SDK request (progress, elicitation, logging)."""

    rails: Rails
    request: ServerRequestContext[Any] | None = None
    protocol_version: str | None = None
    approve_order: Callable[[OrderForApproval], Awaitable[ApprovalOutcome]] = no_approval
    #: Resources, subscriptions and per-procurement event history (None: a bare tool run).
    hub: ResourceHub | None = None
    #: The deployment's per-order spending limit (``RAILS_MAX_ORDER_TOTAL``); None = no limit.
    max_order_total: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Reply(Generic[OutT]):
    """A handler's success: the typed output and the one-line human summary."""

    output: OutT
    summary: str


@dataclass(frozen=True)
class ToolDef(Generic[InT, OutT]):
    """One tool, declared once: what the agent reads, what it sends, what it gets back."""

    name: str
    title: str
    #: Agent-facing: when to use it and what to call next.
    description: str
    input_model: type[InT]
    output_model: type[OutT]
    annotations: mcp_types.ToolAnnotations
    handler: Callable[[ToolContext, InT], Awaitable[Reply[OutT]]]
    extension: bool = False
    #: The tool's own look-ups that turn a refused call into corrected arguments, most likely
    #: first (None: the arguments repaired by shape are the only candidate).
    correct: Callable[[Fix], Awaitable[list[Candidate]]] | None = None
    #: Whether the tool would accept corrected arguments now, checked without changing anything
    #: (a refusal may also raise). None: no correction is ever offered as ``example_arguments``.
    probe: Callable[[ToolContext, InT], Awaitable[bool]] | None = None

    @property
    def read_only(self) -> bool:
        return bool(self.annotations.read_only_hint)


def hints(*, read_only: bool, idempotent: bool) -> mcp_types.ToolAnnotations:
    """Truthful hints: every tool talks to the Rails API (open world); none deletes anything.
    (No annotation title: the tool's own ``title`` says it once.)"""
    return mcp_types.ToolAnnotations(
        read_only_hint=read_only,
        destructive_hint=False,
        idempotent_hint=idempotent,
        open_world_hint=True,
    )


# --- inputs --------------------------------------------------------------------------------


def _tag_by_key(tags: Mapping[str, type[BaseModel]]) -> Callable[[Any], str | None]:
    """A union's discriminator: a model by its class, a plain object by the first key it carries."""
    classes = tuple(tags.values())

    def tag(value: Any) -> str | None:
        if isinstance(value, classes):
            return type(value).__name__
        if isinstance(value, dict):
            keys = cast("dict[str, Any]", value)
            return next((cls.__name__ for key, cls in tags.items() if key in keys), None)
        return None

    return tag


_identity_tag = _tag_by_key({"external": ExternalIdentity, "id": IdIdentity})
_identifier_tag = _tag_by_key({"vin": VinIdentifier, "vrm": VrmIdentifier})


#: ``{"external": …}`` or ``{"id": …}``: tagged by its key, so errors point at that key.
Identity = Annotated[
    Annotated[ExternalIdentity, Tag("ExternalIdentity")] | Annotated[IdIdentity, Tag("IdIdentity")],
    Discriminator(_identity_tag, custom_error_type=IDENTITY_SHAPE, custom_error_message="identity shape"),
]
JobRef = Annotated[Identity, Field(description="Exactly one key: external (your ref) or id (uuid).")]
VehicleIdentifierRef = Annotated[
    Annotated[VinIdentifier, Tag("VinIdentifier")] | Annotated[VrmIdentifier, Tag("VrmIdentifier")],
    Discriminator(
        _identifier_tag, custom_error_type=IDENTIFIER_SHAPE, custom_error_message="identifier shape"
    ),
]

#: Keys agents send for ``job`` (the wire's names, camelCase, bare references).
JOB_ALIASES: Mapping[str, str] = {
    "job_identity": "job",
    "identity": "job",
    "job_id": "job",
    "external_id": "job",
    "external": "job",
    "job_ref": "job",
    "job_reference": "job",
    "repair_job": "job",
    "jobIdentity": "job",
}


class ToolInput(RepairableInput):
    """Strict (unknown keys refused), frozen; repairs declared per model."""


def inline_refs(node: Any, defs: Mapping[str, Any], only: Collection[str] | None = None) -> Any:
    """``node`` with each ``$ref`` to ``defs`` (to the names in ``only``, when given) written out
    where it stands; the referenced model's own description gives way to the field's."""
    if isinstance(node, list):
        return [inline_refs(v, defs, only) for v in cast("list[Any]", node)]
    if not isinstance(node, dict):
        return node
    items = cast("dict[str, Any]", node)
    ref = items.get("$ref")
    name = ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None
    rest = {k: inline_refs(v, defs, only) for k, v in items.items() if k != "$ref" or name is None}
    if name is None or (only is not None and name not in only):
        return {**rest, "$ref": ref} if name is not None else rest
    target = cast("dict[str, Any]", inline_refs(defs[name], defs, only))
    return {**{k: v for k, v in target.items() if k != "description"}, **rest}


def compact_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema, cut down for ``tools/list``: fewer tokens, same contract.

    ``$ref`` is inlined, titles go, a tagged union's ``oneOf`` is published as ``anyOf`` (its
    branches are disjoint by key), and an optional field's ``anyOf: [X, null]`` with
    ``default: null`` becomes plain ``X``: omitting it says "none".
    """
    schema = model.model_json_schema()
    defs = cast("dict[str, Any]", schema.pop("$defs", {}))

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in cast("list[Any]", node)]
        if not isinstance(node, dict):
            return node
        items = cast("dict[str, Any]", node)
        out = {
            ("anyOf" if k == "oneOf" else k): walk(v)
            for k, v in items.items()
            if not (k == "title" and isinstance(v, str))
        }
        variants = out.get("anyOf")
        if isinstance(variants, list) and "default" in out and out["default"] is None:
            kept = [v for v in cast("list[Any]", variants) if v != {"type": "null"}]
            if len(kept) < len(cast("list[Any]", variants)):
                del out["default"]
                del out["anyOf"]
                out = {**kept[0], **out} if len(kept) == 1 else {"anyOf": kept, **out}
        return out

    result = cast("dict[str, Any]", walk(inline_refs(schema, defs)))
    result.pop("description", None)
    result["additionalProperties"] = False
    return result


# --- outputs -------------------------------------------------------------------------------


class ToolOutput(BaseModel):
    """Every result: ``is_extension`` always; the success fields, or ``error``."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    #: Always sent (the server sets it); published as required.
    is_extension: bool = False
    error: ToolError | None = None


NextTool = Literal[
    "open_repair_job",
    "identify_parts",
    "recommend_basket",
    "place_procurement",
    "list_procurements",
    "confirm_procurement",
    "reconcile_invoice",
    "list_businesses",
    "list_work_providers",
]
