"""The argument-repair engine: undo the mistakes agents make, and explain the rest.

Each input model declares what can be repaired on it (a :class:`Repairs` table beside the
model: wrong key names, identity wrappers, ids sent wrapped, booleans sent as strings); this
engine applies the table, then translates pydantic's structured errors (type, location,
context; never its message text) into one sentence each, with the bound in words and numbers.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, Union, cast, get_args, get_origin
from uuid import UUID

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from rails_mcp.errors.model import Suggestion, ToolError
from rails_mcp.wire.models import ExternalIdentity, IdIdentity, VinIdentifier, VrmIdentifier

__all__ = [
    "IDENTIFIER_SHAPE",
    "IDENTITY_SHAPE",
    "RepairableInput",
    "Repairs",
    "arguments_error",
    "classify_identifier",
    "deep_repair",
]

#: Custom error types raised by the tagged identity unions (see the input models).
IDENTITY_SHAPE = "identity_shape"
IDENTIFIER_SHAPE = "identifier_shape"


@dataclass(frozen=True, slots=True)
class Repairs:
    """What an input model lets the engine fix before explaining."""

    #: A key agents send → the argument they meant.
    aliases: Mapping[str, str] = field(default_factory=dict[str, str])
    #: Arguments that are ``{"external"}|{"id"}`` wrappers (bare strings and wire keys repaired).
    identities: frozenset[str] = frozenset()
    #: UUID arguments agents send in the wire's ``{"id": …}`` wrapper.
    ids: frozenset[str] = frozenset()
    #: Boolean arguments agents send as ``"true"``/``"false"``.
    flags: frozenset[str] = frozenset()
    #: List argument → the key of its items that is an identity wrapper.
    item_identities: Mapping[str, str] = field(default_factory=dict[str, str])
    #: List arguments of ``{"vin"}|{"vrm"}`` objects agents send as bare strings.
    identifiers: frozenset[str] = frozenset()


class RepairableInput(BaseModel):
    """Base of every tool input: strict, frozen, with its own repair table."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    repairs: ClassVar[Repairs] = Repairs()


_IDENTITY_KEY_ALIASES = {"external_id": "external", "externalId": "external", "uuid": "id"}


@dataclass(frozen=True, slots=True)
class _Problem:
    field: str
    message: str
    fix: str
    did_you_mean: Any = None
    valid_values: list[str] | None = None


def _looks_like_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


def _as_identity(value: Any) -> Any:
    if isinstance(value, str):
        return {"id": value} if _looks_like_uuid(value) else {"external": value}
    return value


def _parse_json_text(value: Any) -> Any:
    """An object or array an agent sent as a JSON string, parsed; anything else unchanged."""
    if isinstance(value, str) and value.strip()[:1] in {"{", "["}:
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _repair_identity(value: Any, where: str, problems: list[_Problem]) -> Any:
    parsed = _parse_json_text(value)
    if parsed is not value:
        problems.append(
            _Problem(
                where, f"`{where}` was sent as a JSON string.", f"Send `{where}` as an object, not a string."
            )
        )
        value = parsed
    if isinstance(value, str):
        fixed = _as_identity(value)
        problems.append(
            _Problem(
                where,
                f"`{where}` must be an object, got the bare string {value!r}.",
                f'Wrap it: "{where}": {json.dumps(fixed)}.',
                did_you_mean=fixed,
            )
        )
        return fixed
    if not isinstance(value, dict):
        return value
    node = cast("dict[str, Any]", value)
    if set(node) == {"identity"} or set(node) == {"job_identity"}:
        inner = next(iter(node.values()))
        problems.append(
            _Problem(
                where,
                f"`{where}` wraps another identity object.",
                f'Send the identity itself: "{where}": {json.dumps(inner)}.',
                did_you_mean=inner,
            )
        )
        if isinstance(inner, dict):
            node = cast("dict[str, Any]", inner)
    renamed: dict[str, Any] = {_IDENTITY_KEY_ALIASES.get(k, k): v for k, v in node.items()}
    for old, new in _IDENTITY_KEY_ALIASES.items():
        if old in node:
            problems.append(
                _Problem(
                    f"{where}.{old}",
                    f"`{where}.{old}` is not a key of the identity wrapper.",
                    f'The key is `{new}`, not `{old}`: "{where}": {json.dumps(renamed)}.',
                    did_you_mean=new,
                )
            )
    ident = renamed.get("id")
    if set(renamed) == {"id"} and isinstance(ident, str) and not _looks_like_uuid(ident):
        fixed = {"external": ident}
        problems.append(
            _Problem(
                f"{where}.id",
                f"`{where}.id` must be a UUID; {ident[:80]!r} looks like your own reference.",
                f'Send your own reference under `external`: "{where}": {json.dumps(fixed)}.',
                did_you_mean=fixed,
            )
        )
        return fixed
    if "external" in renamed and "id" in renamed:
        problems.append(
            _Problem(
                where,
                f"`{where}` has both `external` and `id`; exactly one is allowed.",
                f'Send only one: "{where}": {json.dumps({"external": renamed["external"]})}.',
            )
        )
        return {"external": renamed["external"]}
    return renamed


def _repair_value(rules: Repairs, name: str, value: Any, problems: list[_Problem]) -> Any:
    """One argument through its model's table: ids unwrapped, flags parsed, lists fixed."""
    if name in rules.ids and isinstance(value, dict) and set(cast("dict[str, Any]", value)) == {"id"}:
        inner: Any = cast("dict[str, Any]", value)["id"]
        problems.append(
            _Problem(
                name,
                f"`{name}` is the bare id, not the wire's identity wrapper.",
                f'Send the UUID itself: "{name}": {json.dumps(inner)}.',
                did_you_mean=inner,
            )
        )
        return inner
    if name in rules.flags and isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        flag = value.strip().lower() == "true"
        problems.append(
            _Problem(
                name,
                f"`{name}` must be a JSON boolean, got the string {value!r}.",
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
                fixed_item[key] = _repair_identity(fixed_item[key], f"{name}[{i}].{key}", problems)
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
                _Problem(
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
) -> tuple[dict[str, Any], list[_Problem]]:
    """Apply ``model.repairs`` to ``raw``: the repaired arguments and what was wrong."""
    rules = model.repairs
    fields = set(model.model_fields)
    problems: list[_Problem] = []
    repaired: dict[str, Any] = {}
    for key, given in raw.items():
        value: Any = given
        target = key
        if key not in fields:
            alias = rules.aliases.get(key)
            if alias is None or alias not in fields:
                problems.append(
                    _Problem(
                        key,
                        f"`{key}` is not an argument of this tool.",
                        f"Remove `{key}`; the arguments are: {', '.join(sorted(fields)) or 'none'}.",
                        valid_values=sorted(fields),
                    )
                )
                continue
            target = alias
            problems.append(
                _Problem(
                    key,
                    f"`{key}` is not an argument of this tool.",
                    f"Use `{alias}` instead of `{key}`"
                    + (
                        " (the tool maps it to the wire's identity keys)."
                        if alias in rules.identities
                        else "."
                    ),
                    did_you_mean=alias,
                )
            )
            if alias in rules.identities and key in {"job_id", "external_id", "external", "job_ref"}:
                value = _as_identity(value)
            if alias in rules.ids and isinstance(value, dict):
                value = cast("dict[str, Any]", value).get("id")
        if target in rules.identities:
            value = _repair_identity(value, target, problems)
        else:
            parsed: Any = _parse_json_text(value)
            if parsed is not value:
                shape = "array" if isinstance(parsed, list) else "object"
                problems.append(
                    _Problem(
                        target,
                        f"`{target}` was sent as a JSON string.",
                        f"Send `{target}` as a JSON {shape}, not a string.",
                    )
                )
                value = cast("Any", parsed)
            value = _repair_value(rules, target, value, problems)
        if target not in repaired:
            repaired[target] = value
    return repaired, problems


# --- pydantic's structured errors, in words ---------------------------------------------------

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
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(arguments)"


def _items(n: object) -> str:
    return "1 item" if n == 1 else f"{n} items"


def _chars(n: object) -> str:
    return "1 character" if n == 1 else f"{n} characters"


def _translate(err: ErrorDetails) -> _Problem:
    where = _loc(err)
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    got = err.get("input")
    if kind == "missing":
        return _Problem(
            where,
            f"`{where}` is required.",
            f"Add `{where}`; if you do not know its value, ask the person for it.",
        )
    if kind == "extra_forbidden":
        return _Problem(where, f"`{where}` is not accepted here.", f"Remove `{where}`.")
    if kind in _SHAPES:
        words, example = _SHAPES[kind]
        if kind == IDENTIFIER_SHAPE and isinstance(got, dict):
            values = [v for v in cast("dict[str, Any]", got).values() if isinstance(v, str)]
            guessed = classify_identifier(values[0]) if len(values) == 1 else None
            if guessed is not None:
                fix = f"Send `{where}` as {json.dumps(guessed)}."
                return _Problem(where, f"`{where}`: {words}.", fix)
            if len(values) == 1:
                return _Problem(
                    where,
                    f"`{where}`: {words}; {values[0][:40]!r} is neither a VIN (17 letters and digits, "
                    "no I, O or Q) nor a plate (1 to 8 letters and digits).",
                    f"Ask the person for the vehicle's VIN or plate and send `{where}` as {example}.",
                )
        return _Problem(where, f"`{where}`: {words}.", f"Send `{where}` as {example}.")
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        values = [v.strip().strip("'") for v in expected.replace(" or ", ",").split(",") if v.strip()]
        return _Problem(
            where,
            f"`{where}` must be one of {expected}.",
            f"Use one of: {', '.join(values)}.",
            valid_values=values,
        )
    if kind in _TYPE_WORDS:
        return _Problem(
            where,
            f"`{where}` must be {_TYPE_WORDS[kind]} (got {type(got).__name__}).",
            f"Send `{where}` as {_TYPE_WORDS[kind]}.",
        )
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
    if kind in bounds:
        bound, actual = bounds[kind]
        verb = "have" if kind in {"too_short", "too_long"} else "be"
        # Too few items or characters, or too many characters: only the person knows what to send.
        ask = {
            "too_short": "; ask the person for them if you do not know them",
            "string_too_short": "; ask the person for it if you do not know it",
            "string_too_long": "; ask the person for a shorter one",
        }.get(kind, "")
        return _Problem(where, f"`{where}` must {verb} {bound} ({actual}).", f"Send `{where}` {bound}{ask}.")
    if kind == "string_pattern_mismatch":
        return _Problem(
            where,
            f"`{where}` must match the pattern {ctx.get('pattern')}.",
            f"Send `{where}` matching {ctx.get('pattern')}.",
        )
    return _Problem(where, f"`{where}` is not valid ({kind}).", f"Fix `{where}` to match the input schema.")


_SUGGESTION: TypeAdapter[str | bool | Suggestion] = TypeAdapter(str | bool | Suggestion)


def _suggestion(value: Any) -> Any:
    """``did_you_mean`` only when it has the published shape (an echo can be anything)."""
    try:
        return _SUGGESTION.validate_python(value, strict=True) if value is not None else None
    except ValidationError:
        return None


#: Messages echo what the agent sent; a 100k-character argument must not come back as megabytes.
_MAX_MESSAGE, _MAX_FIX, _MAX_FIELD = 2000, 1000, 200


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
    translated: list[_Problem] = []
    for err in error.errors(include_url=False):
        problem = _translate(err)
        if problem not in translated:
            translated.append(problem)
    # A repaired field's own diagnosis beats the schema's (one line for external_id, say).
    repaired_roots = {_root(p.field) for p in problems}
    problems += [p for p in translated if _root(p.field) not in repaired_roots]
    first = (
        problems[0]
        if problems
        else _Problem("(arguments)", "The arguments do not fit.", "Follow the input schema.")
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


# --- type-directed repair: the whole argument tree, guided by the input model ----------------------
#
# After the table-driven pass above, every value is walked against its declared type: keys are
# matched by spelling (case, camelCase, known synonyms), values by shape (a single item where a
# list is due, an id in a wrapper, a number as text, a bound overstepped). The result is only a
# candidate: it becomes ``example_arguments`` only if the model then validates it (and, for
# anything the wire decides, if the tool's own check accepts it).

#: Synonyms agents use for argument names, by the name meant (applied when that name is a field).
_FIELD_SYNONYMS: dict[str, tuple[str, ...]] = {
    "job": ("job_identity", "identity", "job_ref", "job_reference", "repair_job"),
    "identifiers": ("vins", "identifier", "vehicles", "vehicle_identifiers", "ids", "plates"),
    "parts": ("part_list", "parts_list", "items", "part", "job_parts"),
    "offer_selections": ("offers", "selections", "selected_offers", "offer_selection", "items", "lines"),
    "repairer_site_id": ("site_id", "site", "repairer_site", "repairer_id", "business_id", "location_id"),
    "work_provider_id": ("insurer_id", "insurer", "work_provider", "provider_id", "insurance_id"),
    "claim_number": ("claim", "claim_no", "claim_id", "claim_ref"),
    "job_number": ("job_no", "job_card", "job_card_number"),
    "vehicle": ("car", "vehicle_details"),
    "procurement_id": ("procurement", "procurement_identity", "id", "pr_id", "order_id", "procurement_ref"),
    "invoice_id": ("invoice",),
    "dry_run": ("dryrun", "dry", "preview", "simulate"),
    "view": ("perspective", "as"),
    "sellable_id": ("offer_id", "sellable", "id", "offer", "offer_sellable_id"),
    "supplier_business_id": ("supplier_id", "supplier", "supplier_business", "business_id"),
    "job_part_ids": ("part_ids", "parts", "job_part_id", "part_id"),
    "quantity": ("qty", "count", "amount", "number"),
    "description": ("name", "desc", "part_name", "title"),
    "part_number": ("oem_number", "part_no", "oem", "sku", "oem_part_number"),
    "chassis_number": ("vin", "chassis", "vin_number"),
    "plate_number": ("plate", "rego", "registration", "vrm", "plate_no", "registration_number"),
    "plate_state": ("state", "region", "plate_region", "country"),
}

#: Literal values agents send for the ones meant.
_LITERAL_SYNONYMS: dict[str, str] = {
    "buyer": "repairer",
    "purchaser": "repairer",
    "repairer_view": "repairer",
    "seller": "supplier",
    "vendor": "supplier",
    "supplier_view": "supplier",
}

_VIN_RE = re.compile(r"[A-HJ-NPR-Z0-9]{17}")
_VRM_RE = re.compile(r"[A-Z0-9]{1,8}")
_VIN_KEYS = frozenset({"vin", "chassis", "chassis_number", "vin_number", "chassis_no", "vin_no"})
_VRM_KEYS = frozenset(
    {"vrm", "plate", "plate_number", "registration", "rego", "registration_number", "plate_no"}
)
_TRUE = frozenset({"true", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "off"})


def classify_identifier(value: str) -> dict[str, str] | None:
    """A vehicle identifier by its value: a valid VIN (17 of A-H J-N P R-Z 0-9) or a valid VRM (1–8
    letters and digits); None when it is neither, since then only the person knows."""
    text = value.strip().upper()
    if _VIN_RE.fullmatch(text):
        return {"vin": value.strip()}
    plate = re.sub(r"[\s-]", "", text)
    if _VRM_RE.fullmatch(plate):
        return {"vrm": value.strip()}
    return None


def _snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key.strip()).replace("-", "_").replace(" ", "_").lower()


@dataclass(frozen=True, slots=True)
class _Bounds:
    ge: int | None = None
    le: int | None = None
    min_len: int | None = None
    max_len: int | None = None


def _collect(meta: Any, into: dict[str, int]) -> None:
    for name, key in (("ge", "ge"), ("le", "le"), ("min_length", "min_len"), ("max_length", "max_len")):
        value = getattr(meta, name, None)
        if isinstance(value, int) and key not in into:
            into[key] = value
    for inner in getattr(meta, "metadata", None) or ():
        _collect(inner, into)


def _unwrap(tp: Any, meta: Sequence[Any] = ()) -> tuple[Any, _Bounds, bool]:
    """The core type behind ``Annotated`` and ``| None``, its bounds, and whether None is allowed."""
    found: dict[str, int] = {}
    for item in meta:
        _collect(item, found)
    optional = False
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            args = get_args(tp)
            for item in args[1:]:
                _collect(item, found)
            tp = args[0]
            continue
        if origin in (Union, UnionType):
            args = get_args(tp)
            kept = [a for a in args if a is not type(None)]
            optional = optional or len(kept) < len(args)
            if len(kept) == 1:
                tp = kept[0]
                continue
        break
    return tp, _Bounds(**found), optional


def _union_members(tp: Any) -> list[Any]:
    out: list[Any] = []
    for arg in get_args(tp):
        core, _, _ = _unwrap(arg)
        out.append(core)
    return out


_DROP = object()


def _match_key(key: str, fields: Mapping[str, Any], aliases: Mapping[str, str]) -> str | None:
    if key in fields:
        return key
    snake = _snake(key)
    if snake in fields:
        return snake
    for table_key, target in aliases.items():
        if target in fields and (key == table_key or snake == _snake(table_key)):
            return target
    for target, synonyms in _FIELD_SYNONYMS.items():
        if target in fields and snake in synonyms:
            return target
    close = difflib.get_close_matches(snake, list(fields), n=1, cutoff=0.85)
    return close[0] if close else None


#: The field a bare string stands for, when an object is due (``"Bonnet"`` → a part's description).
_BARE_STRING_FIELDS = ("description", "sellable_id")


def _from_bare_string(model: type[BaseModel], text: str) -> Any:
    fields = model.model_fields
    if "chassis_number" in fields and "plate_number" in fields:  # a vehicle given as its VIN or plate
        guessed = classify_identifier(text)
        if guessed is not None:
            return {"chassis_number" if "vin" in guessed else "plate_number": text.strip()}
    for name in _BARE_STRING_FIELDS:
        if name in fields:
            return {name: text}
    return text


def _repair_model(model: type[BaseModel], value: Any) -> Any:
    if isinstance(value, str):
        value = _parse_json_text(value)
    if isinstance(value, str):
        value = _from_bare_string(model, value)
    if isinstance(value, list) and len(cast("list[Any]", value)) == 1:
        value = cast("list[Any]", value)[0]
    if not isinstance(value, dict):
        return cast("Any", value)
    node = cast("dict[str, Any]", value)
    fields = model.model_fields
    aliases: Mapping[str, str] = model.repairs.aliases if issubclass(model, RepairableInput) else {}
    out: dict[str, Any] = {}
    for key, item in node.items():
        target = _match_key(key, fields, aliases)
        if target is None or (target in out and key != target):
            continue  # an unknown key (or a second spelling of one already given) is dropped
        info = fields[target]
        fixed = _repair_typed(info.annotation, info.metadata, item)
        if fixed is _DROP:
            continue
        if fixed is None and not info.is_required():
            continue  # an explicit null on an optional argument is the same as leaving it out
        out[target] = fixed
    for name, info in fields.items():
        if name not in out and info.is_required() and name == "quantity":
            out[name] = 1  # a part or an offer without a quantity is one of it
    return out


def _repair_identity_value(value: Any) -> Any:
    if isinstance(value, list) and len(cast("list[Any]", value)) == 1:
        value = cast("list[Any]", value)[0]
    value = _repair_identity(value, "job", [])
    if isinstance(value, dict):
        node = cast("dict[str, Any]", value)
        renamed: dict[str, Any] = {}
        for key, item in node.items():
            snake = _snake(key)
            if isinstance(item, list) and len(cast("list[Any]", item)) == 1:
                item = cast("list[Any]", item)[0]
            if snake in {"external", "external_id", "reference", "ref", "external_ref", "job_ref"}:
                renamed.setdefault("external", item)
            elif snake in {"id", "uuid", "job_id", "job_uuid"}:
                renamed.setdefault("id", item)
        if "external" in renamed and "id" in renamed:
            renamed = {"external": renamed["external"]}
        if renamed:
            value = _repair_identity(renamed, "job", [])
    if isinstance(value, dict) and set(cast("dict[str, Any]", value)) == {"external"}:
        ref = cast("dict[str, Any]", value)["external"]
        if isinstance(ref, int | float) and not isinstance(ref, bool):
            return cast("Any", value)  # a bare number could be a job number, a claim or a reference: ask
    return cast("Any", value)


def _repair_identifier(value: Any) -> Any:
    """``{"chassis": "<VIN>"}`` → ``{"vin": …}``; a bare valid VIN or VRM → its object; a value that is
    neither a VIN nor a VRM stays as sent (the error then says what the person must supply)."""
    if isinstance(value, str):
        parsed = _parse_json_text(value)
        if parsed is not value:
            return _repair_identifier(parsed)
        return classify_identifier(value) or value
    if not isinstance(value, dict):
        return value
    node = cast("dict[str, Any]", value)
    found: list[dict[str, str]] = []
    for key, item in node.items():
        if not isinstance(item, str):
            continue
        snake = _snake(key)
        if snake in {"vin", "vrm"}:
            found.append({snake: item})
        elif snake in _VIN_KEYS or snake in _VRM_KEYS:
            guessed = classify_identifier(item)
            if guessed is None:
                return cast("Any", value)
            found.append(guessed)
    if not found:
        return cast("Any", value)
    return found[0] if len(found) == 1 else found


def _scalar(core: Any, bounds: _Bounds, value: Any) -> Any:
    if core is UUID:
        if isinstance(value, str) and len(value) > 1 and value.strip()[:1] == value.strip()[-1:] == '"':
            value = value.strip()[1:-1]  # a UUID JSON-encoded twice
        if isinstance(value, str):
            value = _parse_json_text(value)
        if isinstance(value, dict) and len(cast("dict[str, Any]", value)) == 1:
            value = next(iter(cast("dict[str, Any]", value).values()))
        if isinstance(value, list) and len(cast("list[Any]", value)) == 1:
            value = cast("list[Any]", value)[0]
        return value.strip() if isinstance(value, str) else cast("Any", value)
    if core is bool:
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
            return bool(value)
        return value
    if core is int:
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if bounds.ge is not None and value < bounds.ge:
                value = bounds.ge
            if bounds.le is not None and value > bounds.le:
                value = bounds.le
        return value
    if core is str:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value
    if get_origin(core) is Literal and isinstance(value, str):
        allowed = [a for a in get_args(core) if isinstance(a, str)]
        text = _snake(value)
        for option in allowed:
            if option.lower() == text:
                return option
        synonym = _LITERAL_SYNONYMS.get(text)
        if synonym in allowed:
            return synonym
        return value
    return value


def _repair_typed(annotation: Any, meta: Sequence[Any], value: Any) -> Any:
    core, bounds, _ = _unwrap(annotation, meta)
    members = _union_members(core) if get_origin(core) in (Union, UnionType) else []
    if any(m is ExternalIdentity or m is IdIdentity for m in members):
        return _repair_identity_value(value)
    if any(m is VinIdentifier or m is VrmIdentifier for m in members):
        return _repair_identifier(value)
    if isinstance(core, type) and issubclass(core, BaseModel):
        return _repair_model(core, value)
    if get_origin(core) is list:
        (item_type,) = get_args(core) or (Any,)
        if isinstance(value, str):
            parsed = _parse_json_text(value)
            # A list sent as text: JSON, or items separated by commas.
            value = parsed if parsed is not value else [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            return value
        items: list[Any] = []
        for raw_item in cast("list[Any]", value):
            fixed: Any = _repair_typed(item_type, (), raw_item)
            spread: list[Any] = (
                cast("list[Any]", fixed) if isinstance(fixed, list) and _is_identifier(item_type) else [fixed]
            )
            for one in spread:
                if one not in items:  # an exact repeat adds nothing
                    items.append(one)
        if bounds.max_len is not None and len(items) > bounds.max_len:
            items = items[: bounds.max_len]
        if bounds.min_len is not None and len(items) < bounds.min_len:
            return _DROP if _optional(annotation) else items
        return items
    return _scalar(core, bounds, value)


def _is_identifier(tp: Any) -> bool:
    core, _, _ = _unwrap(tp)
    return any(m is VinIdentifier or m is VrmIdentifier for m in _union_members(core))


def _optional(annotation: Any) -> bool:
    return _unwrap(annotation)[2]


def deep_repair(model: type[BaseModel], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """``arguments`` walked against ``model``'s declared types; a candidate, not a promise."""
    fixed = _repair_model(model, dict(arguments))
    return cast("dict[str, Any]", fixed) if isinstance(fixed, dict) else dict(arguments)
