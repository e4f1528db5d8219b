"""Wire failures → the errors an agent can act on: codes become a fix, context names the record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rails_mcp.errors.model import ToolError
from rails_mcp.guard import GuardRefusal
from rails_mcp.wire.errors import (
    MalformedResponse,
    NoUsableAnswer,
    RailsAPIError,
    RailsError,
)

__all__ = ["WireContext", "internal_error", "refusal_error", "wire_error"]


@dataclass(frozen=True, slots=True)
class WireContext:
    """What the tool knows that the wire code alone does not say."""

    tool: str
    #: What ``not_found`` means for this call, and the sentence that fixes it.
    not_found: str | None = None
    not_found_fix: str | None = None
    not_found_next_tool: str | None = None
    unprocessable_fix: str | None = None
    example_arguments: dict[str, Any] | None = None
    #: Which configured credential the call used: a refused supplier key needs its own fix.
    credential: str = "repairer"


_WIRE_FIXES: dict[str, tuple[str, str | None]] = {
    "bad_request": (
        "Send the arguments exactly as this tool's input schema describes them.",
        None,
    ),
    "unauthorized": (
        "The Rails credential was refused: set RAILS_API_KEY and RAILS_INTEGRATION_ID (or run "
        "`rails-mcp install`) and restart the server.",
        None,
    ),
    "forbidden": (
        "The credential has the wrong role for this call: repairer calls need the repairer "
        "credential, confirmations need RAILS_SUPPLIER_API_KEY / RAILS_SUPPLIER_INTEGRATION_ID.",
        None,
    ),
    "work_provider_not_found": (
        "Use an id from list_work_providers, or omit work_provider_id for a cash job.",
        "list_work_providers",
    ),
    "unprocessable": (
        "Re-read the current state (get_repair_job, list_parts, recommend_basket) and retry with "
        "values taken from it.",
        None,
    ),
    "invalid_access_code": (
        "The access code is spent or wrong; get a fresh one (or use another tenant).",
        None,
    ),
    "invalid_client_secret": ("Check the OAuth client secret.", None),
    "integration_not_found": ("Check the OAuth client id.", None),
    "o_auth_not_supported_by_integration": (
        "This client cannot install by OAuth; use its api_key directly.",
        None,
    ),
}


def wire_error(exc: RailsError, ctx: WireContext) -> ToolError:
    """Map a wire exception to the enriched error the agent reads."""
    if isinstance(exc, NoUsableAnswer):  # nothing came back, or nothing the contract allows
        malformed = isinstance(exc, MalformedResponse)
        return ToolError(
            code=exc.code,
            message=f"The Rails API answered {exc.method} with something that is not the contract."
            if malformed
            else f"The Rails API did not answer {exc.method or 'the call'} ({exc.message}).",
            fix="Retry the same call in a few seconds"
            + ("; if it persists the server is misbehaving." if malformed else "."),
            retryable=True,
            http_status=exc.http_status,
            wire_method=exc.method,
        )
    if not isinstance(exc, RailsAPIError):
        return internal_error(ctx.tool)
    code = exc.wire_code
    message = f"The Rails API answered {exc.method} with {code} (HTTP {exc.status})."
    fix, next_tool = _WIRE_FIXES.get(code, ("Check the arguments and retry.", None))
    example = None
    if code == "not_found":
        message = ctx.not_found or message
        fix = ctx.not_found_fix or "Check the id or reference; it does not exist for this credential."
        next_tool = ctx.not_found_next_tool
    elif code == "unprocessable" and ctx.unprocessable_fix:
        fix = ctx.unprocessable_fix
    elif code == "unauthorized" and (
        ctx.credential == "supplier" or (exc.method or "").startswith("supplier.")
    ):
        fix = (
            "The supplier credential was refused: set RAILS_SUPPLIER_API_KEY and "
            "RAILS_SUPPLIER_INTEGRATION_ID and restart the server."
        )
    if code in {"not_found", "unprocessable", "work_provider_not_found", "bad_request"}:
        example = ctx.example_arguments
    if exc.retryable:
        fix = "Retry the same call in a few seconds."
    return ToolError(
        code=code,
        message=message,
        fix=fix,
        retryable=exc.retryable,
        http_status=exc.status,
        wire_method=exc.method,
        next_tool=next_tool,
        example_arguments=example,
    )


def refusal_error(refusal: GuardRefusal, example_arguments: dict[str, Any] | None) -> ToolError:
    return ToolError(
        code=refusal.code,
        message=f"Refused before the wire; nothing was written: {refusal.message}",
        fix=refusal.fix,
        retryable=False,
        field=refusal.field,
        valid_values=refusal.valid_values,
        # Over the limit, the next step is the person's, not another selection to try.
        next_tool=None
        if refusal.code == "over_spending_limit"
        else "recommend_basket"
        if example_arguments is None
        else "place_procurement",
        example_arguments=example_arguments,
    )


def internal_error(tool: str) -> ToolError:
    return ToolError(
        code="internal_error",
        message=f"{tool} failed unexpectedly inside rails-mcp; nothing about the cause is exposed.",
        fix="Retry once; if it fails again, read the server's log.",
        retryable=True,
    )
