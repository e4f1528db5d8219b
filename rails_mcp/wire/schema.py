"""JSON Schema from the pydantic models: the one place that generates and rewrites schemas.

pydantic generates every schema; the rewrites here say what each reader needs. The sandbox's
OpenAPI documents keep named components and the wire's ``oneOf`` (:class:`WireSchema`); the
tools publish self-contained schemas for agents: references written out, titles gone
(:func:`compact_schema` for arguments), and outputs cut to their shape (:func:`lean`,
:func:`inline_single_use`). It lives beside the models because the sandbox may import only
the wire.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from typing import Any, cast

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema

__all__ = ["WireSchema", "compact_schema", "inline_refs", "inline_single_use", "lean", "ref_counts"]


class WireSchema(GenerateJsonSchema):
    """pydantic's generator, adjusted to say what the wire says.

    Unions of objects are ``oneOf`` (the identity wrappers are "exactly one key").
    """

    def union_schema(self, schema: core_schema.UnionSchema) -> dict[str, Any]:
        generated = super().union_schema(schema)
        choices: object = generated.get("anyOf")
        if isinstance(choices, list) and all(map(_is_ref, cast("list[object]", choices))):
            generated["oneOf"] = generated.pop("anyOf")
        return generated


def _is_ref(schema: object) -> bool:
    return isinstance(schema, dict) and "$ref" in schema


def ref_counts(node: Any) -> Counter[str]:
    """How often each ``$ref`` target is referred to anywhere in ``node``."""
    counts: Counter[str] = Counter()

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            for key, value in cast("dict[str, Any]", item).items():
                if key == "$ref" and isinstance(value, str):
                    counts[value] += 1
                else:
                    walk(value)
        elif isinstance(item, list):
            for value in cast("list[Any]", item):
                walk(value)

    walk(node)
    return counts


def inline_refs(node: Any, defs: Mapping[str, Any], only: Collection[str] | None = None) -> Any:
    """``node`` with each ``$ref`` to ``defs`` (to the names in ``only``, when given) written out
    where it stands; the referenced model's own description gives way to the field's."""
    if isinstance(node, list):
        return [inline_refs(v, defs, only) for v in cast("list[Any]", node)]
    if not isinstance(node, dict):
        return node
    items = cast("dict[str, Any]", node)
    ref = items.get("$ref")
    name = ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None
    rest = {k: inline_refs(v, defs, only) for k, v in items.items() if k != "$ref" or name is None}
    if name is None or (only is not None and name not in only):
        return {**rest, "$ref": ref} if name is not None else rest
    target = cast("dict[str, Any]", inline_refs(defs[name], defs, only))
    return {**{k: v for k, v in target.items() if k != "description"}, **rest}


def compact_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema, cut down for ``tools/list``: fewer tokens, same contract.

    ``$ref`` is inlined, titles go, a tagged union's ``oneOf`` is published as ``anyOf`` (its
    branches are disjoint by key), an optional field's ``anyOf: [X, null]`` with
    ``default: null`` becomes plain ``X`` (omitting it says "none"), and a union of one-key
    objects (an identity, a vehicle identifier) becomes one object taking exactly one of the keys.
    """
    schema = model.model_json_schema()
    defs = cast("dict[str, Any]", schema.pop("$defs", {}))

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in cast("list[Any]", node)]
        if not isinstance(node, dict):
            return node
        items = cast("dict[str, Any]", node)
        out = {
            ("anyOf" if k == "oneOf" else k): walk(v)
            for k, v in items.items()
            if not (k == "title" and isinstance(v, str))
        }
        variants = out.get("anyOf")
        if isinstance(variants, list) and "default" in out and out["default"] is None:
            kept = [v for v in cast("list[Any]", variants) if v != {"type": "null"}]
            if len(kept) < len(cast("list[Any]", variants)):
                del out["default"]
                del out["anyOf"]
                out = {**kept[0], **out} if len(kept) == 1 else {"anyOf": kept, **out}
        merged = _one_of_keys(out.get("anyOf"))
        if merged is not None:
            out = {**merged, **{k: v for k, v in out.items() if k != "anyOf"}}
        return out

    result = cast("dict[str, Any]", walk(inline_refs(schema, defs)))
    result.pop("description", None)
    result["additionalProperties"] = False
    return result


#: The whole of a branch ``{"key": …}`` that :func:`_one_of_keys` merges.
_ONE_KEY_BRANCH = {"type", "properties", "required", "additionalProperties"}


def _one_of_keys(variants: Any) -> dict[str, Any] | None:
    """Branches that are each a closed object of one required key, as one closed object taking
    exactly one of those keys: the same values are valid, in a third fewer tokens (this is
    written on every tool that names a job). None when the branches are anything else."""
    if not isinstance(variants, list) or len(cast("list[Any]", variants)) < 2:
        return None
    keys: dict[str, Any] = {}
    for branch in cast("list[Any]", variants):
        if not isinstance(branch, dict) or set(cast("dict[str, Any]", branch)) != _ONE_KEY_BRANCH:
            return None
        node = cast("dict[str, Any]", branch)
        props = cast("dict[str, Any]", node["properties"])
        if node["type"] != "object" or node["additionalProperties"] is not False or len(props) != 1:
            return None
        if node["required"] != list(props) or set(props) & set(keys):
            return None
        keys.update(props)
    return {
        "type": "object",
        "properties": keys,
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": False,
    }


#: What an output schema leaves out: prose and constraints (outputs are the server's own).
_DROP = {
    "title",
    "description",
    "default",
    "required",
    "additionalProperties",
    "format",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
}


def lean(node: Any) -> Any:
    """An output schema node with only what describes the shape: types, properties, items, enums.

    Constraints and prose cost tokens on every ``tools/list`` and bind nothing (outputs are
    ours). A property that defaults to null is left out when absent (every model here
    serializes so), so its null branch goes; ``anyOf`` of plain types becomes one ``type`` list.
    """
    if isinstance(node, list):
        return [lean(v) for v in cast("list[Any]", node)]
    if not isinstance(node, dict):
        return node
    items = cast("dict[str, Any]", node)
    out: dict[str, Any] = {}
    for key, value in items.items():
        if key in _DROP:
            continue
        if key in {"properties", "$defs"}:
            out[key] = {n: lean(_omitted_not_null(v)) for n, v in cast("dict[str, Any]", value).items()}
        else:
            out[key] = lean(value)
    # ``properties`` and ``items`` already say object and array: the type keyword is redundant.
    if ("properties" in out and out.get("type") == "object") or (
        "items" in out and out.get("type") == "array"
    ):
        del out["type"]
    variants = out.get("anyOf")
    if isinstance(variants, list):
        kinds = cast("list[dict[str, Any]]", variants)
        plain = [v for v in kinds if set(v) == {"type"} and isinstance(v["type"], str)]
        rest = [v for v in kinds if v not in plain]
        if len(plain) > 1 or (plain and not rest):
            merged = {"type": [v["type"] for v in plain] if len(plain) > 1 else plain[0]["type"]}
            out["anyOf"] = [merged, *rest]
        if len(out["anyOf"]) == 1:
            (only,) = out.pop("anyOf")
            out = {**only, **out}
    return out


def _omitted_not_null(prop: Any) -> Any:
    """``X | None = None``: absent when None, so published as plain ``X``."""
    if not isinstance(prop, dict):
        return prop
    node = cast("dict[str, Any]", prop)
    variants = node.get("anyOf")
    if "default" not in node or node["default"] is not None or not isinstance(variants, list):
        return node
    kept = [v for v in cast("list[Any]", variants) if v != {"type": "null"}]
    rest = {k: v for k, v in node.items() if k not in {"anyOf", "default"}}
    return {**kept[0], **rest} if len(kept) == 1 else {"anyOf": kept, **rest}


def inline_single_use(schema: dict[str, Any]) -> None:
    """A ``$defs`` entry referenced once is written where it is used (fewer tokens, same schema)."""
    defs = cast("dict[str, Any]", schema.get("$defs", {}))
    counts = ref_counts(schema)
    once = {name for name in defs if counts[f"#/$defs/{name}"] == 1}

    kept = {name: inline_refs(d, defs, once) for name, d in defs.items() if name not in once}
    for key in list(schema):
        if key != "$defs":
            schema[key] = inline_refs(schema[key], defs, once)
    if kept:
        schema["$defs"] = kept
    else:
        schema.pop("$defs", None)
