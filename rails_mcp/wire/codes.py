"""Every error code an agent can read in ``error.code``, defined once, with what it means.

The wire's own codes (the exception classes in :mod:`rails_mcp.wire.errors` take their
status and ``retryable`` from here), the codes for a call that got no usable answer, and
the codes rails-mcp itself refuses with. Kept beside the wire so that the guard, the
deployment controls and the error layer above them all name codes from this one enum;
``guide://errors`` and the README's table are generated from :data:`CODES`, and
:class:`~rails_mcp.errors.model.ToolError` refuses a code missing here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

__all__ = ["CODES", "CodeInfo", "ErrorCode", "Origin"]

#: Who says the code: the Rails API, this server about an answer that never came, or this server.
Origin = Literal["wire", "no_answer", "server"]


class ErrorCode(StrEnum):
    """An error code; equal to its string, so ``code == "not_found"`` keeps working."""

    # the Rails API's codes
    BAD_REQUEST = "bad_request"
    UNAUTHORIZED = "unauthorized"
    INVALID_ACCESS_CODE = "invalid_access_code"
    INVALID_CLIENT_SECRET = "invalid_client_secret"  # noqa: S105 (a code name, not a secret)
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    INTEGRATION_NOT_FOUND = "integration_not_found"
    O_AUTH_NOT_SUPPORTED_BY_INTEGRATION = "o_auth_not_supported_by_integration"
    UNPROCESSABLE = "unprocessable"
    WORK_PROVIDER_NOT_FOUND = "work_provider_not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    UNKNOWN_WIRE_ERROR = "unknown_wire_error"
    # no usable answer from the Rails API
    TRANSPORT_ERROR = "transport_error"
    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"
    MALFORMED_RESPONSE = "malformed_response"
    # rails-mcp's own
    INVALID_ARGUMENTS = "invalid_arguments"
    UNKNOWN_TOOL = "unknown_tool"
    TOOL_NOT_ALLOWED = "tool_not_allowed"
    READ_ONLY_MODE = "read_only_mode"
    OFFER_NOT_IN_BASKET = "offer_not_in_basket"
    SELECTION_MISMATCH = "selection_mismatch"
    DUPLICATE_SELECTION = "duplicate_selection"
    MIXED_SUPPLIERS = "mixed_suppliers"
    UNCONFIRMABLE_SUPPLIER = "unconfirmable_supplier"
    PART_ALREADY_ORDERED = "part_already_ordered"
    OVER_SPENDING_LIMIT = "over_spending_limit"
    OVER_BUDGET = "over_budget"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    IDEMPOTENCY_IN_FLIGHT = "idempotency_in_flight"
    APPROVAL_UNAVAILABLE = "approval_unavailable"
    APPROVAL_STATE_INVALID = "approval_state_invalid"
    APPROVAL_EXPIRED = "approval_expired"
    APPROVAL_MISMATCH = "approval_mismatch"
    APPROVAL_REPLAYED = "approval_replayed"
    PLACEMENT_OUTCOME_UNKNOWN = "placement_outcome_unknown"
    PLACEMENT_NOT_LANDED = "placement_not_landed"
    CONFIRMATION_NOT_LANDED = "confirmation_not_landed"
    INVALID_CURSOR = "invalid_cursor"
    INTERNAL_ERROR = "internal_error"

    @property
    def info(self) -> CodeInfo:
        return CODES[self]

    @property
    def retryable(self) -> bool:
        return CODES[self].retryable

    @property
    def fix(self) -> str:
        return CODES[self].fix


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """What a code means, the fix an emitter says unless it knows a more exact one, and whether
    the same call may succeed later unchanged."""

    origin: Origin
    meaning: str
    fix: str
    retryable: bool = False
    #: The HTTP status the wire answers with (wire codes only).
    http_status: int | None = None
    #: Whether changed arguments can ever make the call succeed (False: only time or a person can).
    arguments_can_fix: bool = True


_RETRY = "Retry the same call in a few seconds."
_REREAD = "Re-read recommend_basket for this job and send its ready_selection."
_ASK_AGAIN = "Call place_procurement again; the person will be asked to approve the order afresh."

_WIRE: dict[ErrorCode, CodeInfo] = {
    ErrorCode.BAD_REQUEST: CodeInfo(
        "wire",
        "The Rails API could not read the request (malformed JSON or the wrong shape).",
        "Send the arguments exactly as this tool's input schema describes them.",
        http_status=400,
    ),
    ErrorCode.UNAUTHORIZED: CodeInfo(
        "wire",
        "The Rails credential was refused or is not configured.",
        "The Rails credential was refused: set RAILS_API_KEY and RAILS_INTEGRATION_ID (or run "
        "`rails-mcp install`) and restart the server.",
        http_status=401,
        arguments_can_fix=False,
    ),
    ErrorCode.INVALID_ACCESS_CODE: CodeInfo(
        "wire",
        "The OAuth access code is spent (it works once per tenant) or wrong.",
        "The access code is spent or wrong; get a fresh one (or use another tenant).",
        http_status=401,
    ),
    ErrorCode.INVALID_CLIENT_SECRET: CodeInfo(
        "wire", "The OAuth client secret is wrong.", "Check the OAuth client secret.", http_status=401
    ),
    ErrorCode.FORBIDDEN: CodeInfo(
        "wire",
        "The credential has the wrong role (repairer or supplier) for this call.",
        "The credential has the wrong role for this call: repairer calls need the repairer "
        "credential, confirmations need RAILS_SUPPLIER_API_KEY / RAILS_SUPPLIER_INTEGRATION_ID.",
        http_status=403,
        arguments_can_fix=False,
    ),
    ErrorCode.NOT_FOUND: CodeInfo(
        "wire",
        "No such record for this credential (another tenant's or another supplier's order is "
        "invisible, by design).",
        "Check the id or reference; it does not exist for this credential.",
        http_status=404,
    ),
    ErrorCode.INTEGRATION_NOT_FOUND: CodeInfo(
        "wire", "The OAuth client id is unknown.", "Check the OAuth client id.", http_status=404
    ),
    ErrorCode.O_AUTH_NOT_SUPPORTED_BY_INTEGRATION: CodeInfo(
        "wire",
        "This integration cannot be installed by OAuth.",
        "This client cannot install by OAuth; use its api_key directly.",
        http_status=400,
    ),
    ErrorCode.UNPROCESSABLE: CodeInfo(
        "wire",
        "Well-formed, but it breaks a rule (a confirmed order is locked).",
        "Re-read the current state (get_repair_job, list_parts, recommend_basket) and retry with "
        "values taken from it.",
        http_status=422,
    ),
    ErrorCode.WORK_PROVIDER_NOT_FOUND: CodeInfo(
        "wire",
        "The work_provider_id names no insurer this repairer works with.",
        "Use an id from list_work_providers, or omit work_provider_id for a cash job.",
        http_status=422,
    ),
    ErrorCode.METHOD_NOT_ALLOWED: CodeInfo(
        "wire", "The wire takes POST only.", "Send the call as a POST.", http_status=405
    ),
    ErrorCode.PAYLOAD_TOO_LARGE: CodeInfo(
        "wire",
        "The request body is over the size the wire accepts.",
        "Send less in one call (fewer parts or identifiers).",
        http_status=413,
    ),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: CodeInfo(
        "wire",
        "The request body was not declared as JSON.",
        "Send the body as application/json.",
        http_status=415,
    ),
    ErrorCode.RATE_LIMITED: CodeInfo(
        "wire",
        "The Rails API asked this server to slow down.",
        _RETRY,
        retryable=True,
        http_status=429,
        arguments_can_fix=False,
    ),
    ErrorCode.SERVER_ERROR: CodeInfo(
        "wire",
        "The Rails API failed on its side (any 5xx).",
        _RETRY,
        retryable=True,
        http_status=500,
        arguments_can_fix=False,
    ),
    ErrorCode.UNKNOWN_WIRE_ERROR: CodeInfo(
        "wire",
        "The Rails API answered with an error code this server does not know; the message quotes it.",
        "Check the arguments against this tool's input schema; if they are right, report the quoted "
        "code to the person running this server.",
    ),
}

_NO_ANSWER: dict[ErrorCode, CodeInfo] = {
    code: CodeInfo("no_answer", meaning, _RETRY, retryable=True, arguments_can_fix=False)
    for code, meaning in {
        ErrorCode.TRANSPORT_ERROR: "The call to the Rails API produced no readable answer.",
        ErrorCode.TIMEOUT: "The Rails API did not answer in time.",
        ErrorCode.CONNECTION_ERROR: "The connection to the Rails API failed or was dropped.",
        ErrorCode.MALFORMED_RESPONSE: "The Rails API answered with something that is not the contract.",
    }.items()
}

_SERVER: dict[ErrorCode, CodeInfo] = {
    ErrorCode.INVALID_ARGUMENTS: CodeInfo(
        "server",
        "The arguments do not fit the tool's input schema (a common one: `external_id` where the key "
        "is `external`); `field` and `did_you_mean` say where.",
        "Replay example_arguments, or correct the named field.",
    ),
    ErrorCode.UNKNOWN_TOOL: CodeInfo(
        "server", "There is no tool by that name; see `did_you_mean`.", "Call one of the listed tools."
    ),
    ErrorCode.TOOL_NOT_ALLOWED: CodeInfo(
        "server",
        "This deployment's allow-list (RAILS_TOOLS) does not offer that tool; nothing was run.",
        "Use one of the listed tools.",
        arguments_can_fix=False,
    ),
    ErrorCode.READ_ONLY_MODE: CodeInfo(
        "server",
        "This server is read-only (RAILS_READ_ONLY) and the tool writes; nothing was written.",
        "Use the listed read-only tools to look things up; placing or changing anything is for the "
        "person running this server to do elsewhere.",
        arguments_can_fix=False,
    ),
    ErrorCode.OFFER_NOT_IN_BASKET: CodeInfo(
        "server", "A selected offer is not in the job's latest basket.", _REREAD
    ),
    ErrorCode.SELECTION_MISMATCH: CodeInfo(
        "server",
        "A selection's supplier, parts or quantity differ from the basket offer it names.",
        "Omit the mismatched field (it is filled from the basket) or send the basket's value.",
    ),
    ErrorCode.DUPLICATE_SELECTION: CodeInfo(
        "server", "Two selections cover the same part.", "Select one offer per part."
    ),
    ErrorCode.MIXED_SUPPLIERS: CodeInfo(
        "server",
        "The selected offers come from more than one supplier; one placement has one supplier.",
        "Split the order by supplier, or replay example_arguments (one confirmable supplier).",
    ),
    ErrorCode.UNCONFIRMABLE_SUPPLIER: CodeInfo(
        "server",
        "The offers or the order belong to a supplier nobody here can confirm for, so the order "
        "could never reach order_confirmed.",
        "Replay example_arguments (the confirmable supplier's offers for the same parts), or report "
        "the parts as not orderable through this credential.",
    ),
    ErrorCode.PART_ALREADY_ORDERED: CodeInfo(
        "server",
        "A selected part is already on another procurement.",
        "Read list_procurements for the order that holds it; re-run recommend_basket before placing.",
        arguments_can_fix=False,
    ),
    ErrorCode.OVER_SPENDING_LIMIT: CodeInfo(
        "server",
        "The order total is above this server's per-order spending limit (RAILS_MAX_ORDER_TOTAL); "
        "nothing was asked or written.",
        "Tell the person you are working for the total and the limit; whether this order is placed "
        "is their decision, not something to work around.",
        arguments_can_fix=False,
    ),
    ErrorCode.OVER_BUDGET: CodeInfo(
        "server",
        "The order would take this tenant past its budget for the current window (RAILS_BUDGET, "
        "calendar windows in UTC); nothing was asked or written. budget holds what is left and "
        "when it resets.",
        "Tell the person you are working for the total, what is left and when the budget resets; "
        "whether to place it is their decision, not something to work around.",
        arguments_can_fix=False,
    ),
    ErrorCode.IDEMPOTENCY_CONFLICT: CodeInfo(
        "server",
        "This idempotency_key was already used with other arguments (keys are kept 24 hours); "
        "nothing was placed.",
        "Use a new idempotency_key for a different order, or send the first call's arguments unchanged.",
    ),
    ErrorCode.IDEMPOTENCY_IN_FLIGHT: CodeInfo(
        "server",
        "A call with this idempotency_key is still running; this one did nothing.",
        "Retry the same call in a few seconds: it then returns the first call's result.",
        retryable=True,
        arguments_can_fix=False,
    ),
    ErrorCode.APPROVAL_UNAVAILABLE: CodeInfo(
        "server",
        "Orders need a person's approval and this host cannot ask for it; nothing was placed.",
        "Tell the person running this server that the order is waiting for their approval: they "
        "can connect a host that supports elicitation, or review the server setting "
        "RAILS_ORDER_APPROVAL (--order-approval).",
        arguments_can_fix=False,
    ),
    ErrorCode.APPROVAL_STATE_INVALID: CodeInfo(
        "server",
        "The approval state sent back was not issued by this server, or was altered; nothing was placed.",
        _ASK_AGAIN,
        retryable=True,
    ),
    ErrorCode.APPROVAL_EXPIRED: CodeInfo(
        "server",
        "The approval request expired (valid for 5 minutes); nothing was placed.",
        _ASK_AGAIN,
        retryable=True,
    ),
    ErrorCode.APPROVAL_MISMATCH: CodeInfo(
        "server",
        "The approval was given for a different order (other arguments, or changed offers or "
        "prices); nothing was placed.",
        "Call place_procurement again with the order you mean to place; the person will be asked "
        "to approve that order.",
        retryable=True,
    ),
    ErrorCode.APPROVAL_REPLAYED: CodeInfo(
        "server",
        "This approval was already answered, or its parts were ordered since; nothing was placed "
        "by this call.",
        "Call list_procurements for this job to see whether an order exists before placing again.",
        arguments_can_fix=False,
    ),
    ErrorCode.PLACEMENT_OUTCOME_UNKNOWN: CodeInfo(
        "server",
        "A placement's answer was lost and the check for it failed too: the order may exist.",
        "Call list_procurements for this job before placing again; never place twice.",
        arguments_can_fix=False,
    ),
    ErrorCode.PLACEMENT_NOT_LANDED: CodeInfo(
        "server",
        "A placement's answer was lost and no order for its parts exists: nothing was placed.",
        "Call place_procurement again with the same arguments.",
        retryable=True,
        arguments_can_fix=False,
    ),
    ErrorCode.CONFIRMATION_NOT_LANDED: CodeInfo(
        "server",
        "A confirmation's answer was lost and the order is still not confirmed.",
        "Call confirm_procurement again; confirming is safe to repeat.",
        retryable=True,
        arguments_can_fix=False,
    ),
    ErrorCode.INVALID_CURSOR: CodeInfo(
        "server",
        "The cursor was not issued by this tool for these arguments: altered, or taken from another "
        "tool or another filter; nothing was read.",
        "Call the tool again without cursor (same other arguments) and follow each page's next_cursor.",
    ),
    ErrorCode.INTERNAL_ERROR: CodeInfo(
        "server",
        "A bug inside rails-mcp; nothing secret or internal is shown.",
        "Retry once; if it fails again, read the server's log.",
        retryable=True,
        arguments_can_fix=False,
    ),
}

_ALL = {**_WIRE, **_NO_ANSWER, **_SERVER}
#: The registry: every code, in the order the enum declares them (a code without an entry fails
#: at import).
CODES: Final[Mapping[ErrorCode, CodeInfo]] = {code: _ALL[code] for code in ErrorCode}
