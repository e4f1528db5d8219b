"""What every tool input declares it can repair, and the repairs of the identity wrapper.

An input model carries a :class:`Repairs` table (its one table of other names for its arguments,
and which arguments are identity wrappers, bare ids, flags); the passes that use it
(``repair`` for the sentences, ``reshape`` for the corrected call) share the primitives here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from rails_mcp.wire.untrusted import quote, safe_json

__all__ = [
    "IDENTIFIER_SHAPE",
    "IDENTITY_SHAPE",
    "Problem",
    "RepairableInput",
    "Repairs",
    "as_identity",
    "classify_identifier",
    "parse_json_text",
    "repair_identity",
]

#: Custom error types raised by the tagged identity unions (see the input models).
IDENTITY_SHAPE = "identity_shape"
IDENTIFIER_SHAPE = "identifier_shape"


@dataclass(frozen=True, slots=True)
class Repairs:
    """What an input model lets the engine fix before explaining."""

    #: A key agents send → the argument they meant: the model's one table of other names, used
    #: as sent (with a sentence naming the argument) and by spelling (camelCase, case).
    aliases: Mapping[str, str] = field(default_factory=dict[str, str])
    #: A value agents send for a literal argument → the value they meant (``"buyer"`` → ``"repairer"``).
    literals: Mapping[str, str] = field(default_factory=dict[str, str])
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
_VIN_RE = re.compile(r"[A-HJ-NPR-Z0-9]{17}")
_VRM_RE = re.compile(r"[A-Z0-9]{1,8}")


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake in the arguments: where, what is wrong, and the fix, in words."""

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


def as_identity(value: Any) -> Any:
    """A bare string as the identity wrapper it stands for: a UUID as ``id``, else ``external``."""
    if isinstance(value, str):
        return {"id": value} if _looks_like_uuid(value) else {"external": value}
    return value


def parse_json_text(value: Any) -> Any:
    """An object or array an agent sent as a JSON string, parsed; anything else unchanged."""
    if isinstance(value, str) and value.strip()[:1] in {"{", "["}:
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def repair_identity(value: Any, where: str, problems: list[Problem]) -> Any:
    """An identity wrapper as sent (text, a bare string, wrapped twice, wire key names) repaired,
    each mistake noted in ``problems``."""
    parsed = parse_json_text(value)
    if parsed is not value:
        problems.append(
            Problem(
                where, f"`{where}` was sent as a JSON string.", f"Send `{where}` as an object, not a string."
            )
        )
        value = parsed
    if isinstance(value, str):
        fixed = as_identity(value)
        problems.append(
            Problem(
                where,
                f"`{where}` must be an object, got the bare string {quote(value, 80)}.",
                f'Wrap it: "{where}": {safe_json(json.dumps(fixed))}.',
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
            Problem(
                where,
                f"`{where}` wraps another identity object.",
                f'Send the identity itself: "{where}": {safe_json(json.dumps(inner))}.',
                did_you_mean=inner,
            )
        )
        if isinstance(inner, dict):
            node = cast("dict[str, Any]", inner)
    return _repair_wrapper_keys(node, where, problems)


def _repair_wrapper_keys(node: dict[str, Any], where: str, problems: list[Problem]) -> Any:
    """The wrapper's keys renamed to the wire's, a reference sent as ``id`` moved to ``external``,
    and of both keys only ``external`` kept."""
    renamed: dict[str, Any] = {_IDENTITY_KEY_ALIASES.get(k, k): v for k, v in node.items()}
    for old, new in _IDENTITY_KEY_ALIASES.items():
        if old in node:
            problems.append(
                Problem(
                    f"{where}.{old}",
                    f"`{where}.{old}` is not a key of the identity wrapper.",
                    f'The key is `{new}`, not `{old}`: "{where}": {safe_json(json.dumps(renamed))}.',
                    did_you_mean=new,
                )
            )
    ident = renamed.get("id")
    if set(renamed) == {"id"} and isinstance(ident, str) and not _looks_like_uuid(ident):
        fixed = {"external": ident}
        problems.append(
            Problem(
                f"{where}.id",
                f"`{where}.id` must be a UUID; {quote(ident, 80)} looks like your own reference.",
                f'Send your own reference under `external`: "{where}": {safe_json(json.dumps(fixed))}.',
                did_you_mean=fixed,
            )
        )
        return fixed
    if "external" in renamed and "id" in renamed:
        problems.append(
            Problem(
                where,
                f"`{where}` has both `external` and `id`; exactly one is allowed.",
                f'Send only one: "{where}": {safe_json(json.dumps({"external": renamed["external"]}))}.',
            )
        )
        return {"external": renamed["external"]}
    return renamed


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
