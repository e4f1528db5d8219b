"""The rules of procurements and their invoices, for the buyer and for the supplier.

A procurement places basket offers of one supplier; the supplier's confirmation locks its
parts and issues the one invoice. Each change emits the buyer's and the supplier's event.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from rails_mcp.sandbox.world import (
    CURRENCY,
    Call,
    Emit,
    Job,
    Procurement,
    World,
    buyer_procurement,
    org_of,
    owned_job,
    supplier_procurement,
)
from rails_mcp.wire import errors as e
from rails_mcp.wire import models as m
from rails_mcp.wire.webhooks import EventType

__all__ = [
    "buyer_view",
    "invoices_get",
    "invoices_list",
    "procurements_get",
    "procurements_insert",
    "procurements_list",
    "supplier_procurements_confirm",
    "supplier_procurements_get",
    "supplier_view",
]


# --- views -------------------------------------------------------------------------------


def _procurement_fields(p: Procurement) -> dict[str, Any]:
    return {
        "id": p.id,
        "job_id": p.job_id,
        "reference": p.reference,
        "status": p.status,
        "currency_code": p.currency_code,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "source_items": list(p.source_items),
        "total_shipping_price": p.total_shipping_price,
        "vehicle": p.vehicle,
    }


def buyer_view(world: World, p: Procurement) -> m.BuyerProcurementV1:
    supplier = world.businesses[p.supplier_business_id]
    org = world.organizations[supplier.organization_id]
    return m.BuyerProcurementV1.model_validate(
        {
            **_procurement_fields(p),
            "supplier_business": m.SupplierBusinessV1(id=supplier.id, name=supplier.name),
            "supplier_organization": m.SupplierOrganizationV1(id=org.id, name=org.name),
        }
    )


def supplier_view(world: World, p: Procurement) -> m.SupplierProcurementV1:
    buyer = world.businesses[p.buyer_business_id]
    org = world.organizations[buyer.organization_id]
    if buyer.shipping_address is None:  # every repairer site is seeded with one
        raise e.ServerError(detail="buyer business has no shipping address")
    return m.SupplierProcurementV1.model_validate(
        {
            **_procurement_fields(p),
            "buyer_business": m.BuyerBusinessV1(id=buyer.id, name=buyer.name),
            "buyer_organization": m.BuyerOrganizationV1(id=org.id, name=org.name),
            "buyer_shipping_address": buyer.shipping_address,
        }
    )


def _money(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01')):.2f}"


# --- the buyer's rules -------------------------------------------------------------------


def procurements_get(world: World, call: Call, req: m.ProcurementsGetRequestV1) -> m.BuyerProcurementV1:
    return buyer_view(world, buyer_procurement(world, call, req.identity.id))


def procurements_list(
    world: World, call: Call, req: m.ProcurementsListRequestV1
) -> m.ProcurementsListResponseV1:
    job = owned_job(world, call, req.job_identity)
    org = call.org
    return m.ProcurementsListResponseV1(
        items=[
            buyer_view(world, p)
            for p in world.procurements.values()
            if p.job_id == job.id and org_of(world, p.buyer_business_id) == org
        ]
    )


def procurements_insert(
    world: World, call: Call, req: m.ProcurementsInsertRequestV1
) -> m.ProcurementsInsertResponseV1:
    """Place selected basket offers with one supplier; the parts become ``ordered``."""
    job = owned_job(world, call, req.job_identity)
    chosen = _chosen_offers(job, req.offer_selections)
    suppliers = {o.supplier_business_id for o in chosen}
    if len(suppliers) != 1:
        raise e.Unprocessable(detail="all offers of one procurement come from one supplier")
    now = call.timestamp
    vehicle = job.vehicle or m.VehicleV1()
    procurement = Procurement(
        id=uuid4(),
        job_id=job.id,
        reference=f"PR-{len(world.procurements) + 1}",
        status=m.ProcurementStatus.ORDER_REQUESTED,
        currency_code=CURRENCY,
        created_at=now,
        updated_at=now,
        buyer_business_id=job.repairer_site_id,
        supplier_business_id=suppliers.pop(),
        source_items=[
            m.SourceItemV1(
                id=uuid4(),
                sellable_id=o.sellable_id,
                name=o.name,
                job_part_ids=list(o.job_part_ids),
                quantity=o.quantity,
                trade_price=o.trade_price,
                condition=o.condition,
            )
            for o in chosen
        ],
        total_shipping_price=None,
        vehicle=m.ProcurementVehicleV1(
            chassis_number=vehicle.chassis_number,
            plate_number=vehicle.plate_number,
            plate_state=vehicle.plate_state,
        ),
    )
    world.procurements[procurement.id] = procurement
    ordered = {part_id for o in chosen for part_id in o.job_part_ids}
    for part in job.parts:
        if part.id in ordered:
            part.status = m.PartStatusV1.ORDERED
    _emit_procurement(world, call, procurement)
    return m.ProcurementsInsertResponseV1(procurement=buyer_view(world, procurement))


def _chosen_offers(job: Job, selections: list[m.OfferSelectionV1]) -> list[m.OfferV1]:
    """The basket offers the selections name, each matching its offer exactly.

    A part may be selected once and must not be ordered already.
    """
    offers = {o.sellable_id: o for o in job.offers}
    parts = {p.id: p for p in job.parts}
    covered: set[UUID] = set()
    chosen: list[m.OfferV1] = []
    for sel in selections:
        offer = offers.get(sel.sellable_id)
        if offer is None:
            raise e.Unprocessable(detail=f"{sel.sellable_id} is not an offer of the latest basket")
        _check_selection_matches(sel, offer)
        for part_id in offer.job_part_ids:
            if part_id in covered:
                raise e.Unprocessable(detail="a part is selected twice")
            if parts[part_id].status is m.PartStatusV1.ORDERED:
                raise e.Unprocessable(detail="a selected part is already ordered")
            covered.add(part_id)
        chosen.append(offer)
    return chosen


def _check_selection_matches(sel: m.OfferSelectionV1, offer: m.OfferV1) -> None:
    """A selection repeats its offer's supplier, parts and quantity, or is refused."""
    if sel.supplier_business_id != offer.supplier_business_id:
        raise e.Unprocessable(detail="supplier_business_id does not match the offer")
    if len(set(sel.job_part_ids)) != len(sel.job_part_ids) or set(sel.job_part_ids) != set(
        offer.job_part_ids
    ):
        raise e.Unprocessable(detail="job_part_ids do not match the offer")
    if sel.quantity != offer.quantity:
        raise e.Unprocessable(detail="quantity does not match the offer")


def invoices_list(
    world: World, call: Call, req: m.ProcurementsInvoicesListRequestV1
) -> m.ProcurementsInvoicesListResponseV1:
    """Exactly one selector; empty until the procurement is confirmed."""
    if req.selector_count() != 1:
        raise e.BadRequest(detail="give exactly one of procurement_identity and job_identity")
    if req.procurement_identity is not None:
        wanted = {buyer_procurement(world, call, req.procurement_identity.id).id}
    else:
        assert req.job_identity is not None
        job = owned_job(world, call, req.job_identity)
        org = call.org
        wanted = {
            p.id
            for p in world.procurements.values()
            if p.job_id == job.id and org_of(world, p.buyer_business_id) == org
        }
    return m.ProcurementsInvoicesListResponseV1(
        items=[i for i in world.invoices.values() if i.procurement_id in wanted]
    )


def invoices_get(
    world: World, call: Call, req: m.ProcurementsInvoicesGetRequestV1
) -> m.ProcurementsInvoicesGetResponseV1:
    invoice = world.invoices.get(req.identity.id)
    if invoice is None:
        raise e.NotFound(detail="no such invoice")
    buyer_procurement(world, call, invoice.procurement_id)  # another org's: not_found
    return m.ProcurementsInvoicesGetResponseV1(invoice=invoice)


# --- the supplier's rules ----------------------------------------------------------------


def supplier_procurements_get(
    world: World, call: Call, req: m.SupplierProcurementsGetRequestV1
) -> m.SupplierProcurementV1:
    return supplier_view(world, supplier_procurement(world, call, req.identity.id))


def supplier_procurements_confirm(
    world: World, call: Call, req: m.SupplierProcurementsConfirmRequestV1
) -> m.SupplierProcurementV1:
    """order_requested → order_confirmed plus one invoice; a repeat changes nothing."""
    p = supplier_procurement(world, call, req.identity.id)
    if p.status is m.ProcurementStatus.CANCELLED:
        raise e.Unprocessable(detail="a cancelled procurement cannot be confirmed")
    if p.status is m.ProcurementStatus.ORDER_REQUESTED:
        p.status = m.ProcurementStatus.ORDER_CONFIRMED
        p.updated_at = call.timestamp
        if not any(i.procurement_id == p.id for i in world.invoices.values()):
            invoice = _invoice(p, call.timestamp)
            world.invoices[invoice.id] = invoice
        _emit_procurement(world, call, p)
    return supplier_view(world, p)


def _emit_procurement(world: World, call: Call, p: Procurement) -> None:
    """The two events of a procurement change: the buyer's and the supplier's."""
    data = {"procurement_id": str(p.id), "job_id": str(p.job_id), "status": p.status.value}
    for event_type, business_id in (
        (EventType.REPAIRER_PROCUREMENTS, p.buyer_business_id),
        (EventType.SUPPLIER_PROCUREMENTS, p.supplier_business_id),
    ):
        org = org_of(world, business_id)
        if org is not None:
            call.events.append(Emit(event_type, org, dict(data)))


def _invoice(p: Procurement, issued_at: str) -> m.InvoiceV1:
    """The supplier's invoice: each line as ordered, unless a dev-set variance says otherwise
    (a line shipped at none is left off). The wire's statuses stay reconciled and matched:
    the buyer's own match has to find the difference."""
    variances = {v.sellable_id: v for v in p.invoice_variances}
    lines: list[m.InvoiceLineItemV1] = []
    total = Decimal(0)
    for item in p.source_items:
        variance = variances.get(item.sellable_id)
        quantity = item.quantity if variance is None else variance.quantity
        unit_price = item.trade_price if variance is None else variance.unit_price
        if not quantity:
            continue
        line_total = Decimal(unit_price) * quantity
        total += line_total
        lines.append(
            m.InvoiceLineItemV1(
                id=uuid4(),
                source_item_id=item.id,
                sellable_id=item.sellable_id,
                name=item.name,
                quantity=quantity,
                unit_price=unit_price,
                total=_money(line_total),
                reconciliation=m.LineReconciliation.MATCHED,
            )
        )
    return m.InvoiceV1(
        id=uuid4(),
        procurement_id=p.id,
        job_id=p.job_id,
        document_type=m.DocumentType.INVOICE,
        status=m.InvoiceStatus.RECONCILED,
        currency_code=p.currency_code,
        total=_money(total),
        issued_at=issued_at,
        line_items=lines,
    )
