"""The cold-start baseline: a bare MCPServer with one tool, over stdio."""

from mcp.server.mcpserver import MCPServer

server = MCPServer("bare", log_level="WARNING")  # as quiet as rails-mcp


@server.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


if __name__ == "__main__":
    server.run("stdio")
