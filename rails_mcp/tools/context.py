"""What every tool call shares: the wire client, the confirmable suppliers (discovered once) and
the server's durable state, when it has one."""

from __future__ import annotations

from uuid import UUID

from rails_mcp.client import RailsClient
from rails_mcp.resources.views import ConfirmableSuppliers
from rails_mcp.state import StateStore

__all__ = ["Rails"]


class Rails:
    """The wire client plus the confirmable suppliers it discovers (one per server process)."""

    def __init__(self, client: RailsClient, store: StateStore | None = None) -> None:
        self.client = client
        self.suppliers = ConfirmableSuppliers(client)
        #: Where the orders a person approved are kept (None: nothing is remembered).
        self.store = store

    async def confirmable_suppliers(self) -> frozenset[UUID]:
        """Businesses the configured supplier credential can confirm for."""
        return await self.suppliers.ids()
