"""The cold-start baseline: a bare MCPServer with one tool, over stdio.

With ``BARE_GC_AS_RAILS_MCP=1`` it starts the way ``rails-mcp`` does (no cyclic garbage
collection until the server is built, then ``gc.freeze()``), so the bench can show how much of
rails-mcp's cold start is its own code and how much that start-up setting.
"""

import gc
import os

SAME_GC = os.environ.get("BARE_GC_AS_RAILS_MCP") == "1"
if SAME_GC:
    gc.disable()

from mcp.server.mcpserver import MCPServer  # noqa: E402  (after the GC setting, on purpose)

server = MCPServer("bare", log_level="WARNING")  # as quiet as rails-mcp


@server.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


if __name__ == "__main__":
    if SAME_GC:
        gc.freeze()
        gc.enable()
    server.run("stdio")
