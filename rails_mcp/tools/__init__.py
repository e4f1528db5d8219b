"""The thirteen tools, each declared next to its handler, registered in lifecycle order."""

from __future__ import annotations

from typing import Any

from .base import (
    ApprovalOutcome,
    InputNeeded,
    OrderForApproval,
    Reply,
    ToolContext,
    ToolDef,
    ToolInput,
    ToolOutput,
    compact_schema,
    no_approval,
)
from .basket import RECOMMEND_BASKET
from .context import Rails
from .invoices import RECONCILE_INVOICE
from .jobs import GET_REPAIR_JOB, OPEN_REPAIR_JOB
from .orders import LIST_PROCUREMENTS, TRACK_PROCUREMENT
from .parts import IDENTIFY_PARTS, LIST_PARTS
from .procurements import CONFIRM_PROCUREMENT, PLACE_PROCUREMENT
from .vehicles import LIST_BUSINESSES, LIST_WORK_PROVIDERS, PREPARE_VEHICLE

__all__ = [
    "TOOLS",
    "TOOLS_BY_NAME",
    "ApprovalOutcome",
    "InputNeeded",
    "OrderForApproval",
    "Rails",
    "Reply",
    "ToolContext",
    "ToolDef",
    "ToolInput",
    "ToolOutput",
    "compact_schema",
    "no_approval",
]

TOOLS: list[ToolDef[Any, Any]] = [
    PREPARE_VEHICLE,
    LIST_BUSINESSES,
    LIST_WORK_PROVIDERS,
    OPEN_REPAIR_JOB,
    GET_REPAIR_JOB,
    IDENTIFY_PARTS,
    LIST_PARTS,
    RECOMMEND_BASKET,
    PLACE_PROCUREMENT,
    LIST_PROCUREMENTS,
    TRACK_PROCUREMENT,
    CONFIRM_PROCUREMENT,
    RECONCILE_INVOICE,
]
TOOLS_BY_NAME: dict[str, ToolDef[Any, Any]] = {t.name: t for t in TOOLS}
