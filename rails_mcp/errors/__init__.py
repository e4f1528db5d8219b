"""Errors split by job: the error model, the wire-error mapping, the argument-repair engine."""

from rails_mcp.errors.model import SpendingLimit, Suggestion, ToolError, ToolFailure
from rails_mcp.errors.repair import RepairableInput, Repairs, arguments_error
from rails_mcp.errors.wire import WireContext, internal_error, refusal_error, wire_error

__all__ = [
    "RepairableInput",
    "Repairs",
    "SpendingLimit",
    "Suggestion",
    "ToolError",
    "ToolFailure",
    "WireContext",
    "arguments_error",
    "internal_error",
    "refusal_error",
    "wire_error",
]
