"""Type-directed repair: the whole argument tree walked against the input model.

Every value is walked against its declared type: keys are matched by spelling (case, camelCase,
the model's aliases), values by shape (a single item where a list is due, an id in a wrapper, a
number as text, a bound overstepped). The result is only a candidate: it becomes
``example_arguments`` only if the model then validates it (and, for anything the wire decides,
if the tool's own probe accepts it).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, Literal, Union, cast, get_args, get_origin
from uuid import UUID

from pydantic import BaseModel

from rails_mcp.errors.inputs import (
    RepairableInput,
    Repairs,
    classify_identifier,
    parse_json_text,
    repair_identity,
)
from rails_mcp.wire.models import ExternalIdentity, IdIdentity, VinIdentifier, VrmIdentifier

__all__ = ["deep_repair", "identifier_key", "match_key"]

_VIN_KEYS = frozenset({"vin", "chassis", "chassis_number", "vin_number", "chassis_no", "vin_no"})
_VRM_KEYS = frozenset(
    {"vrm", "plate", "plate_number", "registration", "rego", "registration_number", "plate_no"}
)
_TRUE = frozenset({"true", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "off"})


def _snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key.strip()).replace("-", "_").replace(" ", "_").lower()


def identifier_key(key: str) -> str | None:
    """``vin`` or ``vrm`` when an argument named ``key`` holds a vehicle identifier of that kind."""
    snake = _snake(key)
    return "vin" if snake in _VIN_KEYS else "vrm" if snake in _VRM_KEYS else None


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
_NO_LITERALS: Mapping[str, str] = {}


def match_key(key: str, fields: Collection[str], aliases: Mapping[str, str]) -> str | None:
    """The argument ``key`` names: as sent, in snake case, by the model's other names for its
    arguments, or by a close spelling; None when it names none."""
    if key in fields:
        return key
    snake = _snake(key)
    if snake in fields:
        return snake
    for table_key, target in aliases.items():
        if target in fields and (key == table_key or snake == _snake(table_key)):
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
        value = parse_json_text(value)
    if isinstance(value, str):
        value = _from_bare_string(model, value)
    if isinstance(value, list) and len(cast("list[Any]", value)) == 1:
        value = cast("list[Any]", value)[0]
    if not isinstance(value, dict):
        return cast("Any", value)
    node = cast("dict[str, Any]", value)
    fields = model.model_fields
    rules = model.repairs if issubclass(model, RepairableInput) else Repairs()
    out: dict[str, Any] = {}
    for key, item in node.items():
        target = match_key(key, fields, rules.aliases)
        if target is None or (target in out and key != target):
            continue  # an unknown key (or a second spelling of one already given) is dropped
        info = fields[target]
        fixed = _repair_typed(info.annotation, info.metadata, item, rules.literals)
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
    value = repair_identity(value, "job", [])
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
            value = repair_identity(renamed, "job", [])
    if isinstance(value, dict) and set(cast("dict[str, Any]", value)) == {"external"}:
        ref = cast("dict[str, Any]", value)["external"]
        if isinstance(ref, int | float) and not isinstance(ref, bool):
            return cast("Any", value)  # a bare number could be a job number, a claim or a reference: ask
    return cast("Any", value)


def _repair_identifier(value: Any) -> Any:
    """``{"chassis": "<VIN>"}`` → ``{"vin": …}``; a bare valid VIN or VRM → its object; a value that is
    neither a VIN nor a VRM stays as sent (the error then says what the person must supply)."""
    if isinstance(value, str):
        parsed = parse_json_text(value)
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


def _scalar(core: Any, bounds: _Bounds, value: Any, literals: Mapping[str, str]) -> Any:
    if core is UUID:
        return _uuid_value(value)
    if core is bool:
        return _bool_value(value)
    if core is int:
        return _int_value(value, bounds)
    if core is str:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value
    if get_origin(core) is Literal and isinstance(value, str):
        return _literal_value(core, value, literals)
    return value


def _uuid_value(value: Any) -> Any:
    """A UUID sent JSON-encoded twice, or wrapped in a one-key object or a one-item list."""
    if isinstance(value, str) and len(value) > 1 and value.strip()[:1] == value.strip()[-1:] == '"':
        value = value.strip()[1:-1]  # a UUID JSON-encoded twice
    if isinstance(value, str):
        value = parse_json_text(value)
    if isinstance(value, dict) and len(cast("dict[str, Any]", value)) == 1:
        value = next(iter(cast("dict[str, Any]", value).values()))
    if isinstance(value, list) and len(cast("list[Any]", value)) == 1:
        value = cast("list[Any]", value)[0]
    return value.strip() if isinstance(value, str) else cast("Any", value)


def _bool_value(value: Any) -> Any:
    """A boolean spelled as a word ("yes", "false") or as 0/1."""
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    return value


def _int_value(value: Any, bounds: _Bounds) -> Any:
    """An integer sent as digits or as a whole float, clamped into its declared bounds."""
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


def _literal_value(core: Any, value: str, literals: Mapping[str, str]) -> str:
    """The allowed option ``value`` names, in any case or as a known synonym."""
    allowed = [a for a in get_args(core) if isinstance(a, str)]
    text = _snake(value)
    for option in allowed:
        if option.lower() == text:
            return option
    synonym = literals.get(text)
    if synonym in allowed:
        return synonym
    return value


def _repair_typed(
    annotation: Any, meta: Sequence[Any], value: Any, literals: Mapping[str, str] = _NO_LITERALS
) -> Any:
    core, bounds, _ = _unwrap(annotation, meta)
    members = _union_members(core) if get_origin(core) in (Union, UnionType) else []
    if any(m is ExternalIdentity or m is IdIdentity for m in members):
        return _repair_identity_value(value)
    if any(m is VinIdentifier or m is VrmIdentifier for m in members):
        return _repair_identifier(value)
    if isinstance(core, type) and issubclass(core, BaseModel):
        return _repair_model(core, value)
    if get_origin(core) is list:
        return _repair_list(annotation, core, bounds, value, literals)
    return _scalar(core, bounds, value, literals)


def _repair_list(annotation: Any, core: Any, bounds: _Bounds, value: Any, literals: Mapping[str, str]) -> Any:
    """Each item repaired; a list sent as text or as one object made a list; cut to its bounds."""
    (item_type,) = get_args(core) or (Any,)
    if isinstance(value, str):
        parsed = parse_json_text(value)
        # A list sent as text: JSON, or items separated by commas.
        value = parsed if parsed is not value else [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return value
    items: list[Any] = []
    for raw_item in cast("list[Any]", value):
        fixed: Any = _repair_typed(item_type, (), raw_item, literals)
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


def _is_identifier(tp: Any) -> bool:
    core, _, _ = _unwrap(tp)
    return any(m is VinIdentifier or m is VrmIdentifier for m in _union_members(core))


def _optional(annotation: Any) -> bool:
    return _unwrap(annotation)[2]


def deep_repair(model: type[BaseModel], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """``arguments`` walked against ``model``'s declared types; a candidate, not a promise."""
    fixed = _repair_model(model, dict(arguments))
    return cast("dict[str, Any]", fixed) if isinstance(fixed, dict) else dict(arguments)
