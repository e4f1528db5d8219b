"""Every result has a token budget: what is too big is cut, and the cut is said, not hidden.

A host refuses a tool result over about 25,000 tokens and warns above 10,000, whatever the
world's size. Tokens are counted as characters ÷ 4 over everything sent (the text block and
the structured content). A value over its budget loses items from its longest list, again
and again, until it fits; each cut is recorded so the result can say what is missing and
how to get it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

__all__ = [
    "CHARS_PER_TOKEN",
    "DEFAULT_TOKEN_BUDGET",
    "HARD_TOKEN_CAP",
    "Cut",
    "cut_note",
    "fit",
    "json_text",
    "tokens",
]

CHARS_PER_TOKEN = 4
DEFAULT_TOKEN_BUDGET = 10_000
#: Above this a host refuses the result outright; no configuration may go higher.
HARD_TOKEN_CAP = 25_000


def tokens(characters: int) -> int:
    """The token estimate of ``characters`` characters (rounded up)."""
    return -(-characters // CHARS_PER_TOKEN)


@dataclass
class Cut:
    """One list shortened: where it is (``suppliers[0].offers``), how many kept of how many."""

    path: str
    kept: int
    total: int


def _lists(value: Any, path: str = "") -> list[tuple[str, list[Any]]]:
    """Every non-empty list inside ``value``, with its path."""
    found: list[tuple[str, list[Any]]] = []
    if isinstance(value, dict):
        for key, item in cast("dict[str, Any]", value).items():
            found += _lists(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        items = cast("list[Any]", value)
        if items:
            found.append((path, items))
        for index, item in enumerate(items):
            found += _lists(item, f"{path}[{index}]")
    return found


def json_text(value: Any) -> str:
    """``value`` as the compact JSON a result carries: the text the budget measures."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_size(value: Any) -> int:
    return len(json_text(value))


def fit(
    value: dict[str, Any], size: Callable[[dict[str, Any]], int], limit: int, rest: str, budget: int
) -> dict[str, Any]:
    """``value`` (a copy when cut) with its longest lists shortened until ``size`` ≤ ``limit``.

    A cut value carries ``truncated``: what was cut and ``rest``, how to get the rest; it is
    counted in the size too. Each step drops about as many trailing items as the excess needs
    (estimated from the list's average item), so a 1,000-item list takes a handful of steps.
    """
    if size(value) <= limit:
        return value
    value = copy.deepcopy(value)
    cuts: dict[str, Cut] = {}
    while (current := size(value)) > limit:
        found = _lists(value)
        if not found:
            break
        path, items = max(found, key=lambda pair: _json_size(pair[1]))
        # The value may be counted more than once (a text block repeats it): weigh items alike.
        weight = max(current / _json_size(value), 1.0)
        drop = _drop(items, current - limit, weight)
        inner = [pair for pair in found if pair[0].startswith(f"{path}[")]
        if drop >= len(items) and inner:  # a last block: cut inside it, not it away
            path, items = max(inner, key=lambda pair: _json_size(pair[1]))
            drop = _drop(items, current - limit, weight)
        cut = cuts.setdefault(path, Cut(path, 0, len(items)))
        del items[max(len(items) - drop, 0) :]
        cut.kept = len(items)
        value["truncated"] = cut_note([c for c in cuts.values() if c.kept < c.total], budget, rest)
    return value


def _drop(items: list[Any], excess: int, weight: float) -> int:
    """About how many trailing items to drop to shed ``excess`` characters: at most half the list
    a step, so the other lists share the cut and a page keeps some of its items."""
    per_item = max(_json_size(items) / len(items) * weight, 1.0)
    return min(max(1, int(excess / per_item) + 1), max(1, len(items) // 2))


def cut_note(cuts: list[Cut], budget: int, rest: str) -> str:
    """One sentence: what was cut to fit ``budget`` tokens, and ``rest`` (how to get the rest)."""
    shown = "; ".join(f"{c.path}: {c.kept} of {c.total} shown" for c in cuts[:3])
    more = f"; {len(cuts) - 3} more lists cut" if len(cuts) > 3 else ""
    return f"Cut to fit the {budget:,}-token result budget ({shown}{more}). {rest}"
