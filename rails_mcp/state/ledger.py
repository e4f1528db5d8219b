"""Budgets and idempotency keys, as the server's async code uses them.

A budget (``RAILS_BUDGET=5000/day``, ``/week`` or ``/month``, optionally ``5000 NZD/day``) is
counted per tenant, or per tenant and principal (``RAILS_BUDGET_SCOPE=principal``), in calendar
windows in UTC: a day starts at 00:00 UTC, a week on Monday 00:00 UTC, a month on its first day
00:00 UTC. Each placement reserves its total before anyone is asked and before the wire; a
placed order commits it, anything else releases it. The budget counts one currency (the one
configured, else the first placed order's) and never converts: an order in another currency is
not counted, and the call says so.

Idempotency keys follow the Agentic Commerce Protocol: one key per tenant stands for one
set of arguments for 24 hours; the same call again gets the first result back, other
arguments are a conflict, and a retry while the first is running is told to wait.

Every store call here runs in a worker thread: a commit's fsync never blocks the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, Literal

import anyio.to_thread

from .store import Idempotency, OverBudget, Reservation, StateStore

__all__ = ["BudgetRule", "Ledger", "Period", "Refused"]

Period = Literal["day", "week", "month"]


@dataclass(frozen=True, slots=True)
class BudgetRule:
    """How much may be placed per calendar window (UTC), and in which currency if fixed."""

    amount: Decimal
    period: Period
    currency: str | None = None

    def window(self, now: float) -> tuple[datetime, datetime]:
        """The window holding ``now``: its start and when it resets (both UTC)."""
        day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        if self.period == "day":
            return day, day + timedelta(days=1)
        if self.period == "week":
            start = day - timedelta(days=day.weekday())
            return start, start + timedelta(days=7)
        start = day.replace(day=1)
        return start, (start + timedelta(days=32)).replace(day=1)


@dataclass(frozen=True, slots=True)
class Refused:
    """A reservation the budget refused: what is left and when the window resets."""

    remaining: Decimal
    currency: str | None
    resets_at: datetime
    rule: BudgetRule


@dataclass
class Ledger:
    """One deployment's view of the shared store: its tenant, budget and clock."""

    store: StateStore
    #: What keys and budgets are counted under: the wire's address and the tenant.
    tenant: str
    budget: BudgetRule | None = None
    per_principal: bool = False
    clock: Callable[[], float] = field(default=time.time)

    def scope(self, principal: str | None = None) -> str:
        """The budget's scope: the tenant, or the principal within it when so configured."""
        if self.per_principal and principal:
            return f"{self.tenant}|principal:{principal}"
        return self.tenant

    async def reserve(self, amount: Decimal, principal: str | None = None) -> Reservation | Refused | None:
        """Set ``amount`` aside; ``None`` when there is no budget."""
        rule = self.budget
        if rule is None:
            return None
        start, resets_at = rule.window(self.clock())
        got = await anyio.to_thread.run_sync(
            partial(
                self.store.reserve_budget,
                self.scope(principal),
                start.timestamp(),
                amount,
                rule.amount,
                rule.currency,
            )
        )
        if isinstance(got, OverBudget):
            return Refused(got.remaining, got.currency, resets_at, rule)
        return got

    def remaining(self) -> dict[str, float]:
        """What is left of the tenant-wide budget this window, by currency, for ``/metrics``.

        Synchronous (a scrape calls it; the HTTP transport scrapes in a worker thread) and one
        indexed read. Empty without a budget, and with per-principal budgets: each principal
        has its own budget, so no one tenant-wide figure is left to report. The currency is
        the configured one, else the window's first order's, else ``unknown``.
        """
        rule = self.budget
        if rule is None or self.per_principal:
            return {}
        start, _ = rule.window(self.clock())
        used, counted_in = self.store.budget_used(self.tenant, start.timestamp())
        currency = rule.currency or counted_in or "unknown"
        return {currency: float(max(rule.amount - used, Decimal(0)))}

    async def release(self, reservation: Reservation) -> None:
        await anyio.to_thread.run_sync(self.store.release_budget, reservation)

    async def commit(self, reservation: Reservation, currency: str | None) -> bool:
        """Count a placed order; False when its currency is not the budget's (not counted)."""
        return await anyio.to_thread.run_sync(self.store.commit_budget, reservation, currency)

    async def begin(self, key: str, digest: str) -> Idempotency:
        return await anyio.to_thread.run_sync(self.store.begin_idempotent, self.tenant, key, digest)

    async def finish(self, key: str, result: Mapping[str, Any]) -> None:
        await anyio.to_thread.run_sync(self.store.finish_idempotent, self.tenant, key, result)

    async def abandon(self, key: str) -> None:
        await anyio.to_thread.run_sync(self.store.abandon_idempotent, self.tenant, key)
