"""The resources' JSON: the presenters of :mod:`rails_mcp.present` as plain JSON with links to
the resources that read further, and the suppliers this server can confirm for.

Each view is built from a fresh read through the client; only the confirmable suppliers are
kept, because a credential's organization does not change under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote
from uuid import UUID

import anyio

from rails_mcp import present
from rails_mcp.client import RailsClient
from rails_mcp.guard import recommend_selection
from rails_mcp.wire import models as m

__all__ = [
    "ConfirmableSuppliers",
    "basket_view",
    "invoices_view",
    "job_uri",
    "job_view",
    "parts_view",
    "procurement_uri",
    "procurement_view",
]


def job_uri(external: str, tail: str = "") -> str:
    return f"rails://jobs/{quote(external, safe='')}{tail}"


def procurement_uri(procurement_id: UUID | str, tail: str = "") -> str:
    return f"rails://procurements/{procurement_id}{tail}"


def job_view(job: m.JobV1) -> dict[str, Any]:
    view = present.job_view(job).model_dump(mode="json")
    if job.external_id:
        view["resources"] = {
            "parts": job_uri(job.external_id, "/parts"),
            "basket": job_uri(job.external_id, "/basket"),
        }
    return view


def parts_view(parts: Sequence[m.PartV1]) -> dict[str, Any]:
    views, counts = present.parts_view(parts)
    return {"parts": [v.model_dump(mode="json") for v in views], "counts": counts.model_dump(mode="json")}


def procurement_view(p: m.BuyerProcurementV1) -> dict[str, Any]:
    """The essentials of a procurement (buyer view), total computed from the lines."""
    return present.procurement_view(p).model_dump(mode="json")


def invoices_view(invoices: Sequence[m.InvoiceV1]) -> list[dict[str, Any]]:
    return [present.invoice_view(inv).model_dump(mode="json") for inv in invoices]


def basket_view(
    basket: m.BasketsLatestGetResponseV1, parts: Sequence[m.PartV1], confirmable: frozenset[UUID]
) -> dict[str, Any]:
    """Offers grouped by supplier, who can confirm, the ready order and what it cannot cover."""
    reading = present.basket_reading(
        basket, parts, confirmable, recommend_selection(basket, parts, confirmable)
    )
    ready = {
        "offers": [present.order_line(o).model_dump(mode="json") for o in reading.ready],
        "total": reading.ready_total,
    }
    return {
        "suppliers": [s.model_dump(mode="json") for s in reading.suppliers],
        "ready_order": ready if reading.ready else None,
        "estimated_parts_not_confirmable": [
            {"id": str(p.id), "description": p.description} for p in reading.not_confirmable
        ],
        "currency_note": present.CURRENCY_NOTE,
    }


class ConfirmableSuppliers:
    """Businesses the configured supplier credential confirms for (``businesses.list``).

    Discovered from the credential, never hard-coded; read once and kept for the process
    (none without a supplier credential). Tools and resources read it the same way.
    """

    def __init__(self, client: RailsClient) -> None:
        self._client = client
        self._listed: list[m.BusinessV1] | None = None
        self._lock = anyio.Lock()

    async def businesses(self) -> list[m.BusinessV1]:
        async with self._lock:
            if self._listed is None:
                if self._client.supplier_credentials is None:
                    return []
                self._listed = list((await self._client.businesses.list(credential="supplier")).items)
            return list(self._listed)

    async def ids(self) -> frozenset[UUID]:
        return frozenset(b.id for b in await self.businesses())
