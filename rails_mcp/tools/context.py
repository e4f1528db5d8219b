"""What every tool call shares: the wire client and the confirmable suppliers, discovered once."""

from __future__ import annotations

from uuid import UUID

import anyio

from rails_mcp.client import RailsClient

__all__ = ["Rails"]


class Rails:
    """The wire client plus the confirmable-supplier cache (one per server process)."""

    def __init__(self, client: RailsClient) -> None:
        self.client = client
        self._confirmable: frozenset[UUID] | None = None
        self._lock = anyio.Lock()

    async def confirmable_suppliers(self) -> frozenset[UUID]:
        """Businesses the configured supplier credential can confirm for (``businesses.list``).

        Discovered from the credential, never hard-coded; cached for the process because a
        credential's organization does not change under it.
        """
        async with self._lock:
            if self._confirmable is None:
                if self.client.supplier_credentials is None:
                    return frozenset()
                listed = await self.client.businesses.list(credential="supplier")
                self._confirmable = frozenset(b.id for b in listed.items)
            return self._confirmable
