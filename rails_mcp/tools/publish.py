"""What ``tools/list`` says of each tool: its input and output schemas, generated from its models
(by :mod:`rails_mcp.wire.schema`) or read from ``published_tools.json``.

``published_tools.json`` holds the registry's schemas as ``rails-mcp schemas`` generated them, so
a cold start does not build 26 schemas. It carries no fingerprint of the sources: ``rails-mcp
schemas --check`` (CI, and a test) regenerates the schemas and fails when the file differs, so a
stale file cannot be committed, and neither a pydantic patch release nor an edit that leaves
every schema as it was makes it stale.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path
from typing import Any, cast

from mcp_types import Tool
from pydantic import BaseModel

from rails_mcp.wire.schema import compact_schema, inline_refs, inline_single_use, lean, ref_counts

from . import TOOLS, TOOLS_BY_NAME
from .base import ToolDef

__all__ = [
    "PUBLISHED_FILE",
    "SPENDING_LIMITED",
    "output_schema",
    "published",
    "published_file_text",
    "store_published_file",
]

log = logging.getLogger("rails_mcp.tools.publish")

#: The registry's generated schemas, shipped beside the code.
PUBLISHED_FILE = Path(__file__).resolve().parent.parent / "published_tools.json"

Schemas = tuple[dict[str, Any], dict[str, Any]]

#: The tools whose order total the per-order spending limit or the budget can refuse: only
#: their error publishes ``spending_limit`` and ``budget`` (no other tool's error carries them).
SPENDING_LIMITED = frozenset({"place_procurement"})


def output_schema(tool: ToolDef[Any, Any]) -> dict[str, Any]:
    """The output model's JSON schema: one ``type: object`` root admitting the success fields
    (omitted when absent, never null) and ``error``; ``is_extension`` required; the error's
    ``example_arguments`` typed as this tool's own arguments (their shape, without the
    constraints the inputSchema already states); ``spending_limit`` and ``budget`` only where they
    can be sent."""
    raw = cast("type[BaseModel]", tool.output_model).model_json_schema()
    schema = cast("dict[str, Any]", lean(raw))
    schema["properties"]["is_extension"] = {"type": "boolean"}
    schema["required"] = ["is_extension"]
    defs = cast("dict[str, Any]", schema["$defs"])
    error = cast("dict[str, Any]", defs["ToolError"])
    error["required"] = ["code", "message", "fix", "retryable"]
    error_props = cast("dict[str, Any]", error["properties"])
    error_props["example_arguments"] = _open_choices(
        lean(compact_schema(cast("type[BaseModel]", tool.input_model)))
    )
    if tool.name not in SPENDING_LIMITED:
        del error_props["spending_limit"], error_props["budget"]
    inline_single_use(schema)
    _inline_where_shorter(schema)
    return {"type": "object", **cast("dict[str, Any]", _implied_types(schema))}


def _inline_where_shorter(schema: dict[str, Any]) -> None:
    """A ``$defs`` entry is written where it is used when that is shorter than the entry and
    its references (a small object referred to twice): the same schema in fewer tokens."""
    defs = cast("dict[str, Any]", schema.get("$defs", {}))
    counts = ref_counts(schema)
    shorter = {
        name
        for name, body in defs.items()
        if counts[f"#/$defs/{name}"] * (_size(body) - _size({"$ref": f"#/$defs/{name}"}))
        < _size({name: body})
    }
    if not shorter:
        return
    for key in list(schema):
        schema[key] = inline_refs(schema[key], defs, shorter)
    kept = {name: body for name, body in defs.items() if name not in shorter}
    if kept:
        schema["$defs"] = kept
    else:
        del schema["$defs"]


def _open_choices(node: Any) -> Any:
    """``node`` with each string ``enum`` a plain string: the choices are a constraint the
    inputSchema already states, and ``example_arguments`` are replayed against it."""
    if isinstance(node, list):
        return [_open_choices(v) for v in cast("list[Any]", node)]
    if not isinstance(node, dict):
        return node
    items = cast("dict[str, Any]", node)
    choices = items.get("enum")
    if isinstance(choices, list) and all(isinstance(v, str) for v in cast("list[Any]", choices)):
        return {"type": "string"}
    return {k: _open_choices(v) for k, v in items.items()}


def _size(node: Any) -> int:
    return len(json.dumps(node))


#: The type each keyword applies to: a branch holding only that keyword says its type by it.
_SHAPED_BY = {"properties": "object", "items": "array"}


def _implied_types(node: Any) -> Any:
    """``node`` without type words its other keywords already say (fewer tokens on every
    ``tools/list``, the same values valid or fewer): an all-string ``enum`` or ``const``
    drops ``"type": "string"``, and an ``anyOf`` whose branches are each of a different type (a plain
    type, an object by its ``properties``, an array by its ``items``) becomes one node with a
    ``type`` list, since ``properties`` and ``items`` bind only their own type."""
    if isinstance(node, list):
        return [_implied_types(v) for v in cast("list[Any]", node)]
    if not isinstance(node, dict):
        return node
    out = {k: _implied_types(v) for k, v in cast("dict[str, Any]", node).items()}
    values = cast("list[Any]", out.get("enum", [out["const"]] if "const" in out else []))
    if out.get("type") == "string" and values and all(isinstance(v, str) for v in values):
        del out["type"]
    merged = _one_node(out.get("anyOf"))
    if merged is not None:
        out = {**merged, **{k: v for k, v in out.items() if k != "anyOf"}}
    return out


def _one_node(variants: Any) -> dict[str, Any] | None:
    """The branches of an ``anyOf`` as one node, or None when two could hold the same type."""
    if not isinstance(variants, list):
        return None
    types: list[str] = []
    merged: dict[str, Any] = {}
    for branch in cast("list[Any]", variants):
        if not isinstance(branch, dict) or len(cast("dict[str, Any]", branch)) != 1:
            return None
        ((key, value),) = cast("dict[str, Any]", branch).items()
        if key == "type":
            kinds = cast("list[str]", value if isinstance(value, list) else [value])
        elif key in _SHAPED_BY:
            kinds, merged[key] = [_SHAPED_BY[key]], value
        else:
            return None
        if set(kinds) & set(types):
            return None
        types += kinds
    return {"type": types, **merged}


def _generated(tool: ToolDef[Any, Any]) -> Schemas:
    return compact_schema(cast("type[BaseModel]", tool.input_model)), output_schema(tool)


def published(tool: ToolDef[Any, Any]) -> Tool:
    """What ``tools/list`` says of ``tool``; its schemas made once per process: a registry tool's
    read from ``published_tools.json``, any other tool's (or a registry tool the file lacks)
    generated now."""
    schemas = _SCHEMAS.get(tool.name)
    if schemas is None or schemas[0] is not tool:
        stored = _stored_schemas().get(tool.name) if TOOLS_BY_NAME.get(tool.name) is tool else None
        schemas = _SCHEMAS[tool.name] = (tool, *(stored or _generated(tool)))
    return Tool(
        name=tool.name,
        title=tool.title,
        description=tool.description,
        input_schema=schemas[1],
        output_schema=schemas[2],
        annotations=tool.annotations,
        _meta={"ui": {"resourceUri": tool.ui}} if tool.ui else None,
    )


_SCHEMAS: dict[str, tuple[ToolDef[Any, Any], dict[str, Any], dict[str, Any]]] = {}


@functools.cache
def _stored_schemas() -> dict[str, Schemas]:
    try:
        tools = cast("dict[str, dict[str, Any]]", json.loads(PUBLISHED_FILE.read_text(encoding="utf-8")))
        return {name: (t["inputSchema"], t["outputSchema"]) for name, t in tools.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        log.info("published_tools.json is unreadable; generating the tool schemas")
        return {}


def published_file_text() -> str:
    """The text of ``published_tools.json`` for the registry as the code now generates it."""
    tools: dict[str, dict[str, Any]] = {}
    for tool in TOOLS:
        input_schema, output = _generated(tool)
        tools[tool.name] = {"inputSchema": input_schema, "outputSchema": output}
    return json.dumps(tools) + "\n"


def store_published_file(text: str) -> None:
    """Write ``published_tools.json``; this process publishes from the new file from now on."""
    PUBLISHED_FILE.write_text(text, encoding="utf-8")
    _stored_schemas.cache_clear()
    _SCHEMAS.clear()
