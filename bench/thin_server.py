"""The fairness baseline: a hand-written MCPServer tool that forwards ``repairer.jobs.get``.

One tool, ``get_repair_job``, with the job identity as its argument; it posts the same wire
call rails-mcp makes (same path, same demo credentials, keep-alive HTTP client) to the
sandbox at ``RAILS_BASE_URL`` and returns the job as structured content. No retries, no
validation of the answer, no enrichment: what the thinnest honest MCP wrapper costs.
Served on the SDK's stdio transport, like rails-mcp, or with ``--http PORT`` on its
streamable HTTP transport (loopback), as ``rails-mcp serve`` serves.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import httpx2
from mcp.server.mcpserver import MCPServer

#: The seeded demo repairer (SPEC §1), as rails-mcp sends it with zero configuration.
HEADERS = {
    "Authorization": "Bearer partly_demo_repairer_3f8a1c0d9e2b4a67b1c2",
    "Partly-Integration-ID": "0c000000-0000-4000-8000-000000000001",
}
PATH = "/api/2026-01/repairer.jobs.get"


def forwarder(http: Callable[[], httpx2.AsyncClient]) -> MCPServer:
    """The thin server over the HTTP client ``http()`` returns (over a socket or in-process)."""
    thin = MCPServer("thin", log_level="WARNING")  # rails-mcp logs warnings only, too

    @thin.tool()
    async def get_repair_job(job: dict[str, str]) -> dict[str, Any]:
        """Get one repair job by its identity ({"external": ...} or {"id": ...})."""
        response = await http().post(PATH, json={"identity": job})
        response.raise_for_status()
        return {"job": response.json()}

    return thin


_http: list[httpx2.AsyncClient] = []


def _loopback() -> httpx2.AsyncClient:
    if not _http:
        _http.append(httpx2.AsyncClient(base_url=os.environ["RAILS_BASE_URL"], headers=HEADERS))
    return _http[0]


server = forwarder(_loopback)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--http"]:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")
