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
from rails_mcp.wire.untrusted import word

__all__ = [
    "CURRENCY_NOTE",
    "ApprovalOutcome",
    "ApprovalStatus",
    "BasketReading",
    "BusinessView",
    "BuyerProcurementView",
    "IdentityView",
    "InvoiceView",
    "JobView",
    "LineDifference",
    "OfferView",
    "OneKey",
    "OrderForApproval",
    "OrderLine",
    "OrderMatch",
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
    "match_order",
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


class BuyerProcurementView(OneKey):
    """A procurement as the repairer (the buyer) sees it: its essentials and its supplier, the
    total computed from its lines. Tools that only ever show the buyer's view publish this."""

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


class ProcurementView(BuyerProcurementView):
    """Either side's view: ``supplier`` in the repairer's; ``buyer`` and
    ``buyer_shipping_address`` in the supplier's."""

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


# --- the three-way match: the order, its invoices, its credit notes --------------------------------

#: How an ordered line differs from what was invoiced for it.
LineIssue = Literal["price", "quantity", "not_invoiced", "not_ordered", "status"]


class LineDifference(OneKey):
    """One line the invoices do not match: ordered beside invoiced (credits taken off); the
    line's totals are quantity times unit price, the order's are on :class:`OrderMatch`."""

    sellable_id: str
    issues: list[LineIssue]
    ordered_quantity: int
    invoiced_quantity: int
    ordered_unit_price: str | None = None
    invoiced_unit_price: str | None = None


class OrderMatch(OneKey):
    """One order matched line by line against its invoices less its credit notes: ``matched``
    when no line differs and no invoice has a problem."""

    procurement_id: str
    matched: bool
    ordered_total: str
    invoiced_total: str
    credited_total: str | None = None
    differences: list[LineDifference] | None = None
    problems: list[str] | None = None


#: An invoice line with the sign of its document: 1 an invoice's, -1 a credit note's.
_Signed = tuple[int, m.InvoiceLineItemV1]


def match_order(procurement: m.BuyerProcurementV1, invoices: Sequence[m.InvoiceV1]) -> OrderMatch:
    """Each ordered line (quantity, unit price) against its invoice lines less credit-note lines
    (a credit line takes its quantity and its total off); any difference, or a status or value
    this server does not know, needs attention."""
    problems = [text for inv in invoices for text in _invoice_problems(inv, procurement)]
    found: dict[UUID, list[_Signed]] = {}
    for inv in invoices:
        sign = _document_sign(inv)
        for li in inv.line_items if sign else ():
            found.setdefault(li.source_item_id, []).append((sign, li))
    ordered = {item.id for item in procurement.source_items}
    differences = [
        d for item in procurement.source_items if (d := _line_difference(item, found.get(item.id, [])))
    ]
    differences += [_not_ordered(lines) for sid, lines in found.items() if sid not in ordered]
    credited = sum((abs(Decimal(i.total)) for i in invoices if _document_sign(i) < 0), Decimal(0))
    billed = sum((abs(Decimal(i.total)) for i in invoices if _document_sign(i) > 0), Decimal(0))
    return OrderMatch(
        procurement_id=str(procurement.id),
        matched=not differences and not problems,
        ordered_total=money(order_total(procurement.source_items)),
        invoiced_total=money(billed - credited),
        credited_total=money(credited) if credited else None,
        differences=differences or None,
        problems=problems or None,
    )


def _document_sign(inv: m.InvoiceV1) -> int:
    """1 for an invoice, -1 for a credit note, 0 for a document type this server does not know."""
    return {m.DocumentType.INVOICE: 1, m.DocumentType.CREDIT_NOTE: -1}.get(inv.document_type, 0)


def _invoice_problems(inv: m.InvoiceV1, procurement: m.BuyerProcurementV1) -> list[str]:
    """What is wrong with one invoice as a whole; its values are the wire's, shown as data."""
    problems: list[str] = []
    if inv.status is not m.InvoiceStatus.RECONCILED:
        problems.append(f"Invoice {inv.id} has status {word(inv.status.value)}, not reconciled.")
    if not _document_sign(inv):
        problems.append(f"Invoice {inv.id} is a {word(inv.document_type.value)}: not counted.")
    if inv.currency_code != procurement.currency_code:
        problems.append(
            f"Invoice {inv.id} is in {word(inv.currency_code)}, the order in "
            f"{word(procurement.currency_code)}."
        )
    lines = sum((Decimal(li.total) for li in inv.line_items), Decimal(0))
    if lines != Decimal(inv.total):
        problems.append(f"Invoice {inv.id} totals {word(inv.total)} but its lines sum to {money(lines)}.")
    return problems


def _net(lines: Sequence[_Signed]) -> tuple[int, Decimal]:
    """The quantity and the amount invoiced, credits taken off."""
    quantity = sum(sign * abs(li.quantity) for sign, li in lines)
    return quantity, sum((sign * abs(Decimal(li.total)) for sign, li in lines), Decimal(0))


def _line_difference(item: m.SourceItemV1, lines: Sequence[_Signed]) -> LineDifference | None:
    """How the invoices differ from one ordered line (None: they match it exactly)."""
    quantity, amount = _net(lines)
    price = Decimal(item.trade_price)
    issues: list[LineIssue] = []
    if not any(sign > 0 for sign, _ in lines):
        issues.append("not_invoiced")
    else:
        if quantity != item.quantity:
            issues.append("quantity")
        if amount != price * quantity:
            issues.append("price")
    if any(li.reconciliation is not m.LineReconciliation.MATCHED for _, li in lines):
        issues.append("status")
    if not issues:
        return None
    return LineDifference(
        sellable_id=str(item.sellable_id),
        issues=issues,
        ordered_quantity=item.quantity,
        invoiced_quantity=quantity,
        ordered_unit_price=item.trade_price,
        invoiced_unit_price=money(amount / quantity) if quantity else None,
    )


def _not_ordered(lines: Sequence[_Signed]) -> LineDifference:
    """Invoice lines naming no line of the order."""
    quantity, amount = _net(lines)
    return LineDifference(
        sellable_id=str(lines[0][1].sellable_id),
        issues=["not_ordered"],
        ordered_quantity=0,
        invoiced_quantity=quantity,
        invoiced_unit_price=money(amount / quantity) if quantity else None,
    )
