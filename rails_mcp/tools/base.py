"""A tool declaration (:class:`ToolDef`), what a handler receives (:class:`ToolContext`) and
returns (:class:`Reply`), the human-approval seam, and the bases of input and output models."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeVar, cast

import mcp_types
from mcp.server import ServerRequestContext
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from rails_mcp.errors import RepairableInput, ToolError
from rails_mcp.errors.repair import IDENTIFIER_SHAPE, IDENTITY_SHAPE
from rails_mcp.present import ApprovalOutcome, OrderForApproval, Shape
from rails_mcp.resources import ResourceHub
from rails_mcp.wire.models import ExternalIdentity, IdIdentity, VinIdentifier, VrmIdentifier
from rails_mcp.wire.schema import compact_schema

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
    "Reply",
    "Shape",
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


# --- the human-approval seam -----------------------------------------------------------------


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
    #: The ``ui://`` page a host with MCP Apps shows beside the result (``_meta.ui.resourceUri``).
    ui: str | None = None

    @property
    def read_only(self) -> bool:
        return bool(self.annotations.read_only_hint)


def hints(*, read_only: bool, idempotent: bool) -> mcp_types.ToolAnnotations:
    """Truthful hints: every tool talks to the Rails API (open world); none deletes anything.
    (``declare`` adds the annotation title, the tool's own ``title`` again.)"""
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
JobRef = Annotated[Identity, Field(description="external (your ref) or id.")]
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
