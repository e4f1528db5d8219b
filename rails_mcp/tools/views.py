"""Shared presenters: how jobs, parts, procurements and invoices look to the agent, money, and
the one helper that turns a wire failure into an enriched tool error."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, SerializerFunctionWrapHandler, model_serializer

from rails_mcp.errors import ToolFailure, WireContext, wire_error
from rails_mcp.guard import money
from rails_mcp.wire import models as m
from rails_mcp.wire.errors import RailsError

from .base import OrderLine, Shape

__all__ = [
    "BusinessView",
    "IdentityView",
    "InvoiceView",
    "JobView",
    "OneKey",
    "PartCounts",
    "PartView",
    "ProcurementView",
    "job_ctx",
    "job_label",
    "money",
    "order_line",
    "parts_view",
    "procurement_ctx",
    "procurement_view",
    "total_of",
    "wire",
]

T = TypeVar("T")


class OneKey(Shape):
    """A wrapper whose unset keys are left out (``{"external": "x"}``, never ``"id": null``)."""

    @model_serializer(mode="wrap")
    def _present_keys(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class IdentityView(OneKey):
    """A job as the agent addresses it: exactly one of the two keys is present."""

    external: str | None = None
    id: str | None = None


class BusinessView(Shape):
    id: str
    name: str


class VehicleView(Shape):
    chassis_number: str | None
    plate_number: str | None
    plate_state: str | None


class ImageView(Shape):
    id: str
    url: str


class JobView(Shape):
    id: str
    external_id: str | None
    job_number: str | None
    claim_number: str | None
    repairer_site_id: str
    work_provider_id: str | None
    vehicle: VehicleView | None
    images: list[ImageView]


class PartView(Shape):
    id: str
    external_id: str | None
    description: str
    quantity: int
    part_number: str | None
    status: m.ReportedPartStatus


class PartCounts(Shape):
    estimated: int
    ordered: int


class ProcurementLine(Shape):
    sellable_id: str
    name: str
    job_part_ids: list[str]
    quantity: int
    trade_price: str


class AddressView(Shape):
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str
    country_code: str


class ProcurementView(OneKey):
    """A procurement's essentials, its total computed from its lines. ``supplier`` in the
    repairer's view; ``buyer`` and ``buyer_shipping_address`` in the supplier's."""

    id: str
    reference: str | None
    status: m.ReportedProcurementStatus
    job_id: str
    currency_code: str | None
    total: str
    lines: list[ProcurementLine]
    created_at: str
    updated_at: str
    supplier: BusinessView | None = None
    buyer: BusinessView | None = None
    buyer_shipping_address: AddressView | None = None


class InvoiceLineView(Shape):
    id: str
    source_item_id: str
    sellable_id: str
    name: str
    quantity: int
    unit_price: str
    total: str
    reconciliation: m.ReportedLineReconciliation


class InvoiceView(Shape):
    id: str
    procurement_id: str
    job_id: str
    document_type: m.ReportedDocumentType
    status: m.ReportedInvoiceStatus
    currency_code: str
    total: str
    issued_at: str
    line_items: list[InvoiceLineView]
    all_lines_matched: bool


# --- presenters ------------------------------------------------------------------------------


def _json(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def business_view(
    b: m.BusinessV1 | m.WorkProviderV1 | m.SupplierBusinessV1 | m.BuyerBusinessV1,
) -> BusinessView:
    return BusinessView(id=str(b.id), name=b.name)


def job_view(job: m.JobV1) -> JobView:
    return JobView.model_validate(_json(job))


def part_view(part: m.PartV1) -> PartView:
    return PartView.model_validate(_json(part))


def identity_view(job: m.Identity) -> IdentityView:
    return IdentityView.model_validate(_json(job))


def total_of(items: Sequence[m.SourceItemV1]) -> str:
    return money(sum((Decimal(i.trade_price) * i.quantity for i in items), Decimal(0)))


LineT = TypeVar("LineT", ProcurementLine, OrderLine)


def order_line(item: m.OfferV1 | m.SourceItemV1, kind: type[LineT]) -> LineT:
    """One line of an order, from a basket offer (to approve) or a placed item (to track) alike."""
    return kind(
        sellable_id=str(item.sellable_id),
        name=item.name,
        job_part_ids=[str(x) for x in item.job_part_ids],
        quantity=item.quantity,
        trade_price=item.trade_price,
    )


def procurement_view(p: m.BuyerProcurementV1 | m.SupplierProcurementV1) -> ProcurementView:
    view = ProcurementView(
        id=str(p.id),
        reference=p.reference,
        status=p.status,
        job_id=str(p.job_id),
        currency_code=p.currency_code,
        total=total_of(p.source_items),
        lines=[order_line(i, ProcurementLine) for i in p.source_items],
        created_at=p.created_at,
        updated_at=p.updated_at,
    )
    if isinstance(p, m.BuyerProcurementV1):
        view.supplier = business_view(p.supplier_business)
    else:
        view.buyer = business_view(p.buyer_business)
        view.buyer_shipping_address = AddressView.model_validate(_json(p.buyer_shipping_address))
    return view


def parts_view(parts: Sequence[m.PartV1]) -> tuple[list[PartView], PartCounts]:
    views = [part_view(p) for p in parts]
    estimated = sum(1 for p in parts if p.status is m.PartStatusV1.ESTIMATED)
    ordered = sum(1 for p in parts if p.status is m.PartStatusV1.ORDERED)
    return views, PartCounts(estimated=estimated, ordered=ordered)


def invoice_view(inv: m.InvoiceV1) -> InvoiceView:
    return InvoiceView.model_validate(
        {
            **_json(inv),
            "all_lines_matched": all(
                li.reconciliation is m.LineReconciliation.MATCHED for li in inv.line_items
            ),
        }
    )


# --- wire failures ---------------------------------------------------------------------------


async def wire(ctx: WireContext, call: Awaitable[T]) -> T:
    """Await a wire call; a wire failure ends the tool with an error enriched by ``ctx``."""
    try:
        return await call
    except RailsError as exc:
        raise ToolFailure(wire_error(exc, ctx)) from None


def job_label(job: m.Identity) -> str:
    return f'external "{job.external}"' if isinstance(job, m.ExternalIdentity) else f"id {job.id}"


def job_ctx(tool: str, job: m.Identity, **kw: Any) -> WireContext:
    return WireContext(
        tool=tool,
        not_found=f"No repair job with {job_label(job)} exists for this repairer.",
        not_found_fix=(
            'Check the reference (the key is "external", not "external_id"), or create the job '
            "with open_repair_job."
        ),
        not_found_next_tool="open_repair_job",
        **kw,
    )


def procurement_ctx(
    tool: str,
    procurement_id: UUID,
    *,
    not_found_fix: str = (
        "Use a procurement id from list_procurements for the job (ids of other jobs' or "
        "tenants' orders are not visible)."
    ),
    **kw: Any,
) -> WireContext:
    return WireContext(
        tool=tool,
        not_found=f"No procurement {procurement_id} is visible to this credential.",
        not_found_fix=not_found_fix,
        not_found_next_tool="list_procurements",
        **kw,
    )
