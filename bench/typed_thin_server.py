"""The thin forwarder with rails-mcp's contract, for ``bench_http_load.py --typed-thin``.

It lists the same thirteen tools with the same titles, descriptions and input and output schemas
as rails-mcp (read from rails-mcp's registry), and answers ``get_repair_job`` as
``thin_server.py`` does: one ``repairer.jobs.get`` forwarded, the job returned as it came, with
``is_extension`` as the schema requires. No validation, no enrichment, no audit, no other tool.
A client's per-session work (listing, compiling the output schemas, checking each result) is then
the same for it as for rails-mcp, so the two differ only in what the server does.

Run: ``python bench/typed_thin_server.py PORT`` (streamable HTTP on loopback, over the wire at
``RAILS_BASE_URL``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx2
import uvicorn
from mcp.server import Server, ServerRequestContext
from mcp_types import (
    CallToolRequestParams,
    CallToolResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from bench.thin_server import HEADERS, PATH
from rails_mcp.tools import TOOLS
from rails_mcp.tools.publish import published

LISTED = ListToolsResult(tools=[published(tool) for tool in TOOLS])


def typed_forwarder(http: httpx2.AsyncClient) -> Server[Any]:
    async def list_tools(
        ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        return LISTED

    async def call_tool(ctx: ServerRequestContext[Any], params: CallToolRequestParams) -> CallToolResult:
        if params.name != "get_repair_job":
            return CallToolResult(content=[TextContent(type="text", text="not forwarded")], is_error=True)
        response = await http.post(PATH, json={"identity": (params.arguments or {})["job"]})
        response.raise_for_status()
        structured = {"is_extension": False, "job": response.json()}
        text = json.dumps(structured, separators=(",", ":"))
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)

    return Server("typed-thin", on_list_tools=list_tools, on_call_tool=call_tool)


if __name__ == "__main__":
    client = httpx2.AsyncClient(base_url=os.environ["RAILS_BASE_URL"], headers=HEADERS)
    app = typed_forwarder(client).streamable_http_app()
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
