"""Values the wire fixes, defined once for the client side, the sandbox and the configuration.

The sandbox may import only ``rails_mcp.wire``, so these live here rather than in
``rails_mcp.config``: the tenant-name rule the ``x-partifact-tenant`` header obeys and the
demo credentials every fresh tenant ships with (public values from the Quickstart).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "DEMO_REPAIRER",
    "DEMO_REPAIRER_API_KEY",
    "DEMO_REPAIRER_INTEGRATION_ID",
    "DEMO_SUPPLIER",
    "DEMO_SUPPLIER_API_KEY",
    "DEMO_SUPPLIER_INTEGRATION_ID",
    "TENANT_MAX_LENGTH",
    "TENANT_PATTERN",
    "TENANT_RULE",
]

#: Longest tenant name the sandbox accepts.
TENANT_MAX_LENGTH: Final = 64
#: A tenant name, anchored (usable as a pydantic ``pattern`` and with ``re.fullmatch``).
TENANT_PATTERN: Final = rf"^[a-z0-9_-]{{1,{TENANT_MAX_LENGTH}}}$"
#: The same rule in words, for error messages.
TENANT_RULE: Final = f"1-{TENANT_MAX_LENGTH} characters from a-z, 0-9, '_' and '-'"

DEMO_REPAIRER_API_KEY: Final = "partly_demo_repairer_3f8a1c0d9e2b4a67b1c2"
DEMO_REPAIRER_INTEGRATION_ID: Final = "0c000000-0000-4000-8000-000000000001"
DEMO_SUPPLIER_API_KEY: Final = "partly_demo_supplier_8b4e2f1a6c0d3e9f7a25"
DEMO_SUPPLIER_INTEGRATION_ID: Final = "0c000000-0000-4000-8000-000000000002"

#: ``(api_key, integration_id)`` of the seeded repairer and supplier integrations.
DEMO_REPAIRER: Final = (DEMO_REPAIRER_API_KEY, DEMO_REPAIRER_INTEGRATION_ID)
DEMO_SUPPLIER: Final = (DEMO_SUPPLIER_API_KEY, DEMO_SUPPLIER_INTEGRATION_ID)
