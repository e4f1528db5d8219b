"""How the wire's things look to an agent, once: money and the one order total, the views of jobs,
parts, procurements, invoices and the basket, and the order a person is asked to approve.

Tools and resources both present from here, so a procurement or a basket reads the same through
either. Pure data over the wire's models (no I/O): the guard computes its totals here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol, TypeVar
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from rails_mcp.wire import models as m

__all__ = [
    "CURRENCY_NOTE",
    "ApprovalOutcome",
    "ApprovalStatus",
    "BasketReading",
    "BusinessView",
    "IdentityView",
    "InvoiceView",
    "JobView",
    "OfferView",
    "OneKey",
    "OrderForApproval",
    "OrderLine",
    "PartCounts",
    "PartView",
    "ProcurementView",
    "Shape",
    "SupplierOffers",
    "basket_reading",
    "business_view",
    "identity_view",
    "invoice_view",
    "job_label",
    "job_view",
    "money",
    "order_line",
    "order_total",
    "part_counts",
    "part_view",
    "parts_view",
    "procurement_view",
]

CURRENCY_NOTE = (
    "trade_price is a bare decimal string: the basket carries no currency. Currency first "
    "appears as currency_code on the procurement."
)


class Shape(BaseModel):
    """Base of the tools' nested shapes: each pydantic schema is built on first use, not at
    import (start-up builds none; the published schemas come from ``published_tools.json``)."""

    model_config = ConfigDict(defer_build=True)


# --- money -------------------------------------------------------------------------------------


class Priced(Protocol):
    """A basket offer, a placed line or an approval line: a unit price and a quantity."""

    @property
    def trade_price(self) -> str: ...
    @property
    def quantity(self) -> int: ...


def money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def order_total(lines: Iterable[Priced]) -> Decimal:
    """What an order of these lines costs: each unit price times its quantity, summed."""
    return sum((Decimal(line.trade_price) * line.quantity for line in lines), Decimal(0))


# --- the order a person approves -----------------------------------------------------------------

#: What became of the approval of one order (``off``: approval is not asked on this server).
ApprovalStatus = Literal["approved", "declined", "off", "not_requested (host cannot ask)"]


class OrderLine(Shape):
    """One line of an order: a basket offer to approve or a placed item to track alike."""

    sellable_id: str
    name: str
    job_part_ids: list[str]
    quantity: int
    trade_price: str


def job_label(job: m.Identity | Mapping[str, Any]) -> str:
    """A job as a sentence names it: ``external "CCC-1"`` or ``id <uuid>``."""
    if isinstance(job, m.ExternalIdentity):
        return f'external "{job.external}"'
    if isinstance(job, m.IdIdentity):
        return f"id {job.id}"
    return f'external "{job["external"]}"' if "external" in job else f"id {job.get('id', '?')}"


class OrderForApproval(Shape):
    """What a human is asked to approve before ``place_procurement`` writes to the wire."""

    job: dict[str, str]
    supplier_business_id: str
    supplier_name: str | None
    lines: list[OrderLine]
    total: str
    currency: str | None = None
    is_extension: bool
    arguments: dict[str, Any] = Field(default_factory=dict[str, Any])

    @property
    def part_ids(self) -> list[str]:
        return [pid for line in self.lines for pid in line.job_part_ids]


class ApprovalOutcome(Shape):
    status: ApprovalStatus
    detail: str | None = None


# --- views -------------------------------------------------------------------------------------


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
    lines: list[OrderLine]
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


ViewT = TypeVar("ViewT", bound=BaseModel)


def _as(kind: type[ViewT], model: BaseModel) -> ViewT:
    return kind.model_validate(model.model_dump(mode="json"))


def business_view(
    b: m.BusinessV1 | m.WorkProviderV1 | m.SupplierBusinessV1 | m.BuyerBusinessV1,
) -> BusinessView:
    return BusinessView(id=str(b.id), name=b.name)


def job_view(job: m.JobV1) -> JobView:
    return _as(JobView, job)


def part_view(part: m.PartV1) -> PartView:
    return _as(PartView, part)


def identity_view(job: m.Identity) -> IdentityView:
    return _as(IdentityView, job)


def order_line(item: m.OfferV1 | m.SourceItemV1) -> OrderLine:
    return OrderLine(
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
        total=money(order_total(p.source_items)),
        lines=[order_line(i) for i in p.source_items],
        created_at=p.created_at,
        updated_at=p.updated_at,
    )
    if isinstance(p, m.BuyerProcurementV1):
        view.supplier = business_view(p.supplier_business)
    else:
        view.buyer = business_view(p.buyer_business)
        view.buyer_shipping_address = _as(AddressView, p.buyer_shipping_address)
    return view


def parts_view(parts: Sequence[m.PartV1]) -> tuple[list[PartView], PartCounts]:
    return [part_view(p) for p in parts], part_counts(parts)


def part_counts(parts: Sequence[m.PartV1]) -> PartCounts:
    """How many parts are estimated and ordered (a status the API added since is neither)."""
    estimated = sum(1 for p in parts if p.status is m.PartStatusV1.ESTIMATED)
    ordered = sum(1 for p in parts if p.status is m.PartStatusV1.ORDERED)
    return PartCounts(estimated=estimated, ordered=ordered)


def invoice_view(inv: m.InvoiceV1) -> InvoiceView:
    return InvoiceView.model_validate(
        {
            **inv.model_dump(mode="json"),
            "all_lines_matched": all(
                li.reconciliation is m.LineReconciliation.MATCHED for li in inv.line_items
            ),
        }
    )


# --- the basket --------------------------------------------------------------------------------


class OfferView(Shape):
    sellable_id: str
    name: str
    job_part_ids: list[str]
    part_status: list[str]
    quantity: int
    trade_price: str
    condition: str


class SupplierOffers(Shape):
    business_id: str
    name: str
    confirmable: bool = Field(description="Only a confirmable supplier can confirm an order placed with it.")
    offers: list[OfferView]


@dataclass(frozen=True, slots=True)
class BasketReading:
    """The basket as both the tool and the resource show it."""

    suppliers: list[SupplierOffers]
    #: The guard's ready selection (every estimated part a confirmable supplier covers).
    ready: list[m.OfferV1]
    ready_total: str
    not_confirmable: list[m.PartV1]
    unpriced: list[m.PartV1]


def basket_reading(
    basket: m.BasketsLatestGetResponseV1,
    parts: Sequence[m.PartV1],
    confirmable: frozenset[UUID],
    ready: Sequence[m.OfferV1],
) -> BasketReading:
    """Offers grouped by supplier, who can confirm, the ready order and what it cannot cover."""
    status = {p.id: p.status.value for p in parts}
    suppliers = [
        SupplierOffers(
            business_id=str(s.business_id),
            name=s.name,
            confirmable=s.business_id in confirmable,
            offers=[
                OfferView(
                    sellable_id=str(o.sellable_id),
                    name=o.name,
                    job_part_ids=[str(x) for x in o.job_part_ids],
                    part_status=[status.get(x, "unknown") for x in o.job_part_ids],
                    quantity=o.quantity,
                    trade_price=o.trade_price,
                    condition=o.condition.type,
                )
                for o in basket.offers
                if o.supplier_business_id == s.business_id
            ],
        )
        for s in basket.suppliers
    ]
    covered = {x for o in ready for x in o.job_part_ids}
    priced = {pid for o in basket.offers for pid in o.job_part_ids}
    return BasketReading(
        suppliers=suppliers,
        ready=list(ready),
        ready_total=money(order_total(ready)),
        not_confirmable=[p for p in parts if p.status is m.PartStatusV1.ESTIMATED and p.id not in covered],
        unpriced=[p for p in parts if p.id not in priced],
    )
