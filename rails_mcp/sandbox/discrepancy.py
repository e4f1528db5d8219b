"""A dev route that makes a supplier's confirmation invoice otherwise than ordered: another unit
price, or a short shipment, for one line of one procurement (tests and demos of a reconciliation
that needs attention).

``POST /__dev/invoice_discrepancy`` ``{"procurement_id", "sellable_id"?, "unit_price"?, "quantity"?}``
from the procurement's supplier integration (its credentials), from a loopback address, never
through a proxy. It changes only the invoice the next confirmation issues; the wire is untouched.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any
from uuid import UUID

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rails_mcp.sandbox.dev_access import (
    Refused,
    dev_caller,
    is_loopback_client,
    json_object,
    read_body,
    refuse,
    reply,
    unproxied,
)
from rails_mcp.sandbox.store import Store
from rails_mcp.sandbox.world import Credential, InvoiceVariance, Procurement, World, org_of
from rails_mcp.wire import models as m

__all__ = ["DISCREPANCY_PATH", "DiscrepancyRoute"]

DISCREPANCY_PATH = "/__dev/invoice_discrepancy"
_MAX_BODY = 65_536
_PRICE = re.compile(r"\d{1,12}\.\d{2}")


@dataclass(frozen=True, slots=True)
class _Asked:
    procurement_id: UUID
    sellable_id: UUID | None
    unit_price: str | None
    quantity: int | None


def _uuid(body: dict[str, Any], key: str) -> UUID | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        return UUID(value) if isinstance(value, str) else None
    except ValueError:
        raise Refused("bad_body") from None


def _asked(body: dict[str, Any]) -> _Asked:
    """The body's fields, each of its type; at least one of unit_price and quantity."""
    procurement_id = _uuid(body, "procurement_id")
    price, quantity = body.get("unit_price"), body.get("quantity")
    if procurement_id is None or (price is None and quantity is None):
        raise Refused("missing_field")
    if price is not None and not (isinstance(price, str) and _PRICE.fullmatch(price)):
        raise Refused("bad_body")
    if quantity is not None and (type(quantity) is not int or quantity < 0):
        raise Refused("bad_body")
    return _Asked(procurement_id, _uuid(body, "sellable_id"), price, quantity)


def _vary(world: World, credential: Credential, asked: _Asked) -> InvoiceVariance:
    """Record how the next confirmation invoices one line; refused unless the caller supplies
    the procurement, it is not confirmed yet, and the line and the quantity are its own."""
    p: Procurement | None = world.procurements.get(asked.procurement_id)
    if (
        p is None
        or credential.scope != "supplier"
        or org_of(world, p.supplier_business_id) != credential.organization_id
    ):
        raise Refused("unknown_procurement", 404)
    if p.status is not m.ProcurementStatus.ORDER_REQUESTED:
        raise Refused("already_confirmed", 409)
    wanted = asked.sellable_id or p.source_items[0].sellable_id
    item = next((i for i in p.source_items if i.sellable_id == wanted), None)
    if item is None:
        raise Refused("unknown_line")
    quantity = item.quantity if asked.quantity is None else asked.quantity
    if quantity > item.quantity:
        raise Refused("quantity_above_ordered")
    variance = InvoiceVariance(
        sellable_id=item.sellable_id, quantity=quantity, unit_price=asked.unit_price or item.trade_price
    )
    p.invoice_variances = [v for v in p.invoice_variances if v.sellable_id != wanted] + [variance]
    return variance


@dataclass(eq=False)
class DiscrepancyRoute:
    """``POST /__dev/invoice_discrepancy``, bound to one sandbox's store."""

    store: Store
    _: KW_ONLY
    tenant_of: Callable[[Request], str]
    world_of: Callable[[str], Awaitable[World]]
    clock: Callable[[], float]

    def routes(self) -> list[Route]:
        return [Route(DISCREPANCY_PATH, unproxied(self.invoice_discrepancy), methods=["POST"])]

    async def invoice_discrepancy(self, request: Request) -> Response:
        if not is_loopback_client(request.client.host if request.client else None):
            return refuse("not_loopback", 403)
        try:
            tenant, credential = await dev_caller(request, self.tenant_of, self.world_of)
            body = json_object(await read_body(request, _MAX_BODY))
            if body is None:
                raise Refused("bad_body")
            asked = _asked(body)
            vary = functools.partial(_vary, credential=credential, asked=asked)
            variance = await anyio.to_thread.run_sync(self.store.transact, tenant, self.clock(), vary)
        except Refused as refused:
            return refuse(refused.reason, refused.status)
        return reply(
            {
                "ok": True,
                "procurement_id": str(asked.procurement_id),
                "sellable_id": str(variance.sellable_id),
                "quantity": variance.quantity,
                "unit_price": variance.unit_price,
            }
        )
