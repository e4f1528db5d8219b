"""Deployment controls: read-only mode, a tool allow-list and a per-order spending limit.

All pure: the server asks :class:`Controls` which tools to list and whether a call may run;
``place_procurement`` asks :func:`check_spending_limit` before anyone is asked to approve and
before the wire. A refused call writes nothing.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from rails_mcp.config import ConfigError, Settings
from rails_mcp.errors import ToolError
from rails_mcp.guard import GuardRefusal, money
from rails_mcp.wire.codes import ErrorCode

__all__ = ["Controls", "check_spending_limit", "parse_allow_list"]


def parse_allow_list(given: Iterable[str] | str | None, known: Sequence[str]) -> frozenset[str] | None:
    """The allow-list as a set of known tool names; an unknown name stops start-up, listing the valid ones."""
    if given is None:
        return None
    raw = given.split(",") if isinstance(given, str) else list(given)
    names = [n.strip() for n in raw if n.strip()]
    if not names:
        raise ConfigError(
            f"RAILS_TOOLS is empty; list tool names separated by commas from: {', '.join(known)}"
        )
    unknown = [n for n in names if n not in known]
    if unknown:
        hints: list[str] = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
            hints.append(f"{name!r} (did you mean {close[0]}?)" if close else repr(name[:80]))
        raise ConfigError(
            f"RAILS_TOOLS names unknown tool(s): {', '.join(hints)}. Valid tool names: {', '.join(known)}"
        )
    return frozenset(names)


@dataclass(frozen=True, slots=True)
class Controls:
    """What this deployment lets an agent do."""

    read_only: bool = False
    #: Tool names that may be listed and called; ``None`` = all of them.
    allowed: frozenset[str] | None = None
    #: The largest order total placed without refusal, in the order's currency.
    max_order_total: Decimal | None = None

    @classmethod
    def from_settings(cls, settings: Settings, known: Sequence[str]) -> Controls:
        """This deployment's controls; an allow-list naming an unknown tool stops start-up."""
        return cls(
            read_only=settings.read_only,
            allowed=parse_allow_list(settings.tools, known),
            max_order_total=settings.max_order_total,
        )

    def listed(self, name: str, read_only_tool: bool) -> bool:
        """Whether ``tools/list`` shows this tool."""
        if self.allowed is not None and name not in self.allowed:
            return False
        return read_only_tool or not self.read_only

    def refusal(self, name: str, read_only_tool: bool, visible: Sequence[str]) -> ToolError | None:
        """Why this call may not run (nothing is written), or ``None`` when it may."""
        if self.allowed is not None and name not in self.allowed:
            close = difflib.get_close_matches(name, visible, n=1)
            return ToolError(
                code=ErrorCode.TOOL_NOT_ALLOWED,
                message=f"{name} is not among the tools this server offers; nothing was run.",
                fix=f"Use one of the listed tools: {', '.join(visible)}."
                if visible
                else "Use a listed tool.",
                retryable=False,
                valid_values=list(visible),
                did_you_mean=close[0] if close else None,
            )
        if self.read_only and not read_only_tool:
            return ToolError(
                code=ErrorCode.READ_ONLY_MODE,
                message=f"This server is read-only, and {name} writes; it was not run and nothing was "
                "written.",
                fix=ErrorCode.READ_ONLY_MODE.fix,
                retryable=False,
                valid_values=list(visible),
            )
        return None


def check_spending_limit(total: Decimal, limit: Decimal | None, currency: str | None = None) -> None:
    """Refuse an order above the per-order limit (before anyone is asked and before the wire)."""
    if limit is None or total <= limit:
        return
    unit = f" {currency}" if currency else ""
    raise GuardRefusal(
        ErrorCode.OVER_SPENDING_LIMIT,
        f"The order total {money(total)}{unit} is above this server's spending limit of "
        f"{money(limit)}{unit} per order.",
        ErrorCode.OVER_SPENDING_LIMIT.fix,
        spending_limit=(money(limit), currency),
    )
