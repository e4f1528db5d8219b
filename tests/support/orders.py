"""Many orders fast: one procurement per part, placed on the wire directly (tests and bench)."""

from __future__ import annotations

from typing import Any

from rails_mcp.client import RailsClient
from rails_mcp.wire import models as m

__all__ = ["place_one_order_per_part"]


async def place_one_order_per_part(client: RailsClient, external: str, orders: int) -> None:
    """``orders`` procurements on the job ``external``, each of one part's first basket offer."""
    ident = m.ExternalIdentity(external=external)
    basket = await client.repairer.jobs.baskets.latest.get(job_identity=ident)
    first: dict[Any, m.OfferV1] = {}
    for offer in basket.offers:
        first.setdefault(offer.job_part_ids[0], offer)
    for offer in list(first.values())[:orders]:
        selection = m.OfferSelectionV1(
            sellable_id=offer.sellable_id,
            supplier_business_id=offer.supplier_business_id,
            job_part_ids=offer.job_part_ids,
            quantity=offer.quantity,
        )
        await client.repairer.procurements.insert(job_identity=ident, offer_selections=[selection])
