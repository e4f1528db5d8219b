"""Wire failures → the errors an agent can act on: codes become a fix, context names the record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rails_mcp.client import WIRE_DOWN_AFTER
from rails_mcp.errors.model import SpendingLimit, ToolError
from rails_mcp.guard import GuardRefusal
from rails_mcp.wire.codes import ErrorCode
from rails_mcp.wire.errors import (
    MalformedResponse,
    NoUsableAnswer,
    RailsAPIError,
    RailsConnectionError,
    RailsError,
    UnknownWireError,
)
from rails_mcp.wire.untrusted import quote

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


#: Wire codes whose call succeeds with corrected arguments, so the tool's example is worth replaying.
#: The likeliest cause first: a sandbox tenant reset after `rails-mcp install` stored its credential.
_REPAIRER_REFUSED = (
    "The repairer credential was refused. Most often it was stored by `rails-mcp install` for a "
    "sandbox tenant that was reset since (`rails-mcp reset-tenant` forgets installed integrations): "
    "run the same `rails-mcp install` again for that tenant. Otherwise set RAILS_API_KEY and "
    "RAILS_INTEGRATION_ID to a valid pair; then restart the server."
)

_REPLAYABLE = frozenset(
    {ErrorCode.NOT_FOUND, ErrorCode.UNPROCESSABLE, ErrorCode.WORK_PROVIDER_NOT_FOUND, ErrorCode.BAD_REQUEST}
)


def wire_error(exc: RailsError, ctx: WireContext) -> ToolError:
    """Map a wire exception to the enriched error the agent reads."""
    if isinstance(exc, RailsConnectionError) and exc.refused_at is not None:
        return _refused_connection(exc, exc.refused_at)
    if isinstance(exc, NoUsableAnswer):  # nothing came back, or nothing the contract allows
        malformed = isinstance(exc, MalformedResponse)
        return ToolError(
            code=exc.code,
            message=f"The Rails API answered {exc.method} with something that is not the contract."
            if malformed
            else f"The Rails API did not answer {exc.method or 'the call'} ({exc.message}).",
            fix="Retry the same call in a few seconds"
            + ("; if it persists the server is misbehaving." if malformed else "."),
            retryable=exc.code.retryable,
            http_status=exc.http_status,
            wire_method=exc.method,
        )
    if not isinstance(exc, RailsAPIError):
        return internal_error(ctx.tool)
    code = exc.code
    message = f"The Rails API answered {exc.method} with {code} (HTTP {exc.status})."
    if isinstance(exc, UnknownWireError):  # quoted as data: the wire's text is never our voice
        message = (
            f"The Rails API answered {exc.method} with the error code {quote(exc.wire_code)} "
            f"(HTTP {exc.status}), which this server does not know."
        )
    fix = code.fix
    next_tool = "list_work_providers" if code is ErrorCode.WORK_PROVIDER_NOT_FOUND else None
    example = None
    if code is ErrorCode.NOT_FOUND:
        message = ctx.not_found or message
        fix = ctx.not_found_fix or fix
        next_tool = ctx.not_found_next_tool
    elif code is ErrorCode.UNPROCESSABLE and ctx.unprocessable_fix:
        fix = ctx.unprocessable_fix
    elif code is ErrorCode.UNAUTHORIZED and (
        ctx.credential == "supplier" or (exc.method or "").startswith("supplier.")
    ):
        fix = (
            "The supplier credential was refused: set RAILS_SUPPLIER_API_KEY and "
            "RAILS_SUPPLIER_INTEGRATION_ID and restart the server."
        )
    elif code is ErrorCode.UNAUTHORIZED:
        fix = _REPAIRER_REFUSED
    if code in _REPLAYABLE:
        example = ctx.example_arguments
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


def _refused_connection(exc: RailsConnectionError, address: str) -> ToolError:
    """Nothing took the connection: name where, and stop inviting retries once it keeps happening."""
    down = exc.refused_in_a_row >= WIRE_DOWN_AFTER
    if down:
        message = (
            f"Nothing is listening at {address}: {exc.refused_in_a_row} connection attempts in a row "
            f"were refused, so {exc.method or 'the call'} did not reach the Rails API."
        )
        fix = (
            "The Rails API is down or RAILS_BASE_URL is wrong; retrying will not help until it runs "
            "there. Tell the person: start the Rails API at that address (or `rails-mcp sandbox`), "
            "or correct RAILS_BASE_URL and restart rails-mcp."
        )
    else:
        message = f"Nothing answered at {address}: the connection for {exc.method or 'the call'} was refused."
        fix = (
            "If the Rails API is restarting, retry in a few seconds; otherwise check it runs at that "
            "address, or correct RAILS_BASE_URL and restart rails-mcp."
        )
    return ToolError(
        code=exc.code,
        message=message,
        fix=fix,
        retryable=exc.code.retryable,
        wire_method=exc.method,
    )


def refusal_error(refusal: GuardRefusal, example_arguments: dict[str, Any] | None) -> ToolError:
    return ToolError(
        code=refusal.code,
        message=f"Refused before the wire; nothing was written: {refusal.message}",
        fix=refusal.fix,
        retryable=False,
        field=refusal.field,
        valid_values=refusal.valid_values,
        spending_limit=_limit(refusal),
        # Over the limit, the next step is the person's, not another selection to try.
        next_tool=None
        if refusal.code == ErrorCode.OVER_SPENDING_LIMIT
        else "recommend_basket"
        if example_arguments is None
        else "place_procurement",
        example_arguments=example_arguments,
    )


def _limit(refusal: GuardRefusal) -> SpendingLimit | None:
    if refusal.spending_limit is None:
        return None
    amount, currency = refusal.spending_limit
    return SpendingLimit(amount=amount, currency_code=currency)


def internal_error(tool: str) -> ToolError:
    return ToolError(
        code=ErrorCode.INTERNAL_ERROR,
        message=f"{tool} failed unexpectedly inside rails-mcp; nothing about the cause is exposed.",
        fix=ErrorCode.INTERNAL_ERROR.fix,
        retryable=ErrorCode.INTERNAL_ERROR.retryable,
    )
