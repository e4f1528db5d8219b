"""Pydantic's structured errors in words: one sentence each, from the error's type, location
and context (never its message text), with the bound in words and numbers."""

from __future__ import annotations

import json
from typing import Any, cast

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from rails_mcp.errors.inputs import IDENTIFIER_SHAPE, IDENTITY_SHAPE, Problem, classify_identifier
from rails_mcp.wire.untrusted import quote, safe_json, word

__all__ = ["explain"]

_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "true or false",
    "list_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "uuid_type": "a UUID string",
    "uuid_parsing": "a UUID string (32 hex digits in groups of 8-4-4-4-12), not a name or a reference",
    "int_parsing": "an integer",
    "bool_parsing": "true or false",
}

_SHAPES = {
    IDENTITY_SHAPE: (
        'an identity is {"external": "<your ref>"} or {"id": "<uuid>"}',
        '{"external": "<your ref>"}',
    ),
    IDENTIFIER_SHAPE: ('each identifier is {"vin": "<17 chars>"} or {"vrm": "<plate>"}', '{"vin": "..."}'),
}


def _loc(err: ErrorDetails) -> str:
    """``("parts", 0, "identity", "IdIdentity", "id")`` → ``parts[0].identity.id``: union tags
    (model names) are dropped so a location names only what the agent sent."""
    parts: list[str] = []
    for item in err["loc"]:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item[:1].isupper():
            continue
        else:
            parts.append(("." if parts else "") + word(item))  # a key the agent made up is data
    return "".join(parts) or "(arguments)"


def _items(n: object) -> str:
    return "1 item" if n == 1 else f"{n} items"


def _chars(n: object) -> str:
    return "1 character" if n == 1 else f"{n} characters"


def explain(error: ValidationError) -> list[Problem]:
    """Each of ``error``'s problems in words, repeats dropped."""
    out: list[Problem] = []
    for err in error.errors(include_url=False):
        problem = _translate(err)
        if problem not in out:
            out.append(problem)
    return out


def _translate(err: ErrorDetails) -> Problem:
    where = _loc(err)
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    got = err.get("input")
    if kind == "missing":
        return Problem(
            where,
            f"`{where}` is required.",
            f"Add `{where}`; if you do not know its value, ask the person for it.",
        )
    if kind == "extra_forbidden":
        return Problem(where, f"`{where}` is not accepted here.", f"Remove `{where}`.")
    if kind in _SHAPES:
        return _shape_problem(where, kind, got)
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        values = [v.strip().strip("'") for v in expected.replace(" or ", ",").split(",") if v.strip()]
        return Problem(
            where,
            f"`{where}` must be one of {expected}.",
            f"Use one of: {', '.join(values)}.",
            valid_values=values,
        )
    if kind in _TYPE_WORDS:
        return Problem(
            where,
            f"`{where}` must be {_TYPE_WORDS[kind]} (got {type(got).__name__}).",
            f"Send `{where}` as {_TYPE_WORDS[kind]}.",
        )
    bounded = _bound_problem(where, kind, ctx, got)
    if bounded is not None:
        return bounded
    if kind == "string_pattern_mismatch":
        return Problem(
            where,
            f"`{where}` must match the pattern {ctx.get('pattern')}.",
            f"Send `{where}` matching {ctx.get('pattern')}.",
        )
    return Problem(where, f"`{where}` is not valid ({kind}).", f"Fix `{where}` to match the input schema.")


def _shape_problem(where: str, kind: str, got: Any) -> Problem:
    """An identity or a vehicle identifier of the wrong shape; a bare VIN or plate is recognised."""
    words, example = _SHAPES[kind]
    if kind == IDENTIFIER_SHAPE and isinstance(got, dict):
        values = [v for v in cast("dict[str, Any]", got).values() if isinstance(v, str)]
        guessed = classify_identifier(values[0]) if len(values) == 1 else None
        if guessed is not None:
            fix = f"Send `{where}` as {safe_json(json.dumps(guessed))}."
            return Problem(where, f"`{where}`: {words}.", fix)
        if len(values) == 1:
            return Problem(
                where,
                f"`{where}`: {words}; {quote(values[0], 40)} is neither a VIN (17 letters and digits, "
                "no I, O or Q) nor a plate (1 to 8 letters and digits).",
                f"Ask the person for the vehicle's VIN or plate and send `{where}` as {example}.",
            )
    return Problem(where, f"`{where}`: {words}.", f"Send `{where}` as {example}.")


def _bound_problem(where: str, kind: str, ctx: dict[str, Any], got: Any) -> Problem | None:
    """A number, a list or a text outside its bound, the bound in words; None for other errors."""
    got_len = len(cast("Any", got)) if isinstance(got, str | list | dict) else "?"
    bounds: dict[str, tuple[str, str]] = {
        "greater_than_equal": (f"at least {ctx.get('ge')}", f"got {got!r}"),
        "greater_than": (f"more than {ctx.get('gt')}", f"got {got!r}"),
        "less_than_equal": (f"at most {ctx.get('le')}", f"got {got!r}"),
        "less_than": (f"less than {ctx.get('lt')}", f"got {got!r}"),
        "too_short": (
            f"at least {_items(ctx.get('min_length'))}",
            f"got {ctx.get('actual_length', got_len)}",
        ),
        "too_long": (f"at most {_items(ctx.get('max_length'))}", f"got {ctx.get('actual_length', got_len)}"),
        "string_too_short": (f"at least {_chars(ctx.get('min_length'))} long", f"got {got_len}"),
        "string_too_long": (f"at most {_chars(ctx.get('max_length'))} long", f"got {got_len}"),
    }
    if kind not in bounds:
        return None
    bound, actual = bounds[kind]
    verb = "have" if kind in {"too_short", "too_long"} else "be"
    # Too few items or characters, or too many characters: only the person knows what to send.
    ask = {
        "too_short": "; ask the person for them if you do not know them",
        "string_too_short": "; ask the person for it if you do not know it",
        "string_too_long": "; ask the person for a shorter one",
    }.get(kind, "")
    return Problem(where, f"`{where}` must {verb} {bound} ({actual}).", f"Send `{where}` {bound}{ask}.")
