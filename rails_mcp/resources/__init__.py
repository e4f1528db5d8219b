"""MCP resources, resource templates, the get_started prompt and resource subscriptions.

``ResourceHub(client).register(server)`` adds everything to a lowlevel SDK ``Server``; tools
call ``hub.notify_procurement_changed(...)`` after a write and read ``hub.history(id)``.
Modules, each importing only those below it: ``catalogue`` (what is listed, naming its
reader), ``events`` (the bounded per-order history), ``readers`` (live reads), ``intake``
(webhook verification and re-read), ``subscriptions`` (who hears of changes), ``hub``
(composes them), ``receiver`` (the loopback HTTP endpoint for webhooks).
"""

from __future__ import annotations

from rails_mcp.resources.events import History, ProcurementEvent
from rails_mcp.resources.guides import INSTRUCTIONS, SEEDED_JOB_EXTERNAL
from rails_mcp.resources.hub import GET_STARTED, SCENARIO_URI, ResourceHub
from rails_mcp.resources.intake import WebhookReceipt
from rails_mcp.resources.receiver import (
    WebhookReceiver,
    WebhookSetupError,
    install_webhook_receiver,
    receive_webhooks,
)

__all__ = [
    "GET_STARTED",
    "INSTRUCTIONS",
    "SCENARIO_URI",
    "SEEDED_JOB_EXTERNAL",
    "History",
    "ProcurementEvent",
    "ResourceHub",
    "WebhookReceipt",
    "WebhookReceiver",
    "WebhookSetupError",
    "install_webhook_receiver",
    "receive_webhooks",
]
