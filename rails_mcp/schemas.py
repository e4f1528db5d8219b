"""``tool_schemas/<tool>.json``: what each tool publishes, rendered from the live server."""

from __future__ import annotations

import json

from mcp import Client

from rails_mcp.client import RailsClient
from rails_mcp.server import build_server
from rails_mcp.tools import Rails

__all__ = ["render_tool_schemas"]


async def render_tool_schemas() -> dict[str, str]:
    """Tool name → the JSON text of its title, description, annotations and schemas.

    The server is built over a client that is never called, so rendering touches no state.
    """
    async with RailsClient(base_url="http://schemas.invalid") as unused:
        server = build_server(Rails(unused))
        async with Client(server) as client:
            listed = await client.list_tools()
    rendered: dict[str, str] = {}
    for tool in listed.tools:
        doc = {
            "name": tool.name,
            "title": tool.title,
            "description": tool.description,
            "annotations": tool.annotations.model_dump(by_alias=True, exclude_none=True)
            if tool.annotations
            else None,
            "inputSchema": tool.input_schema,
            "outputSchema": tool.output_schema,
        }
        rendered[tool.name] = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return rendered
