"""The MCP server: the thirteen tools registered on an ``MCPServer``, in SPEC order.

Tools are registered from hand-built schemas instead of function signatures so that the
server, not the SDK, validates arguments: a wrong argument then comes back as an enriched
tool error the agent can act on, never as a protocol error or raw pydantic text. Each output
schema admits both the success shape and the error shape, because hosts such as the MCP
Inspector validate error results against it too.
"""

from __future__ import annotations

import difflib
import json
import logging
from typing import Any

from mcp.server import Server, ServerRequestContext
from mcp_types import (
    CallToolRequestParams,
    CallToolResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
    Tool,
)
from pydantic import ValidationError

from rails_mcp import __version__
from rails_mcp.enrich import ToolErrorInfo, ToolFailure, arguments_error, internal_error
from rails_mcp.tool_inputs import compact_schema
from rails_mcp.tools import TOOLS, Rails, ToolSpec
from rails_mcp.wire.models import EXTENSION_BANNER

__all__ = ["ERROR_SCHEMA", "build_server", "execute", "output_schema"]

log = logging.getLogger("rails_mcp.server")

INSTRUCTIONS = (
    "Order collision-repair parts through the Rails API. Loop: open_repair_job → identify_parts → "
    "recommend_basket → place_procurement (its ready_selection) → confirm_procurement → "
    "reconcile_invoice. Every result has is_extension; failed calls return error.fix and often "
    "error.example_arguments to replay."
)

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "fix": {"type": "string"},
        "retryable": {"type": "boolean"},
        "example_arguments": {"type": "object"},
    },
    "required": ["code", "message", "fix", "retryable"],
}


def output_schema(spec: ToolSpec) -> dict[str, Any]:
    """Success keys plus ``error``: one object schema that fits both kinds of result."""
    props: dict[str, Any] = {"is_extension": {"type": "boolean"}}
    for key, kind in spec.output.items():
        props[key] = {"type": kind}
    props["error"] = ERROR_SCHEMA
    return {"type": "object", "properties": props, "required": ["is_extension"]}


def _one_line(text: str) -> str:
    """Echoed values (a job ref, an argument name) must not break a summary across lines."""
    return " ".join(text.splitlines())


def _text(summary: str, structured: dict[str, Any]) -> str:
    line = json.dumps(structured, ensure_ascii=False, separators=(",", ":"))
    # json.dumps leaves U+2028, U+2029 and U+0085 raw, yet they end lines too (str.splitlines,
    # older JavaScript): escaped, the structured content stays one JSON line.
    line = line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\x85", "\\u0085")
    return f"{summary}\n{line}"


def _error_result(spec: ToolSpec, info: ToolErrorInfo) -> CallToolResult:
    info = info.model_copy(update={"message": _one_line(info.message), "fix": _one_line(info.fix)})
    structured: dict[str, Any] = {"is_extension": spec.extension, "error": info.public()}
    lead = f"{EXTENSION_BANNER}\n" if spec.extension else ""
    summary = f"{lead}Error {info.code}: {info.message} Fix: {info.fix}"
    return CallToolResult(
        content=[TextContent(type="text", text=_text(summary, structured))],
        structured_content=structured,
        is_error=True,
    )


async def execute(spec: ToolSpec, rails: Rails, arguments: dict[str, Any]) -> CallToolResult:
    """Validate, run, and shape one tool call. Nothing raised here reaches the client."""
    try:
        args = spec.input_model.model_validate(arguments)
    except ValidationError as exc:
        info = arguments_error(spec.name, spec.input_model, arguments, exc)
        log.info("tool %s refused arguments: %s at %s", spec.name, info.code, info.field)
        return _error_result(spec, info)
    try:
        result = await spec.handler(rails, args)
    except ToolFailure as failure:
        log.info("tool %s failed: %s", spec.name, failure.info.code)
        return _error_result(spec, failure.info)
    except Exception:
        log.exception("tool %s raised unexpectedly", spec.name)
        return _error_result(spec, internal_error(spec.name))
    structured = {"is_extension": spec.extension, **result.data}
    summary = _one_line(result.summary)
    summary = f"{EXTENSION_BANNER}\n{summary}" if spec.extension else summary
    return CallToolResult(
        content=[TextContent(type="text", text=_text(summary, structured))],
        structured_content=structured,
    )


def _published(spec: ToolSpec) -> Tool:
    input_schema = compact_schema(spec.input_model)
    input_schema["additionalProperties"] = False
    return Tool(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        input_schema=input_schema,
        output_schema=output_schema(spec),
        annotations=spec.annotations,
    )


def build_server(rails: Rails) -> Server[Any]:
    """A lowlevel SDK ``Server`` with the thirteen tools over ``rails``, ready for any transport.

    The lowlevel server (not ``MCPServer``) because rails-mcp publishes schemas generated from
    its own pydantic models and validates arguments itself: a wrong argument must come back as
    an enriched tool error, never as a protocol error or SDK text.
    """
    by_name = {spec.name: spec for spec in TOOLS}
    listed = [_published(spec) for spec in TOOLS]

    async def list_tools(
        ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        return ListToolsResult(tools=listed)

    async def call_tool(ctx: ServerRequestContext[Any], params: CallToolRequestParams) -> CallToolResult:
        spec = by_name.get(params.name)
        if spec is None:
            return unknown_tool_result(params.name, list(by_name))
        return await execute(spec, rails, dict(params.arguments or {}))

    return Server(
        "rails-mcp",
        title="Rails parts ordering",
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def unknown_tool_result(name: str, known: list[str]) -> CallToolResult:
    """An unknown tool name is a structured error naming the closest real tool."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.0)
    info = ToolErrorInfo(
        code="unknown_tool",
        message=f"There is no tool named {json.dumps(name[:80])}.",
        fix=f"Call one of the listed tools; the closest is {close[0]}." if close else "Call a listed tool.",
        retryable=False,
        valid_values=known,
        did_you_mean=close[0] if close else None,
    )
    structured: dict[str, Any] = {"is_extension": False, "error": info.public()}
    return CallToolResult(
        content=[
            TextContent(
                type="text", text=_text(f"Error unknown_tool: {info.message} Fix: {info.fix}", structured)
            )
        ],
        structured_content=structured,
        is_error=True,
    )
