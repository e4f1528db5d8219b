"""The argument-repair engine: undo the mistakes agents make, and explain the rest.

Each input model declares what can be repaired on it (a :class:`Repairs` table beside the
model: other names for its arguments, identity wrappers, ids sent wrapped, booleans sent as
strings); this engine applies the table, naming each mistake, walks the rest against the model's
types (``reshape``) for a replayable call, and words pydantic's errors (``explain``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from pydantic import TypeAdapter, ValidationError

from rails_mcp.errors.explain import explain
from rails_mcp.errors.inputs import (
    IDENTIFIER_SHAPE,
    IDENTITY_SHAPE,
    Problem,
    RepairableInput,
    Repairs,
    as_identity,
    classify_identifier,
    parse_json_text,
    repair_identity,
)
from rails_mcp.errors.model import Suggestion, ToolError
from rails_mcp.errors.reshape import deep_repair, identifier_key, match_key
from rails_mcp.wire.untrusted import quote, safe_json, word

__all__ = [
    "IDENTIFIER_SHAPE",
    "IDENTITY_SHAPE",
    "RepairableInput",
    "Repairs",
    "arguments_error",
    "classify_identifier",
    "deep_repair",
]


def _repair_value(rules: Repairs, name: str, value: Any, problems: list[Problem]) -> Any:
    """One argument through its model's table: ids unwrapped, flags parsed, lists fixed."""
    if name in rules.ids and isinstance(value, dict) and set(cast("dict[str, Any]", value)) == {"id"}:
        inner: Any = cast("dict[str, Any]", value)["id"]
        problems.append(
            Problem(
                name,
                f"`{name}` is the bare id, not the wire's identity wrapper.",
                f'Send the UUID itself: "{name}": {safe_json(json.dumps(inner))}.',
                did_you_mean=inner,
            )
        )
        return inner
    if name in rules.flags and isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        flag = value.strip().lower() == "true"
        problems.append(
            Problem(
                name,
                f"`{name}` must be a JSON boolean, got the string {quote(value, 40)}.",
                f'Send "{name}": {json.dumps(flag)} (no quotes).',
                did_you_mean=flag,
            )
        )
        return flag
    key = rules.item_identities.get(name)
    if key is not None and isinstance(value, list):
        out: list[Any] = []
        for i, item in enumerate(cast("list[Any]", value)):
            if isinstance(item, dict) and key in item:
                fixed_item = dict(cast("dict[str, Any]", item))
                fixed_item[key] = repair_identity(fixed_item[key], f"{name}[{i}].{key}", problems)
                out.append(fixed_item)
            else:
                out.append(item)
        return out
    if name in rules.identifiers and isinstance(value, list):
        items: list[Any] = cast("list[Any]", value)
        if any(isinstance(v, str) for v in items):
            fixed = [
                {"vin": v} if isinstance(v, str) and len(v) == 17 else {"vrm": v} if isinstance(v, str) else v
                for v in items
            ]
            problems.append(
                Problem(
                    name,
                    f"`{name}` items must be objects, not bare strings.",
                    'Send each as {"vin": "<17 chars>"} or {"vrm": "<plate>"}.',
                    did_you_mean=fixed[0],
                )
            )
            return fixed
    return cast("Any", value)


def repair_arguments(
    model: type[RepairableInput], raw: Mapping[str, Any]
) -> tuple[dict[str, Any], list[Problem]]:
    """Apply ``model.repairs`` to ``raw``: the repaired arguments and what was wrong."""
    rules = model.repairs
    fields = set(model.model_fields)
    problems: list[Problem] = []
    repaired: dict[str, Any] = {}
    for key, given in raw.items():
        renamed = (key, given) if key in fields else _renamed(rules, fields, key, given, problems)
        if renamed is None:
            continue
        target, value = renamed
        if target in rules.identities:
            value = repair_identity(value, target, problems)
        else:
            parsed: Any = parse_json_text(value)
            if parsed is not value:
                shape = "array" if isinstance(parsed, list) else "object"
                problems.append(
                    Problem(
                        target,
                        f"`{target}` was sent as a JSON string.",
                        f"Send `{target}` as a JSON {shape}, not a string.",
                    )
                )
                value = cast("Any", parsed)
            value = _repair_value(rules, target, value, problems)
        if target not in repaired or key == target:  # the argument's own name beats another name
            repaired[target] = value
    return repaired, problems


def _renamed(
    rules: Repairs, fields: set[str], key: str, value: Any, problems: list[Problem]
) -> tuple[str, Any] | None:
    """A key that is not an argument: the argument its other name (or a close spelling) stands
    for, with the value in that argument's shape; None when the model knows no such name."""
    alias = match_key(key, fields, rules.aliases)
    if alias is None:
        problems.append(
            Problem(
                key,
                f"`{word(key)}` is not an argument of this tool.",
                f"Remove `{word(key)}`; the arguments are: {', '.join(sorted(fields)) or 'none'}.",
                valid_values=sorted(fields),
            )
        )
        return None
    identifiers = _as_identifiers(key, value) if alias in rules.identifiers else None
    if identifiers is not None:
        problems.append(
            Problem(
                key,
                f"`{word(key)}` is not an argument of this tool; vehicles go in `{alias}`.",
                f'Send each as an item of `{alias}`: "{alias}": {safe_json(json.dumps(identifiers))}.',
                did_you_mean=alias,
            )
        )
        return alias, identifiers
    problems.append(
        Problem(
            key,
            f"`{word(key)}` is not an argument of this tool.",
            f"Use `{alias}` instead of `{word(key)}`"
            + (" (the tool maps it to the wire's identity keys)." if alias in rules.identities else "."),
            did_you_mean=alias,
        )
    )
    if alias in rules.identities and key in {"job_id", "external_id", "external", "job_ref"}:
        value = as_identity(value)
    if alias in rules.ids and isinstance(value, dict):
        value = cast("dict[str, Any]", value).get("id")
    return alias, value


def _as_identifiers(key: str, value: Any) -> list[dict[str, str]] | None:
    """A VIN or a plate sent as its own argument (``"vin": "…"``): the identifier objects it
    stands for; None when ``key`` names no identifier or the value is not text."""
    kind = identifier_key(key)
    values = cast("list[Any]", value) if isinstance(value, list) else [value]
    if kind is None or not values or not all(isinstance(v, str) for v in values):
        return None
    return [{kind: v} for v in values]


_SUGGESTION: TypeAdapter[str | bool | Suggestion] = TypeAdapter(str | bool | Suggestion)


def _suggestion(value: Any) -> Any:
    """``did_you_mean`` only when it has the published shape (an echo can be anything) and no
    value longer than any identity the wire takes: that is an echo, not a correction, and each
    invisible character in it costs six in the result's escaped text."""
    try:
        suggestion = _SUGGESTION.validate_python(value, strict=True) if value is not None else None
    except ValidationError:
        return None
    values = suggestion.model_dump().values() if isinstance(suggestion, Suggestion) else [suggestion]
    return None if any(isinstance(v, str) and len(v) > _MAX_SUGGESTION for v in values) else suggestion


#: Messages echo what the agent sent; a 100k-character argument must not come back as megabytes.
_MAX_MESSAGE, _MAX_FIX, _MAX_FIELD = 2000, 1000, 200
#: The longest identity value the wire accepts (an external reference).
_MAX_SUGGESTION = 200


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _root(name: str) -> str:
    return name.split(".", 1)[0].split("[", 1)[0]


def arguments_error(
    model: type[RepairableInput], raw: Mapping[str, Any], error: ValidationError
) -> ToolError:
    """Explain why ``raw`` does not fit ``model``, with a replayable correction when we can make one."""
    repaired, problems = repair_arguments(model, raw)
    # Keys the table did not know go through the type-directed pass too (it matches spellings).
    repaired = deep_repair(model, {**{k: v for k, v in raw.items() if k not in repaired}, **repaired})
    translated = explain(error)
    # A repaired field's own diagnosis beats the schema's (one line for external_id, say), and an
    # argument sent under another name is not also "required".
    repaired_roots = {_root(p.field) for p in problems} | (set(repaired) - set(raw))
    problems += [p for p in translated if _root(p.field) not in repaired_roots]
    first = (
        problems[0]
        if problems
        else Problem("(arguments)", "The arguments do not fit.", "Follow the input schema.")
    )
    example: dict[str, Any] | None = None
    try:
        # Dumped from the validated model, not echoed: UUIDs in canonical form and no nulls,
        # so the example fits the published input schema, not just the lenient model.
        example = model.model_validate(repaired).model_dump(
            mode="json", exclude_unset=True, exclude_none=True
        )
    except ValidationError:
        example = None
    message = " ".join(p.message for p in problems[:6])
    if len(problems) > 6:
        message += f" (+{len(problems) - 6} more)"
    return ToolError(
        code="invalid_arguments",
        message=_clip(message, _MAX_MESSAGE),
        fix=_clip(first.fix, _MAX_FIX),
        retryable=False,
        field=_clip(first.field, _MAX_FIELD),
        valid_values=first.valid_values,
        did_you_mean=_suggestion(first.did_you_mean),
        example_arguments=example,
    )
