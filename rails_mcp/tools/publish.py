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

from rails_mcp.wire.schema import compact_schema, inline_single_use, lean

from . import TOOLS, TOOLS_BY_NAME
from .base import ToolDef

__all__ = ["PUBLISHED_FILE", "output_schema", "published", "published_file_text", "store_published_file"]

log = logging.getLogger("rails_mcp.tools.publish")

#: The registry's generated schemas, shipped beside the code.
PUBLISHED_FILE = Path(__file__).resolve().parent.parent / "published_tools.json"

Schemas = tuple[dict[str, Any], dict[str, Any]]


def output_schema(tool: ToolDef[Any, Any]) -> dict[str, Any]:
    """The output model's JSON schema: one ``type: object`` root admitting the success fields
    (omitted when absent, never null) and ``error``; ``is_extension`` required; the error's
    ``example_arguments`` typed as this tool's own arguments (their shape, without the
    constraints the inputSchema already states)."""
    raw = cast("type[BaseModel]", tool.output_model).model_json_schema()
    schema = cast("dict[str, Any]", lean(raw))
    schema["properties"]["is_extension"] = {"type": "boolean"}
    schema["required"] = ["is_extension"]
    defs = cast("dict[str, Any]", schema["$defs"])
    error = cast("dict[str, Any]", defs["ToolError"])
    error["required"] = ["code", "message", "fix", "retryable"]
    error_props = cast("dict[str, Any]", error["properties"])
    error_props["example_arguments"] = lean(compact_schema(cast("type[BaseModel]", tool.input_model)))
    inline_single_use(schema)
    return {"type": "object", **schema}


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
