"""Enriched, self-correcting tool errors (SPEC §3).

Every failure a tool can meet — arguments that do not fit, a guard refusal, a coded wire
error, a transport fault — becomes one :class:`ToolErrorInfo`: what was wrong, the exact
fix in one sentence, whether retrying can help, and where possible the field, the valid
values, a did-you-mean and ``example_arguments`` that succeed when replayed. Never a
traceback, never a secret: messages are built here from codes and field names only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from rails_mcp.guard import GuardRefusal
from rails_mcp.wire.errors import (
    MalformedResponse,
    RailsAPIError,
    RailsError,
    RailsTransportError,
)

__all__ = [
    "ToolErrorInfo",
    "ToolFailure",
    "WireContext",
    "arguments_error",
    "internal_error",
    "refusal_error",
    "repair_arguments",
    "wire_error",
]


class ToolErrorInfo(BaseModel):
    """The ``error`` object of a failed tool result (SPEC §3)."""

    model_config = ConfigDict(extra="forbid")

    code: str
    message: str
    fix: str
    retryable: bool
    http_status: int | None = None
    wire_method: str | None = None
    field: str | None = None
    valid_values: list[str] | None = None
    did_you_mean: Any = None
    next_tool: str | None = None
    example_arguments: dict[str, Any] | None = None

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class ToolFailure(Exception):
    """Raised inside a tool to end it with an enriched error result."""

    def __init__(self, info: ToolErrorInfo) -> None:
        super().__init__(info.message)
        self.info = info


# --- wire errors ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WireContext:
    """What the tool knows that the wire code alone does not say."""

    tool: str
    #: What ``not_found`` means for this call, and the sentence that fixes it.
    not_found: str | None = None
    not_found_fix: str | None = None
    not_found_next_tool: str | None = None
    unprocessable_fix: str | None = None
    example_arguments: dict[str, Any] | None = None
    #: Which configured credential the call used: a refused supplier key needs its own fix.
    credential: str = "repairer"


_WIRE_FIXES: dict[str, tuple[str, str | None]] = {
    "bad_request": (
        "Send the arguments exactly as this tool's input schema describes them.",
        None,
    ),
    "unauthorized": (
        "The Rails credential was refused: set RAILS_API_KEY and RAILS_INTEGRATION_ID (or run "
        "`rails-mcp install`) and restart the server.",
        None,
    ),
    "forbidden": (
        "The credential has the wrong role for this call: repairer calls need the repairer "
        "credential, confirmations need RAILS_SUPPLIER_API_KEY / RAILS_SUPPLIER_INTEGRATION_ID.",
        None,
    ),
    "work_provider_not_found": (
        "Use an id from list_work_providers, or omit work_provider_id for a cash job.",
        "list_work_providers",
    ),
    "unprocessable": (
        "Re-read the current state (get_repair_job, list_parts, recommend_basket) and retry with "
        "values taken from it.",
        None,
    ),
    "invalid_access_code": (
        "The access code is spent or wrong; get a fresh one (or use another tenant).",
        None,
    ),
    "invalid_client_secret": ("Check the OAuth client secret.", None),
    "integration_not_found": ("Check the OAuth client id.", None),
    "o_auth_not_supported_by_integration": (
        "This client cannot install by OAuth; use its api_key directly.",
        None,
    ),
}


def wire_error(exc: RailsError, ctx: WireContext) -> ToolErrorInfo:
    """Map a wire exception to the enriched error the agent reads."""
    if isinstance(exc, RailsTransportError):
        return ToolErrorInfo(
            code=exc.code,
            message=f"The Rails API did not answer {exc.method or 'the call'} ({exc.message}).",
            fix="Retry the same call in a few seconds.",
            retryable=True,
            wire_method=exc.method,
        )
    if isinstance(exc, MalformedResponse):
        return ToolErrorInfo(
            code=exc.code,
            message=f"The Rails API answered {exc.method} with something that is not the contract.",
            fix="Retry the same call in a few seconds; if it persists the server is misbehaving.",
            retryable=True,
            http_status=exc.http_status,
            wire_method=exc.method,
        )
    if not isinstance(exc, RailsAPIError):
        return internal_error(ctx.tool)
    code = exc.wire_code
    message = f"The Rails API answered {exc.method} with {code} (HTTP {exc.status})."
    fix, next_tool = _WIRE_FIXES.get(code, ("Check the arguments and retry.", None))
    example = None
    if code == "not_found":
        message = ctx.not_found or message
        fix = ctx.not_found_fix or "Check the id or reference; it does not exist for this credential."
        next_tool = ctx.not_found_next_tool
    elif code == "unprocessable" and ctx.unprocessable_fix:
        fix = ctx.unprocessable_fix
    elif code == "unauthorized" and (
        ctx.credential == "supplier" or (exc.method or "").startswith("supplier.")
    ):
        fix = (
            "The supplier credential was refused: set RAILS_SUPPLIER_API_KEY and "
            "RAILS_SUPPLIER_INTEGRATION_ID and restart the server."
        )
    if code in {"not_found", "unprocessable", "work_provider_not_found", "bad_request"}:
        example = ctx.example_arguments
    if exc.retryable:
        fix = "Retry the same call in a few seconds."
    return ToolErrorInfo(
        code=code,
        message=message,
        fix=fix,
        retryable=exc.retryable,
        http_status=exc.status,
        wire_method=exc.method,
        next_tool=next_tool,
        example_arguments=example,
    )


def refusal_error(refusal: GuardRefusal, example_arguments: dict[str, Any] | None) -> ToolErrorInfo:
    return ToolErrorInfo(
        code=refusal.code,
        message=f"Refused before the wire; nothing was written: {refusal.message}",
        fix=refusal.fix,
        retryable=False,
        field=refusal.field,
        valid_values=refusal.valid_values,
        next_tool="recommend_basket" if example_arguments is None else "place_procurement",
        example_arguments=example_arguments,
    )


def internal_error(tool: str) -> ToolErrorInfo:
    return ToolErrorInfo(
        code="internal_error",
        message=f"{tool} failed unexpectedly inside rails-mcp; nothing about the cause is exposed.",
        fix="Retry once; if it fails again, read the server's log.",
        retryable=True,
    )


# --- arguments that do not fit ------------------------------------------------------------

#: Keys agents really send, and the argument they meant.
_TOP_LEVEL_ALIASES: dict[str, str] = {
    "job_identity": "job",
    "identity": "job",
    "job_id": "job",
    "external_id": "job",
    "external": "job",
    "job_ref": "job",
    "jobIdentity": "job",
    "procurement": "procurement_id",
    "procurement_identity": "procurement_id",
    "procurementId": "procurement_id",
    "offers": "offer_selections",
    "selections": "offer_selections",
    "selected_offers": "offer_selections",
    "offerSelections": "offer_selections",
    "invoice": "invoice_id",
    "invoiceId": "invoice_id",
    "dryRun": "dry_run",
    "site_id": "repairer_site_id",
    "repairerSiteId": "repairer_site_id",
    "insurer_id": "work_provider_id",
    "work_provider": "work_provider_id",
    "workProviderId": "work_provider_id",
    "vins": "identifiers",
    "identifier": "identifiers",
    "part_list": "parts",
}

_IDENTITY_ALIASES = {"external_id": "external", "externalId": "external", "uuid": "id"}
_IDENTITY_FIELDS = {"job", "identity"}


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
                where,
                f"`{where}` was sent as a JSON string.",
                f"Send `{where}` as an object, not a string.",
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
    renamed: dict[str, Any] = {_IDENTITY_ALIASES.get(k, k): v for k, v in node.items()}
    for old, new in _IDENTITY_ALIASES.items():
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


def _json_shape(value: object) -> str:
    return "array" if isinstance(value, list) else "object"


def repair_arguments(model: type[BaseModel], raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[_Problem]]:
    """Undo the mistakes agents make most (wire key names, JSON strings, bare references)."""
    fields = set(model.model_fields)
    problems: list[_Problem] = []
    repaired: dict[str, Any] = {}
    for key, value in raw.items():
        target = key
        if key not in fields:
            alias = _TOP_LEVEL_ALIASES.get(key)
            if alias in fields:
                target = alias
                problems.append(
                    _Problem(
                        key,
                        f"`{key}` is not an argument of this tool.",
                        f"Use `{alias}` instead of `{key}`"
                        + (" (the tool maps it to the wire's identity keys)." if alias == "job" else "."),
                        did_you_mean=alias,
                    )
                )
                if alias == "job" and key in {"job_id", "external_id", "external", "job_ref"}:
                    value = _as_identity(value)
                if alias in {"procurement_id", "invoice_id"} and isinstance(value, dict):
                    value = cast("dict[str, Any]", value).get("id")
            else:
                problems.append(
                    _Problem(
                        key,
                        f"`{key}` is not an argument of this tool.",
                        f"Remove `{key}`; the arguments are: {', '.join(sorted(fields)) or 'none'}.",
                        valid_values=sorted(fields),
                    )
                )
                continue
        if target in fields and target in _IDENTITY_FIELDS:
            value = _repair_identity(value, target, problems)
        elif target in fields:
            parsed: Any = _parse_json_text(value)
            if parsed is not value:
                shape = _json_shape(parsed)
                problems.append(
                    _Problem(
                        target,
                        f"`{target}` was sent as a JSON string.",
                        f"Send `{target}` as a JSON {shape}, not a string.",
                    )
                )
                value = parsed
            value = _repair_nested(target, value, problems)
        if target in repaired:
            continue
        repaired[target] = value
    return repaired, problems


def _repair_nested(field: str, value: Any, problems: list[_Problem]) -> Any:
    """Fix the nested mistakes: wire key names in part identities, bare VIN strings,
    an id sent in the wire's ``{"id": …}`` wrapper, a boolean sent as a string."""
    if field.endswith("_id") and isinstance(value, dict) and set(cast("dict[str, Any]", value)) == {"id"}:
        inner: Any = cast("dict[str, Any]", value)["id"]
        problems.append(
            _Problem(
                field,
                f"`{field}` is the bare id, not the wire's identity wrapper.",
                f'Send the UUID itself: "{field}": {json.dumps(inner)}.',
                did_you_mean=inner,
            )
        )
        return inner
    if field == "dry_run" and isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        flag = value.strip().lower() == "true"
        problems.append(
            _Problem(
                field,
                f"`{field}` must be a JSON boolean, got the string {value!r}.",
                f'Send "{field}": {json.dumps(flag)} (no quotes).',
                did_you_mean=flag,
            )
        )
        return flag
    if field == "parts" and isinstance(value, list):
        out: list[Any] = []
        for i, item in enumerate(cast("list[Any]", value)):
            if isinstance(item, dict) and "identity" in item:
                part = dict(cast("dict[str, Any]", item))
                part["identity"] = _repair_identity(part["identity"], f"parts[{i}].identity", problems)
                out.append(part)
            else:
                out.append(item)
        return out
    if field == "identifiers" and isinstance(value, list):
        items: list[Any] = cast("list[Any]", value)
        if any(isinstance(v, str) for v in items):
            fixed = [
                {"vin": v} if isinstance(v, str) and len(v) == 17 else {"vrm": v} if isinstance(v, str) else v
                for v in items
            ]
            problems.append(
                _Problem(
                    "identifiers",
                    "`identifiers` items must be objects, not bare strings.",
                    'Send each as {"vin": "<17 chars>"} or {"vrm": "<plate>"}.',
                    did_you_mean=fixed[:3],
                )
            )
            return fixed
    return cast("Any", value)


_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "true or false",
    "list_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "uuid_type": "a UUID string",
    "uuid_parsing": "a UUID string such as 0d000000-0000-4000-8000-000000000001",
    "int_parsing": "an integer",
    "bool_parsing": "true or false",
}


def _loc(err: ErrorDetails) -> str:
    parts: list[str] = []
    for item in err["loc"]:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif (
            item in {"ExternalIdentity", "IdIdentity", "VinIdentifier", "VrmIdentifier"} or item[:1].isupper()
        ):
            continue
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(arguments)"


def _translate(err: ErrorDetails) -> _Problem:
    where = _loc(err)
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return _Problem(where, f"`{where}` is required.", f"Add `{where}`.")
    if kind == "extra_forbidden":
        return _Problem(where, f"`{where}` is not accepted here.", f"Remove `{where}`.")
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
        got = type(err.get("input")).__name__
        return _Problem(
            where,
            f"`{where}` must be {_TYPE_WORDS[kind]} (got {got}).",
            f"Send `{where}` as {_TYPE_WORDS[kind]}.",
        )
    if kind in {"too_short", "too_long"}:
        return _Problem(
            where,
            f"`{where}` has the wrong number of items ({kind.replace('_', ' ')}).",
            f"Send between {ctx.get('min_length', 1)} and "
            f"{ctx.get('max_length', 'the allowed number of')} items.",
        )
    if kind in {"greater_than_equal", "less_than_equal", "string_too_short", "string_too_long"}:
        return _Problem(where, f"`{where}` is out of range.", f"Send `{where}` within its limits ({kind}).")
    return _Problem(where, f"`{where}` is not valid ({kind}).", f"Fix `{where}` to match the input schema.")


def _branch_at(loc: tuple[int | str, ...]) -> int | None:
    """Where a union variant's tag (a model name such as ``ExternalIdentity``) sits in ``loc``."""
    for i, item in enumerate(loc):
        if isinstance(item, str) and item[:1].isupper():
            return i
    return None


def _closest_branches(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Of a union's failed variants, keep only the errors of the one(s) the input came closest to.

    ``{"external": 4817}`` fails both identity variants; reporting the ``{"id"}`` variant's
    "id is required, external is not accepted" would tell the agent to drop the right key.
    The closest variant has the fewest missing or unexpected keys, then the fewest errors.
    """
    scores: dict[tuple[int | str, ...], dict[str, tuple[int, int]]] = {}
    for err in errors:
        at = _branch_at(err["loc"])
        if at is None:
            continue
        branches = scores.setdefault(err["loc"][:at], {})
        structural, total = branches.get(str(err["loc"][at]), (0, 0))
        structural += err["type"] in {"missing", "extra_forbidden"}
        branches[str(err["loc"][at])] = (structural, total + 1)
    kept: list[ErrorDetails] = []
    for err in errors:
        at = _branch_at(err["loc"])
        if at is None:
            kept.append(err)
            continue
        branches = scores[err["loc"][:at]]
        if branches[str(err["loc"][at])] == min(branches.values()):
            kept.append(err)
    return kept


#: Messages echo what the agent sent; a 100k-character argument must not come back as megabytes.
_MAX_MESSAGE, _MAX_FIX, _MAX_FIELD = 2000, 1000, 200


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _root(field: str) -> str:
    return field.split(".", 1)[0].split("[", 1)[0]


def arguments_error(
    tool: str,
    model: type[BaseModel],
    raw: Mapping[str, Any],
    error: ValidationError,
) -> ToolErrorInfo:
    """Explain why ``raw`` does not fit ``model``, with a replayable correction when we can make one."""
    repaired, problems = repair_arguments(model, raw)
    translated: list[_Problem] = []
    for err in _closest_branches(error.errors(include_url=False)):
        problem = _translate(err)
        if problem not in translated:
            translated.append(problem)
    # A repaired field's own diagnosis beats the schema's (e.g. one line for external_id, not
    # one per identity variant).
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
    return ToolErrorInfo(
        code="invalid_arguments",
        message=_clip(message, _MAX_MESSAGE),
        fix=_clip(first.fix, _MAX_FIX),
        retryable=False,
        field=_clip(first.field, _MAX_FIELD),
        valid_values=first.valid_values,
        did_you_mean=first.did_you_mean,
        example_arguments=example,
    )
