"""rails-mcp: an MCP server and an embedded sandbox for the Rails parts-procurement API."""

__version__ = "0.1.0"
