"""Live JSON views of the wire for the resources: each one read fresh through the client.

Plain functions over :class:`~rails_mcp.client.RailsClient` so that a resource read is the
same handful of wire calls a tool would make, and nothing is cached that could go stale.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote
from uuid import UUID

from rails_mcp.client import RailsClient
from rails_mcp.guard import money, recommend_selection
from rails_mcp.wire import models as m

__all__ = [
    "basket_view",
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


def _dump(model: m.BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def job_view(job: m.JobV1) -> dict[str, Any]:
    view = _dump(job)
    if job.external_id:
        view["resources"] = {
            "parts": job_uri(job.external_id, "/parts"),
            "basket": job_uri(job.external_id, "/basket"),
        }
    return view


def parts_view(parts: Sequence[m.PartV1]) -> dict[str, Any]:
    counts = {s.value: 0 for s in m.PartStatusV1}
    for p in parts:
        counts[p.status.value] = counts.get(p.status.value, 0) + 1  # a newer status counts as itself
    return {"parts": [_dump(p) for p in parts], "counts": counts}


def _total(items: Sequence[m.SourceItemV1] | Sequence[m.OfferV1]) -> str:
    return money(sum((Decimal(i.trade_price) * i.quantity for i in items), Decimal(0)))


def procurement_view(p: m.BuyerProcurementV1) -> dict[str, Any]:
    """The essentials of a procurement (buyer view), total computed from the lines."""
    return {
        "id": str(p.id),
        "reference": p.reference,
        "status": p.status.value,
        "job_id": str(p.job_id),
        "supplier": {"id": str(p.supplier_business.id), "name": p.supplier_business.name},
        "currency_code": p.currency_code,
        "total": _total(p.source_items),
        "lines": [
            {
                "sellable_id": str(i.sellable_id),
                "name": i.name,
                "job_part_ids": [str(x) for x in i.job_part_ids],
                "quantity": i.quantity,
                "trade_price": i.trade_price,
            }
            for i in p.source_items
        ],
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


def basket_view(
    basket: m.BasketsLatestGetResponseV1, parts: Sequence[m.PartV1], confirmable: frozenset[UUID]
) -> dict[str, Any]:
    """Offers grouped by supplier, who can confirm, the ready order and what it cannot cover."""
    status = {p.id: p.status.value for p in parts}
    suppliers: list[dict[str, Any]] = []
    for s in basket.suppliers:
        suppliers.append(
            {
                "business_id": str(s.business_id),
                "name": s.name,
                "confirmable": s.business_id in confirmable,
                "offers": [
                    {
                        "sellable_id": str(o.sellable_id),
                        "name": o.name,
                        "job_part_ids": [str(x) for x in o.job_part_ids],
                        "part_status": [status.get(x, "unknown") for x in o.job_part_ids],
                        "quantity": o.quantity,
                        "trade_price": o.trade_price,
                    }
                    for o in basket.offers
                    if o.supplier_business_id == s.business_id
                ],
            }
        )
    ready = recommend_selection(basket, parts, confirmable)
    covered = {pid for o in ready for pid in o.job_part_ids}
    return {
        "suppliers": suppliers,
        "ready_order": {
            "offers": [
                {"sellable_id": str(o.sellable_id), "name": o.name, "trade_price": o.trade_price}
                for o in ready
            ],
            "total": _total(ready),
        }
        if ready
        else None,
        "estimated_parts_not_confirmable": [
            {"id": str(p.id), "description": p.description}
            for p in parts
            if p.status is m.PartStatusV1.ESTIMATED and p.id not in covered
        ],
        "currency_note": "trade_price is a bare decimal string: the basket carries no currency (D52).",
    }


async def confirmable_suppliers(client: RailsClient) -> list[m.BusinessV1]:
    """Businesses the configured supplier credential confirms for (none without one)."""
    if client.supplier_credentials is None:
        return []
    return list((await client.businesses.list(credential="supplier")).items)
