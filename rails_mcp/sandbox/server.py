"""``rails-mcp sandbox``: the embedded sandbox served over HTTP by uvicorn."""

from __future__ import annotations

import logging
from pathlib import Path

import uvicorn

from rails_mcp.sandbox.app import create_app

__all__ = ["serve"]

log = logging.getLogger(__name__)


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8787,
    db_path: str | Path,
    idle_reset_seconds: float | None = 3600.0,
    access_log: bool = False,
) -> None:
    """Serve the sandbox until interrupted.

    The access log is off by default: the sandbox is a local development server, and a log
    line per call would cost more than answering a read.
    """
    app = create_app(db_path, idle_reset_seconds=idle_reset_seconds)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    idle = "never" if idle_reset_seconds is None else f"after {idle_reset_seconds:g}s idle"
    log.info("Rails sandbox (2026-01) — db %s — tenants reset %s", db_path, idle)
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=access_log,
        log_level="info",
        server_header=False,
    )
