"""The one error object every failed tool call returns, and the exception carrying it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from rails_mcp.wire.codes import CODES, ErrorCode

__all__ = ["BudgetLeft", "SpendingLimit", "Suggestion", "ToolError", "ToolFailure"]


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


class SpendingLimit(BaseModel):
    """The per-order limit an order's total is above: no argument is at fault, so it is not a
    ``field`` with ``valid_values`` but the amount the person set (and its currency when known)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    amount: str
    currency_code: str | None = None


class BudgetLeft(BaseModel):
    """What is left of the tenant's budget an order's total is above, and when it resets: like
    the spending limit, an amount the person set, not a value of any argument."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    remaining: str
    currency_code: str | None = None
    period: Literal["day", "week", "month"]
    resets_at: str


class ToolError(BaseModel):
    """The ``error`` object of a failed tool result.

    ``code`` is published as a plain string but must be a code of the registry
    (:mod:`rails_mcp.wire.codes`), with the ``retryable`` the registry documents for it: an
    error the guide does not explain cannot be built.
    """

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
    #: Only on over_spending_limit, so published only by the tools that place orders.
    spending_limit: SpendingLimit | None = None
    #: Only on over_budget, published like ``spending_limit``.
    budget: BudgetLeft | None = None
    #: Typed per tool in the published schema: the failed tool's own arguments.
    example_arguments: dict[str, Any] | None = Field(
        default=None, description="Corrected arguments for the same tool; replay them."
    )

    @field_validator("code")
    @classmethod
    def _registered(cls, code: str) -> ErrorCode:
        try:
            return ErrorCode(code)
        except ValueError:
            raise ValueError(f"{code!r} is not in the error-code registry (rails_mcp.wire.codes)") from None

    @model_validator(mode="after")
    def _retryable_as_documented(self) -> ToolError:
        documented = CODES[ErrorCode(self.code)].retryable
        if self.retryable is not documented:
            raise ValueError(f"{self.code} is documented with retryable={documented}")
        return self

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class ToolFailure(Exception):
    """Raised inside a tool to end it with an enriched error result."""

    def __init__(self, info: ToolError) -> None:
        super().__init__(info.message)
        self.info = info
