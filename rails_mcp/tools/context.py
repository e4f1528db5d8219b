"""What every tool call shares: the wire client and the confirmable suppliers, discovered once."""

from __future__ import annotations

from uuid import UUID

from rails_mcp.client import RailsClient
from rails_mcp.resources.views import ConfirmableSuppliers

__all__ = ["Rails"]


class Rails:
    """The wire client plus the confirmable suppliers it discovers (one per server process)."""

    def __init__(self, client: RailsClient) -> None:
        self.client = client
        self.suppliers = ConfirmableSuppliers(client)

    async def confirmable_suppliers(self) -> frozenset[UUID]:
        """Businesses the configured supplier credential can confirm for."""
        return await self.suppliers.ids()
