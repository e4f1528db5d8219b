"""Wire the configured pieces together: settings → wire client (remote or embedded) → tools.

With no ``RAILS_BASE_URL`` the embedded sandbox answers in-process through
``httpx2.ASGITransport``: no socket, no network, state kept in ``$RAILS_STATE_DIR``.
"""

from __future__ import annotations

import logging

import httpx2

from rails_mcp.client import Credentials, RailsClient
from rails_mcp.config import Settings
from rails_mcp.sandbox import create_app
from rails_mcp.tools import Rails

__all__ = ["EMBEDDED_BASE_URL", "open_client", "open_rails"]

log = logging.getLogger("rails_mcp")

#: The base URL the in-process sandbox answers on (never resolved: no socket is opened).
EMBEDDED_BASE_URL = "http://embedded-sandbox.invalid"


def open_client(settings: Settings, *, with_supplier: bool = True) -> RailsClient:
    repairer = settings.repairer()
    supplier = settings.supplier() if with_supplier else None
    transport: httpx2.AsyncBaseTransport | None = None
    if settings.base_url is None:
        db = settings.sandbox_db()
        # The in-process caller is this machine: the sandbox's loopback-only dev routes
        # (webhook subscribe/secret) treat it as such.
        transport = httpx2.ASGITransport(
            app=create_app(db, idle_reset_seconds=settings.sandbox_idle_reset_seconds),
            client=("127.0.0.1", 0),
        )
        base_url = EMBEDDED_BASE_URL
    else:
        base_url = str(settings.base_url)
    log.info(
        "rails wire: %s, tenant %s, repairer credential from %s",
        settings.target,
        settings.tenant or "(default)",
        repairer.source,
    )
    return RailsClient(
        base_url=base_url,
        repairer=Credentials(repairer.api_key, repairer.integration_id),
        supplier=Credentials(supplier.api_key, supplier.integration_id) if supplier else None,
        tenant=settings.tenant,
        transport=transport,
        timeout=settings.timeout_seconds,
    )


def open_rails(settings: Settings) -> Rails:
    return Rails(open_client(settings))
