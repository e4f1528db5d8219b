"""Human approval of an order: the policy, the server key, the sealed and single-use request state.

``place_procurement`` spends the shop's money, so before it reaches the wire a person is asked
through the host: on the 2026-07-28 protocol with an ``input_required`` result carrying a form
elicitation and a sealed ``requestState``; on 2025-11-25 with a form elicitation sent during the
call. No tool argument can approve an order and no refusal says how to avoid being asked.
The form states the supplier, total and lines the server computed before any text from the
wire, and shows each such text (names, job reference) only as one quoted, bounded line.

The request state is sealed with the SDK's public AES-256-GCM codec under ``RAILS_APPROVAL_KEY``
(shared by every replica), and our own claims inside it bind the approval to the exact
arguments, the basket offers and the total, expire it after five minutes and make it
single-use. This module verifies it itself, instead of installing the SDK's
``RequestStateBoundary``, so that each way a state can be wrong gets its own enriched tool
error code (``approval_state_invalid``, ``approval_expired``, ``approval_replayed``,
``approval_mismatch``) rather than one opaque protocol error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread
from mcp import MCPError
from mcp.server.request_state import AESGCMRequestStateCodec, InvalidRequestState
from mcp_types import ElicitRequest, ElicitRequestFormParams, ElicitResult, InputRequiredResult
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from rails_mcp.config import ApprovalPolicy, ConfigError, Settings
from rails_mcp.errors import ToolError, ToolFailure
from rails_mcp.present import ApprovalOutcome, ApprovalStatus, OrderForApproval
from rails_mcp.state import SQLiteStateStore, StateStore, state_store_of
from rails_mcp.wire.codes import ErrorCode
from rails_mcp.wire.untrusted import one_line, quote

__all__ = [
    "APPROVAL_INPUT_KEY",
    "APPROVAL_TTL_SECONDS",
    "KEY_FILE_NAME",
    "NOT_REQUESTED",
    "ApprovalGate",
    "SealedApproval",
    "approval_message",
    "approval_refusal",
    "arguments_digest",
    "decision_of",
    "decision_schema",
    "elicitation_for",
    "gate_from_settings",
    "load_or_create_key",
    "open_round",
    "order_digest",
]

log = logging.getLogger("rails_mcp.approval")

#: What a result says when the policy is ``ask`` and the host has no way to ask anyone.
NOT_REQUESTED: ApprovalStatus = "not_requested (host cannot ask)"
#: How long a person's approval stays valid (the issue's five minutes).
APPROVAL_TTL_SECONDS = 300.0
#: The key of the one elicitation inside ``input_requests``.
APPROVAL_INPUT_KEY = "approve_order"
#: The generated key, inside the state dir, when ``RAILS_APPROVAL_KEY`` is not given.
KEY_FILE_NAME = "approval.key"
#: The AES codec (HKDF over it) wants at least 32 bytes of secret randomness.
MIN_KEY_LENGTH = 32

_STATE_VERSION = 1


# --- the key --------------------------------------------------------------------------------


def load_or_create_key(given: str | None, path: Path) -> bytes:
    """``RAILS_APPROVAL_KEY`` when given; else the key kept at ``path``, created 0600 once.

    Replicas must share the key (set ``RAILS_APPROVAL_KEY`` on each, or share the state dir):
    an approval started on one and answered on another is unsealed with it. The generated
    key survives restarts, so an approval in flight across a restart is still honoured.
    """
    if given is not None:
        if len(given.encode()) < MIN_KEY_LENGTH:
            raise ConfigError(
                f"RAILS_APPROVAL_KEY must be at least {MIN_KEY_LENGTH} characters of secret randomness "
                '(make one with: python -c "import secrets; print(secrets.token_hex(32))")'
            )
        return given.encode()
    path = path.expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    except OSError as exc:
        raise ConfigError(f"cannot create the approval key in {path.parent} ({exc.strerror})") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    log.info("generated a new approval key in %s (mode 0600)", path)
    return key.encode()


def _read_key(path: Path) -> bytes:
    # Another replica sharing the state dir may be writing it this very moment: wait briefly.
    for _ in range(50):
        try:
            text = path.read_text(encoding="ascii").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the approval key {path} ({exc.strerror})") from None
        if len(text) >= MIN_KEY_LENGTH:
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
            return text.encode()
        time.sleep(0.02)
    raise ConfigError(f"the approval key file {path} is empty or too short; delete it to generate a new one")


# --- the order shown to the person ----------------------------------------------------------

#: How much of a wire name (part, supplier) and of a job reference the form shows.
NAME_LIMIT = 60
REF_LIMIT = 80
#: Offer lines listed one by one; the rest are counted (the total above already covers them).
MAX_LINES_SHOWN = 25
_NO_CURRENCY = "(currency set by the supplier; the basket carries none)"


def order_digest(order: OrderForApproval) -> str:
    """The basket offers, prices and total an approval covers; any change voids it."""
    body = {
        "job": dict(order.job),
        "supplier": order.supplier_business_id,
        "lines": [
            [ln.sellable_id, ln.trade_price, ln.quantity, sorted(ln.job_part_ids)] for ln in order.lines
        ],
        "total": order.total,
        "currency": order.currency,
    }
    return _digest(body)


def _amount(order: OrderForApproval, *, short: bool = False) -> str:
    """The total and its currency, as the server computed them (``short``: for a title)."""
    total = one_line(order.total, 20)
    if order.currency:
        return f"{total} {quote(order.currency, 12)}"
    return total if short else f"{total} {_NO_CURRENCY}"


def _supplier(order: OrderForApproval) -> str:
    """The supplier's wire name as quoted data, always with the business id it belongs to."""
    business = f"business {quote(order.supplier_business_id, 40)}"
    if order.supplier_name is None:
        return business
    return f"{quote(order.supplier_name, NAME_LIMIT)} ({business})"


def _order_lines(order: OrderForApproval) -> list[str]:
    """One row per offer: quantity, the quoted name and the price; at most ``MAX_LINES_SHOWN``."""
    rows = [
        f"{n}. {quote(ln.name, NAME_LIMIT)} x{ln.quantity}: {one_line(ln.trade_price, 20)}"
        for n, ln in enumerate(order.lines[:MAX_LINES_SHOWN], start=1)
    ]
    hidden = len(order.lines) - len(rows)
    if hidden > 0:
        rows.append(f"... and {hidden} more line(s), included in the total above.")
    return rows


def _job(order: OrderForApproval) -> str:
    if "external" in order.job:
        return f"external {quote(order.job['external'], REF_LIMIT)}"
    return f"id {quote(order.job.get('id', '?'), 40)}"


def approval_message(order: OrderForApproval) -> str:
    """The text the host shows the person, display only (the digest covers the order itself).

    The supplier, total and line count come first, from what the server computed; every
    string the wire wrote (names, job reference) follows as one quoted, bounded line, so no
    name or reference can draw its own "Total" line or push the real order out of view.
    """
    extension = (
        ["This uses a proposed extension of the Rails API (repairer.procurements.insert)."]
        if order.is_extension
        else []
    )
    return "\n".join(
        [
            "Approve this parts order?",
            f"Supplier: {_supplier(order)}",
            f"Total: {_amount(order)} for {len(order.lines)} line(s):",
            *(f"  {row}" for row in _order_lines(order)),
            f"Repair job: {_job(order)}",
            *extension,
            "Nothing is ordered unless you approve.",
        ]
    )


def decision_schema(order: OrderForApproval) -> dict[str, Any]:
    """The form the person fills: one explicit choice, so an empty "accept" approves nothing.

    Its title and description state the order again, so a host that shows only the form
    (not the message) still shows the real supplier, total and lines.
    """
    supplier = quote(order.supplier_name, NAME_LIMIT) if order.supplier_name is not None else _supplier(order)
    details = "\n".join(
        [
            f"Supplier: {_supplier(order)}. Total: {_amount(order)}, {len(order.lines)} line(s):",
            *_order_lines(order),
            f"Repair job: {_job(order)}.",
            "Approve places this order now; decline places nothing.",
        ]
    )
    return {
        "type": "object",
        "properties": {
            "decision": {
                "type": "string",
                "title": f"Approve {_amount(order, short=True)} to {supplier}?",
                "description": details,
                "oneOf": [
                    {"const": "approve", "title": f"Approve the order of {_amount(order, short=True)}"},
                    {"const": "decline", "title": "Decline"},
                ],
            }
        },
        "required": ["decision"],
    }


def _digest(value: Any) -> str:
    raw = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(raw.encode()).hexdigest()


def arguments_digest(tool: str, arguments: Mapping[str, Any] | None) -> str:
    """The exact arguments of the call, as sent: a state minted for other arguments is void."""
    return _digest({"tool": tool, "arguments": dict(arguments or {})})


def elicitation_for(order: OrderForApproval) -> ElicitRequest:
    return ElicitRequest(
        params=ElicitRequestFormParams(
            message=approval_message(order), requested_schema=decision_schema(order)
        )
    )


def decision_of(answer: object, who: str | None = None) -> tuple[Literal["approved", "declined"], str]:
    """Read the person's answer. Anything but an explicit "approve" places nothing.

    ``who`` names the person from their access token (never from the form) when there is one.
    """
    person = who or "the person"
    if not isinstance(answer, ElicitResult):
        return "declined", f"the host sent no answer from {person}"
    if answer.action == "decline":
        return "declined", f"{person} declined the order"
    if answer.action == "cancel":
        return "declined", f"{person} dismissed the approval request without approving"
    content = answer.content or {}
    if content.get("decision") == "approve":
        return "approved", f"approved by {person} through the host"
    if content.get("decision") == "decline":
        return "declined", f"{person} declined the order"
    return "declined", f"the answer of {person} did not approve the order"


# --- refusals ---------------------------------------------------------------------------------

#: What each approval refusal says, and the tool to call next; the fix and whether the call is
#: retryable are the error-code registry's (:mod:`rails_mcp.wire.codes`).
_REFUSALS: dict[str, tuple[str, str | None]] = {
    "approval_state_invalid": (
        "The approval state returned with this call was not issued by this server or was altered, "
        "so it approves nothing; nothing was placed.",
        None,
    ),
    "approval_expired": (
        "The approval request expired (an approval is valid for 5 minutes); nothing was placed.",
        None,
    ),
    "approval_replayed": (
        "This approval was already answered (one approval request is answered once: approved, it "
        "placed its order; declined, it placed nothing), or the parts it covered have been ordered "
        "since; nothing was placed by this call. If the person declined, place the order again only "
        "if they now want it.",
        "list_procurements",
    ),
    "approval_mismatch": (
        "The approval was given for a different order (other arguments, or the basket's offers or "
        "prices changed since the person saw it); nothing was placed.",
        None,
    ),
    "approval_unavailable": (
        "Orders on this server need a person's approval, and this MCP host cannot ask for it (it "
        "does not support form elicitation); nothing was placed.",
        None,
    ),
}


def approval_refusal(code: str, detail: str | None = None) -> ToolFailure:
    """An enriched tool error for one of the approval codes (nothing was written)."""
    message, next_tool = _REFUSALS[code]
    registered = ErrorCode(code)
    if detail:
        message = f"{message} {detail}"
    return ToolFailure(
        ToolError(
            code=code,
            message=message,
            fix=registered.fix,
            retryable=registered.retryable,
            next_tool=next_tool,
        )
    )


# --- sealing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SealedApproval:
    """The verified plaintext of a request state this server minted."""

    nonce: str
    issued_at: float
    expires_at: float
    arguments: str
    order: str
    job: dict[str, Any]
    part_ids: tuple[str, ...]


class ApprovalGate:
    """The policy plus the key: mints, verifies and spends approval states.

    One per process. Used states are kept in ``used`` (the state store in ``RAILS_STATE_DIR``:
    single use holds across restarts and replicas sharing the dir; in memory when not given).
    Across hosts single use is held by the wire itself (an approval whose parts are now
    ordered is refused as replayed, and the wire refuses to order a part twice).
    """

    def __init__(
        self,
        policy: ApprovalPolicy,
        key: bytes,
        *,
        audience: str,
        ttl: float = APPROVAL_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
        answer_timeout: float = APPROVAL_TTL_SECONDS,
        used: StateStore | None = None,
    ) -> None:
        self.policy: ApprovalPolicy = policy
        self.ttl = ttl
        self.answer_timeout = answer_timeout
        self.clock = clock
        self._audience = audience
        self._codec = AESGCMRequestStateCodec([key])
        self._used = used if used is not None else SQLiteStateStore(":memory:")

    def seal(
        self,
        tool: str,
        arguments: Mapping[str, Any] | None,
        order: OrderForApproval,
        principal: str | None = None,
    ) -> str:
        """The state for one approval request, bound to the signed-in ``principal`` that asked."""
        now = self.clock()
        claims = {
            "v": _STATE_VERSION,
            "aud": self._audience,
            "n": secrets.token_hex(16),
            "iat": now,
            "exp": now + self.ttl,
            "a": arguments_digest(tool, arguments),
            "o": order_digest(order),
            "job": dict(order.job),
            "parts": order.part_ids,
            "p": principal,
        }
        return self._codec.seal(json.dumps(claims, separators=(",", ":")).encode())

    def verify(
        self, token: object, tool: str, arguments: Mapping[str, Any] | None, principal: str | None = None
    ) -> SealedApproval:
        """Unseal and check a returned state; raise the refusal that says what is wrong with it.

        A state asked for by one principal and answered under another is ``approval_mismatch``.
        """
        if not isinstance(token, str):
            raise approval_refusal("approval_state_invalid")
        try:
            claims = json.loads(self._codec.unseal(token))
            version, audience, asker = claims["v"], claims["aud"], claims.get("p")
            sealed = SealedApproval(
                nonce=str(claims["n"]),
                issued_at=float(claims["iat"]),
                expires_at=float(claims["exp"]),
                arguments=str(claims["a"]),
                order=str(claims["o"]),
                job=dict(claims["job"]),
                part_ids=tuple(str(p) for p in claims["parts"]),
            )
        except (InvalidRequestState, ValueError, KeyError, TypeError) as exc:
            log.warning("approval state refused: %s", type(exc).__name__)
            raise approval_refusal("approval_state_invalid") from None
        if version != _STATE_VERSION or audience != self._audience:
            log.warning("approval state refused: minted for another server or version")
            raise approval_refusal("approval_state_invalid")
        now = self.clock()
        if not now < sealed.expires_at or sealed.issued_at > now + 60:
            raise approval_refusal("approval_expired")
        if sealed.arguments != arguments_digest(tool, arguments):
            raise approval_refusal("approval_mismatch")
        if asker != principal:
            log.warning("approval state refused: asked for by another principal")
            raise approval_refusal("approval_mismatch", "It was asked for under another sign-in.")
        if self._used.approval_used(sealed.nonce, now):
            raise approval_refusal("approval_replayed")
        return sealed

    def spend(self, sealed: SealedApproval) -> None:
        """Mark a state used before anything is placed; a second use anywhere the store reaches is refused."""
        if not self._used.spend_approval(sealed.nonce, sealed.expires_at, self.clock()):
            raise approval_refusal("approval_replayed")

    def check_order(self, sealed: SealedApproval, order: OrderForApproval) -> None:
        """The order about to be placed must be the one the person saw."""
        if sealed.order != order_digest(order):
            raise approval_refusal("approval_mismatch")


# --- one tools/call: the seam place_procurement calls -------------------------------------------


class AskHost(Exception):
    """Answer this round with ``input_required``: the elicitation plus the sealed state."""

    def __init__(self, result: InputRequiredResult) -> None:
        super().__init__("input required")
        self.result = result


Elicit = Callable[[str, dict[str, Any]], Awaitable[ElicitResult]]
PartsOrdered = Callable[[Mapping[str, Any], Sequence[str]], Awaitable[bool]]


@dataclass(slots=True)
class ApprovalRound:
    """One ``tools/call`` as the approval sees it; ``approve_order`` is the tools' seam.

    Built by the server for each call from what the SDK request carries: the era, whether
    the host declared form elicitation, and on 2026-07-28 the returned state and answers.
    ``outcome`` is what the audit log records.
    """

    gate: ApprovalGate
    tool: str
    arguments: Mapping[str, Any] | None
    modern: bool
    can_ask: bool
    elicit: Elicit | None = None
    verified: SealedApproval | None = None
    answer: object = None
    outcome: str | None = None
    #: The signed-in principal's binding (sealed into the state) and its name (for the record).
    principal: str | None = None
    who: str | None = None
    #: Whether this call asked a person (counted by the server's metrics).
    asked: bool = False

    async def approve_order(self, order: OrderForApproval) -> ApprovalOutcome:
        decision = await self._decide(order)
        self.outcome = decision.status if decision.detail is None else f"{decision.status}: {decision.detail}"
        return decision

    async def _decide(self, order: OrderForApproval) -> ApprovalOutcome:
        gate = self.gate
        if gate.policy == "off":
            return ApprovalOutcome(status="off")
        if self.verified is not None:
            gate.check_order(self.verified, order)
            await anyio.to_thread.run_sync(gate.spend, self.verified)  # a commit: off the event loop
            status, detail = decision_of(self.answer, self.who)
            return ApprovalOutcome(status=status, detail=detail)
        if not self.can_ask:
            if gate.policy == "require":
                self.outcome = "refused: approval_unavailable"
                raise approval_refusal("approval_unavailable")
            return ApprovalOutcome(status=NOT_REQUESTED)
        self.asked = True
        if self.modern:
            self.outcome = "requested"
            raise AskHost(
                InputRequiredResult(
                    input_requests={APPROVAL_INPUT_KEY: elicitation_for(order)},
                    request_state=gate.seal(self.tool, self.arguments, order, self.principal),
                )
            )
        assert self.elicit is not None
        request = elicitation_for(order)
        assert isinstance(request.params, ElicitRequestFormParams)
        try:
            with anyio.fail_after(gate.answer_timeout):
                answer = await self.elicit(request.params.message, request.params.requested_schema)
        except TimeoutError:
            self.outcome = "refused: approval_expired"
            raise approval_refusal("approval_expired") from None
        except MCPError as exc:  # the host declared elicitation, then refused to ask
            log.info("the host could not ask for approval: %s", exc.error.code)
            return ApprovalOutcome(status="declined", detail="the host did not ask the person")
        status, detail = decision_of(answer, self.who)
        return ApprovalOutcome(status=status, detail=detail)


async def open_round(
    gate: ApprovalGate,
    *,
    tool: str,
    arguments: Mapping[str, Any] | None,
    protocol_version: str,
    elicitation_declared: bool,
    can_send_request: bool,
    elicit: Elicit | None,
    request_state: str | None,
    input_responses: Mapping[str, object] | None,
    parts_ordered: PartsOrdered,
    principal: str | None = None,
    who: str | None = None,
) -> ApprovalRound:
    """The approval view of one call; a returned state is verified here, before the tool runs.

    A state that is tampered with, expired, minted for other arguments or already used is
    refused before the guard reads anything; a state whose parts are ordered by now (the
    order it approved was placed, perhaps by another replica) is refused as replayed.
    """
    modern = protocol_version in MODERN_PROTOCOL_VERSIONS
    can_ask = elicitation_declared and (modern or (can_send_request and elicit is not None))
    current = ApprovalRound(gate, tool, arguments, modern, can_ask, elicit, principal=principal, who=who)
    if gate.policy == "off" or not modern or request_state is None:
        return current
    current.outcome = "refused"
    sealed = await anyio.to_thread.run_sync(
        gate.verify, request_state, tool, arguments, principal
    )  # reads the store
    if await parts_ordered(sealed.job, sealed.part_ids):
        current.outcome = "refused: approval_replayed"
        raise approval_refusal("approval_replayed")
    current.verified = sealed
    current.answer = (input_responses or {}).get(APPROVAL_INPUT_KEY)
    current.outcome = None
    return current


def gate_from_settings(settings: Settings) -> ApprovalGate | None:
    """The gate this deployment runs (``None`` when approval is off: no key is created then)."""
    if settings.order_approval == "off":
        return None
    given = settings.approval_key.get_secret_value() if settings.approval_key is not None else None
    key = load_or_create_key(given, settings.approval_key_path())
    audience = f"rails-mcp/approval|{settings.target}|{settings.tenant or ''}"
    return ApprovalGate(settings.order_approval, key, audience=audience, used=state_store_of(settings))
