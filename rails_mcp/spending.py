"""Budgets and idempotency keys around ``place_procurement``, one call at a time.

Opened with the call (:meth:`Spend.open`), before the tool reads anything: an
``idempotency_key`` seen before replays its first result, names a conflict, or says the first
call is still running. The budget is reserved where the per-order spending limit's order is
known and before anyone is asked or the wire is called (:meth:`Spend.reserve`, from the
approval seam), and settled with the call's result (:meth:`Spend.settle`): a placed order
commits its reservation, anything else releases it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from mcp_types import CallToolResult, InputRequiredResult, TextContent

from rails_mcp.errors import ToolError, ToolFailure
from rails_mcp.errors.model import BudgetLeft
from rails_mcp.guard import money
from rails_mcp.state import Ledger, Refused, Reservation
from rails_mcp.wire.codes import ErrorCode
from rails_mcp.wire.untrusted import word

__all__ = ["IDEMPOTENCY_KEY", "Spend", "call_digest", "over_budget_error"]

log = logging.getLogger("rails_mcp.spending")

#: The optional argument of ``place_procurement`` that makes a retry safe.
IDEMPOTENCY_KEY = "idempotency_key"
#: What a replayed result carries, so the agent knows nothing new was placed.
REPLAY_FLAG = "idempotent_replay"
#: Kept counted (not released) when the order may have landed: never under-count money spent.
_MAYBE_PLACED = {"placement_outcome_unknown"}


def call_digest(arguments: Mapping[str, Any]) -> str:
    """The call's arguments without the key: what "the same call" means."""
    body = {k: v for k, v in arguments.items() if k != IDEMPOTENCY_KEY}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def over_budget_error(refused: Refused, total: Decimal) -> ToolError:
    """``over_budget``: the total, what is left and when the window resets, in the budget's currency."""
    unit = f" {refused.currency}" if refused.currency else ""
    resets = refused.resets_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return ToolError(
        code=ErrorCode.OVER_BUDGET,
        message=f"The order total {money(total)}{unit} is more than is left of this tenant's budget of "
        f"{money(refused.rule.amount)}{unit} per {refused.rule.period} (UTC): "
        f"{money(refused.remaining)}{unit} left until {resets}; nothing was asked or written.",
        fix=ErrorCode.OVER_BUDGET.fix,
        retryable=False,
        budget=BudgetLeft(
            remaining=money(refused.remaining),
            currency_code=refused.currency,
            period=refused.rule.period,
            resets_at=resets,
        ),
    )


def _key_error(code: ErrorCode) -> ToolError:
    return ToolError(
        code=code, message=code.info.meaning, fix=code.fix, retryable=code.retryable, field=IDEMPOTENCY_KEY
    )


@dataclass
class Spend:
    """One placement's budget reservation and idempotency key."""

    ledger: Ledger
    key: str | None = None
    principal: str | None = None
    reservation: Reservation | None = None

    @classmethod
    async def open(
        cls, ledger: Ledger, arguments: Mapping[str, Any], principal: str | None = None
    ) -> tuple[Spend, ToolError | None, CallToolResult | None]:
        """This call's spend, plus a refusal or the replayed first result when its key says so.

        A key that is not a 1-255 character string is left to the tool's input check.
        """
        key = arguments.get(IDEMPOTENCY_KEY)
        spend = cls(ledger, principal=principal)
        if not isinstance(key, str) or not 1 <= len(key) <= 255:
            return spend, None, None
        seen = await ledger.begin(key, call_digest(arguments))
        if seen.status == "conflict":
            return spend, _key_error(ErrorCode.IDEMPOTENCY_CONFLICT), None
        if seen.status == "in_flight":
            return spend, _key_error(ErrorCode.IDEMPOTENCY_IN_FLIGHT), None
        if seen.status == "replay" and seen.result is not None:
            replay = CallToolResult.model_validate(seen.result)
            replay.structured_content = {**(replay.structured_content or {}), REPLAY_FLAG: True}
            return spend, None, replay
        spend.key = key
        return spend, None, None

    async def reserve(self, total: str) -> None:
        """Set the order's total aside, or refuse with ``over_budget`` (nothing asked or written)."""
        if self.reservation is not None:  # one reservation per call, however often it is asked
            return
        amount = Decimal(total)
        got = await self.ledger.reserve(amount, self.principal)
        if isinstance(got, Refused):
            raise ToolFailure(over_budget_error(got, amount))
        self.reservation = got

    async def settle(self, result: CallToolResult | InputRequiredResult) -> None:
        """Commit or release the reservation; keep the result for the key, or free the key."""
        structured: dict[str, Any] = (
            dict(result.structured_content or {}) if isinstance(result, CallToolResult) else {}
        )
        if self.reservation is not None:
            await self._settle_budget(result, structured)
        if self.key is None:
            return
        if isinstance(result, CallToolResult) and not result.is_error:
            await self.ledger.finish(
                self.key, result.model_dump(mode="json", by_alias=True, exclude_none=True)
            )
        else:
            await self.ledger.abandon(self.key)

    async def _settle_budget(
        self, result: CallToolResult | InputRequiredResult, structured: dict[str, Any]
    ) -> None:
        reservation, self.reservation = self.reservation, None
        assert reservation is not None
        error = cast("dict[str, Any]", structured.get("error") or {})
        if structured.get("placed") is not True and error.get("code") not in _MAYBE_PLACED:
            await self.ledger.release(reservation)
            return
        procurement = cast("dict[str, Any]", structured.get("procurement") or {})
        currency = procurement.get("currency_code")
        currency = word(currency) if isinstance(currency, str) else None
        if await self.ledger.commit(reservation, currency):
            return
        log.warning(
            "budget: an order in %s was placed and not counted (the budget counts another currency)", currency
        )
        assert isinstance(result, CallToolResult)
        result.content = [
            *result.content,
            TextContent(
                type="text",
                text=f"Not counted against the budget: this order is in {currency}, and the budget counts "
                "another currency (it never converts).",
            ),
        ]
