"""The one error object every failed tool call returns (SPEC §3), and the exception carrying it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

__all__ = ["Suggestion", "ToolError", "ToolFailure"]


class Suggestion(BaseModel):
    """A corrected identity or vehicle identifier: exactly the keys the agent should send
    (absent keys are left out, never null)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    external: str = ""
    id: str = ""
    vin: str = ""
    vrm: str = ""

    @model_serializer(mode="wrap")
    def _present_keys(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if k in self.model_fields_set}


class ToolError(BaseModel):
    """The ``error`` object of a failed tool result: all eleven SPEC §3 fields."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    code: str = Field(description="Wire code, or ours (invalid_arguments, unconfirmable_supplier, ...).")
    message: str = Field(description="What was wrong.")
    fix: str = Field(description="The exact fix, one sentence.")
    retryable: bool = Field(description="Whether the same call may succeed later.")
    http_status: int | None = None
    wire_method: str | None = None
    field: str | None = Field(default=None, description="The argument at fault.")
    valid_values: list[str] | None = None
    did_you_mean: str | bool | Suggestion | None = None
    next_tool: str | None = None
    #: Typed per tool in the published schema: the failed tool's own arguments.
    example_arguments: dict[str, Any] | None = Field(
        default=None, description="Corrected arguments for the same tool; replay them."
    )

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class ToolFailure(Exception):
    """Raised inside a tool to end it with an enriched error result."""

    def __init__(self, info: ToolError) -> None:
        super().__init__(info.message)
        self.info = info
