"""The embedded Rails sandbox: a faithful, persistent, local copy of the 2026-01 wire.

``create_app(db_path)`` gives an ASGI app that answers the 14 public methods and the 3
proposed extensions exactly as the deployed sandbox does, with per-tenant worlds kept in
SQLite. It depends only on ``rails_mcp.wire`` (the shared contract) and the libraries it
serves with, so the MCP server can run it in-process and the CLI can serve it over HTTP.
Beyond the wire it serves ``/openapi.json`` (published type names), ``/llms.txt``,
``/llms-full.txt``, the upload store behind ``uploads.prepare`` and signed loopback
webhooks (``/__webhooks/*``, see :mod:`rails_mcp.sandbox.webhooks`).
"""

from __future__ import annotations

from rails_mcp.sandbox.app import create_app

__all__ = ["create_app"]
