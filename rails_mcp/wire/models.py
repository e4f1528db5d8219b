"""Pydantic models of the Rails Integrations API, 2026-01, and its proposed extensions.

This module is the one definition of the contract: the client serialises requests and
parses responses with it, the embedded sandbox validates requests and renders responses
with it, and ``/openapi.json`` is generated from it. Names follow the contract's schema
names (``JobV1``, ``OfferV1``...). Requests forbid unknown keys (the wire is strict);
responses ignore unknown keys so that a newer server does not break an older client.

The client reads answers with :data:`READ_TOLERANTLY` (see :mod:`rails_mcp.wire.tolerant`):
a status or reconciliation value the API added since 2026-01 is kept as its string, and keys
added inside the closed objects are dropped; the sandbox stays strict.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from rails_mcp.wire.tolerant import READ_TOLERANTLY, ClosedObject, is_unknown, open_enum, reported_enum

__all__ = [
    "EXTENSION_BANNER",
    "READ_TOLERANTLY",
    "AddressV1",
    "BasketsLatestGetRequestV1",
    "BasketsLatestGetResponseV1",
    "BusinessV1",
    "BusinessesListRequestV1",
    "BusinessesListResponseV1",
    "BuyerBusinessV1",
    "BuyerOrganizationV1",
    "BuyerProcurementV1",
    "ConditionV1",
    "DocumentType",
    "ExternalIdentity",
    "IdIdentity",
    "Identity",
    "ImageV1",
    "IntegrationsInstallRequestV1",
    "IntegrationsInstallResponseV1",
    "InvalidIdentifierV1",
    "InvoiceLineItemV1",
    "InvoiceStatus",
    "InvoiceV1",
    "JobLookupIdentity",
    "JobV1",
    "JobsGetRequestV1",
    "JobsInsertRequestV1",
    "JobsPartsInsertRequestV1",
    "JobsPartsListRequestV1",
    "JobsPartsListResponseV1",
    "LineReconciliation",
    "Money",
    "OfferSelectionV1",
    "OfferV1",
    "PartInsertV1",
    "PartStatusV1",
    "PartV1",
    "ProcurementIdentity",
    "ProcurementStatus",
    "ProcurementVehicleV1",
    "ProcurementsGetRequestV1",
    "ProcurementsInsertRequestV1",
    "ProcurementsInsertResponseV1",
    "ProcurementsInvoicesGetRequestV1",
    "ProcurementsInvoicesGetResponseV1",
    "ProcurementsInvoicesListRequestV1",
    "ProcurementsInvoicesListResponseV1",
    "ProcurementsListRequestV1",
    "ProcurementsListResponseV1",
    "ReportedDocumentType",
    "ReportedInvoiceStatus",
    "ReportedLineReconciliation",
    "ReportedPartStatus",
    "ReportedProcurementStatus",
    "SiteJobNumberIdentity",
    "SiteJobNumberV1",
    "SourceItemV1",
    "SupplierBusinessV1",
    "SupplierOrganizationV1",
    "SupplierProcurementV1",
    "SupplierProcurementsConfirmRequestV1",
    "SupplierProcurementsGetRequestV1",
    "SupplierV1",
    "Tier1PrepareRequestV1",
    "Tier1PrepareResponseV1",
    "UploadsPrepareRequestV1",
    "UploadsPrepareResponseV1",
    "VehicleIdentifier",
    "VehicleV1",
    "VinIdentifier",
    "VrmIdentifier",
    "WorkProviderV1",
    "WorkProvidersListRequestV1",
    "WorkProvidersListResponseV1",
    "is_unknown",
]

#: The verbatim banner that opens every extension surface (seeds 000/001/002).
EXTENSION_BANNER = (
    "(Proposed extension beyond the public 2026-01 API — the public contract stops at "
    "order_confirmed; this completes the buyer loop.)"
)

#: A bare decimal string such as ``"631.00"``; never a float, never with a currency (the
#: vendor's decision D52).
Money = Annotated[str, StringConstraints(pattern=r"^-?\d{1,12}\.\d{2}$")]

NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class WireRequest(BaseModel):
    """A request body: unknown keys are a ``bad_request``, never silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class WireResponse(BaseModel):
    """A response body: tolerant of keys a newer server may add."""

    model_config = ConfigDict(extra="ignore", defer_build=True)


# --- enums, spelled exactly as the contract spells them ----------------------------------


class PartStatusV1(StrEnum):
    ESTIMATED = "estimated"
    ORDERED = "ordered"


class ProcurementStatus(StrEnum):
    """``procurements.v1.buyer.Status``."""

    ORDER_REQUESTED = "order_requested"
    ORDER_CONFIRMED = "order_confirmed"
    CANCELLED = "cancelled"


class DocumentType(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceStatus(StrEnum):
    RECONCILED = "reconciled"


class LineReconciliation(StrEnum):
    MATCHED = "matched"


#: The response-side enums, open to values a newer API adds (when read tolerantly).
OpenPartStatus = Annotated[PartStatusV1, open_enum(PartStatusV1)]
OpenProcurementStatus = Annotated[ProcurementStatus, open_enum(ProcurementStatus)]
OpenDocumentType = Annotated[DocumentType, open_enum(DocumentType)]
OpenInvoiceStatus = Annotated[InvoiceStatus, open_enum(InvoiceStatus)]
OpenLineReconciliation = Annotated[LineReconciliation, open_enum(LineReconciliation)]

#: The same enums as a tool reports them: any value the client kept, published as such.
ReportedPartStatus = Annotated[
    PartStatusV1, open_enum(PartStatusV1, always=True), reported_enum(PartStatusV1)
]
ReportedProcurementStatus = Annotated[
    ProcurementStatus, open_enum(ProcurementStatus, always=True), reported_enum(ProcurementStatus)
]
ReportedDocumentType = Annotated[
    DocumentType, open_enum(DocumentType, always=True), reported_enum(DocumentType)
]
ReportedInvoiceStatus = Annotated[
    InvoiceStatus, open_enum(InvoiceStatus, always=True), reported_enum(InvoiceStatus)
]
ReportedLineReconciliation = Annotated[
    LineReconciliation, open_enum(LineReconciliation, always=True), reported_enum(LineReconciliation)
]


# --- identity wrappers: oneOf {external} | {id}, exactly one key -------------------------


class ExternalIdentity(WireRequest):
    """Your own reference for the record. The key is ``external``, not ``external_id``."""

    external: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class IdIdentity(WireRequest):
    """The platform's UUID for the record."""

    id: UUID


Identity = ExternalIdentity | IdIdentity
ProcurementIdentity = IdIdentity


class SiteJobNumberV1(WireRequest):
    """A job named by its repairer site and the shop's own job number (e.g. ``J-4817``)."""

    repairer_site_id: UUID
    job_number: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class SiteJobNumberIdentity(WireRequest):
    """``repairer.jobs.get`` "by siteID and job number" (the vendor's API reference).

    The documents name the lookup but publish no shape for it, so this tagged variant is
    the sandbox's own: ``{"site_job_number": {"repairer_site_id": "<uuid>", "job_number":
    "J-4817"}}``. Accepted by ``repairer.jobs.get`` only; everywhere else an identity is
    ``{external}`` or ``{id}``.
    """

    site_job_number: SiteJobNumberV1


#: What ``repairer.jobs.get`` accepts: by ID, external ID, or site and job number.
JobLookupIdentity = ExternalIdentity | IdIdentity | SiteJobNumberIdentity


# --- shared records -----------------------------------------------------------------------


class VehicleV1(ClosedObject):
    chassis_number: str | None = Field(default=None, max_length=64)
    plate_number: str | None = Field(default=None, max_length=32)
    plate_state: str | None = Field(default=None, max_length=32)


class ImageV1(WireResponse):
    id: UUID
    url: str


class BusinessV1(WireResponse):
    id: UUID
    name: str


class WorkProviderV1(WireResponse):
    id: UUID
    name: str


class JobV1(WireResponse):
    id: UUID
    external_id: str | None = None
    job_number: str | None = None
    claim_number: str | None = None
    repairer_site_id: UUID
    work_provider_id: UUID | None = None
    vehicle: VehicleV1 | None = None
    images: list[ImageV1] = Field(default_factory=list[ImageV1])


class PartV1(WireResponse):
    id: UUID
    external_id: str | None = None
    description: str
    quantity: int
    part_number: str | None = None
    status: OpenPartStatus


class ConditionV1(ClosedObject):
    type: Literal["new", "used", "reconditioned", "aftermarket"]
    payload: dict[str, str] = Field(default_factory=dict[str, str])


class OfferV1(WireResponse):
    """A priced offer in the basket. No currency here: the basket carries none, by contract."""

    name: str
    sellable_id: UUID
    supplier_business_id: UUID
    job_part_ids: list[UUID]
    quantity: int
    trade_price: Money
    condition: ConditionV1


class SupplierV1(WireResponse):
    business_id: UUID
    name: str


class SupplierBusinessV1(WireResponse):
    id: UUID
    name: str


class SupplierOrganizationV1(WireResponse):
    id: UUID
    name: str


class BuyerBusinessV1(WireResponse):
    id: UUID
    name: str


class BuyerOrganizationV1(WireResponse):
    id: UUID
    name: str


class AddressV1(WireResponse):
    line1: str
    line2: str | None = None
    city: str
    region: str | None = None
    postal_code: str
    country_code: str


class ProcurementVehicleV1(WireResponse):
    """``procurements.v1.Vehicle``: the vehicle the parts are for, copied onto the order."""

    chassis_number: str | None = None
    plate_number: str | None = None
    plate_state: str | None = None


class SourceItemV1(WireResponse):
    """One ordered line: the basket offer it came from, at the price it was placed at."""

    id: UUID
    sellable_id: UUID
    name: str
    job_part_ids: list[UUID]
    quantity: int
    trade_price: Money
    condition: ConditionV1


class _ProcurementBase(WireResponse):
    id: UUID
    job_id: UUID
    reference: str | None = None
    status: OpenProcurementStatus
    currency_code: str | None = None
    created_at: str
    updated_at: str
    source_items: list[SourceItemV1]
    total_shipping_price: Money | None = None
    vehicle: ProcurementVehicleV1


class BuyerProcurementV1(_ProcurementBase):
    """``procurements.v1.buyer.Procurement``: the repairer's view."""

    supplier_business: SupplierBusinessV1
    supplier_organization: SupplierOrganizationV1


class SupplierProcurementV1(_ProcurementBase):
    """``procurements.v1.supplier.Procurement``: the supplier's view."""

    buyer_business: BuyerBusinessV1
    buyer_organization: BuyerOrganizationV1
    buyer_shipping_address: AddressV1


class InvoiceLineItemV1(WireResponse):
    id: UUID
    source_item_id: UUID
    sellable_id: UUID
    name: str
    quantity: int
    unit_price: Money
    total: Money
    reconciliation: OpenLineReconciliation


class InvoiceV1(WireResponse):
    id: UUID
    procurement_id: UUID
    job_id: UUID
    document_type: OpenDocumentType
    status: OpenInvoiceStatus
    currency_code: str
    total: Money
    issued_at: str
    line_items: list[InvoiceLineItemV1]


# --- vehicle identifiers (tier1.prepare) -------------------------------------------------


class VinIdentifier(WireRequest):
    vin: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class VrmIdentifier(WireRequest):
    vrm: Annotated[str, StringConstraints(min_length=1, max_length=64)]


VehicleIdentifier = VinIdentifier | VrmIdentifier


class InvalidIdentifierV1(WireResponse):
    identifier: dict[str, str]
    reason: str


# --- requests and responses, method by method ---------------------------------------------


class BusinessesListRequestV1(WireRequest):
    pass


class BusinessesListResponseV1(WireResponse):
    items: list[BusinessV1]


class IntegrationsInstallRequestV1(WireRequest):
    access_code: NonEmpty
    client_id: NonEmpty
    client_secret: NonEmpty


class IntegrationsInstallResponseV1(WireResponse):
    api_key: str
    integration_id: UUID


class BasketsLatestGetRequestV1(WireRequest):
    job_identity: Identity


class BasketsLatestGetResponseV1(WireResponse):
    offers: list[OfferV1]
    suppliers: list[SupplierV1]


class JobsGetRequestV1(WireRequest):
    identity: JobLookupIdentity


class JobsInsertRequestV1(WireRequest):
    identity: Identity
    repairer_site_id: UUID
    work_provider_id: UUID | None = None
    vehicle: VehicleV1 | None = None
    claim_number: Annotated[str, StringConstraints(max_length=100)] | None = None
    job_number: Annotated[str, StringConstraints(max_length=100)] | None = None


class PartInsertV1(WireRequest):
    """One part to upsert. Keyed by ``identity`` when given, else by its description."""

    identity: Identity | None = None
    description: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    quantity: Annotated[int, Field(ge=1, le=1000)]
    part_number: Annotated[str, StringConstraints(max_length=100)] | None = None


class JobsPartsInsertRequestV1(WireRequest):
    job_identity: Identity
    parts: Annotated[list[PartInsertV1], Field(min_length=1, max_length=200)]


class JobsPartsListRequestV1(WireRequest):
    job_identity: Identity


class JobsPartsListResponseV1(WireResponse):
    items: list[PartV1]


class ProcurementsGetRequestV1(WireRequest):
    identity: ProcurementIdentity


class ProcurementsListRequestV1(WireRequest):
    job_identity: Identity


class ProcurementsListResponseV1(WireResponse):
    items: list[BuyerProcurementV1]


class WorkProvidersListRequestV1(WireRequest):
    pass


class WorkProvidersListResponseV1(WireResponse):
    items: list[WorkProviderV1]


class SupplierProcurementsConfirmRequestV1(WireRequest):
    identity: ProcurementIdentity


class SupplierProcurementsGetRequestV1(WireRequest):
    identity: ProcurementIdentity


class Tier1PrepareRequestV1(WireRequest):
    identifiers: Annotated[list[VehicleIdentifier], Field(min_length=1, max_length=1000)]


class Tier1PrepareResponseV1(WireResponse):
    invalid_identifiers: list[InvalidIdentifierV1]


class UploadsPrepareRequestV1(WireRequest):
    file_name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    media_type: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    type: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class UploadsPrepareResponseV1(WireResponse):
    upload_url: str
    public_url: str | None = None


# --- proposed extensions (responses carry "x_extension": true) ---------------------------


class OfferSelectionV1(WireRequest):
    sellable_id: UUID
    supplier_business_id: UUID
    job_part_ids: Annotated[list[UUID], Field(min_length=1, max_length=100)]
    quantity: Annotated[int, Field(ge=1, le=1000)]


class ProcurementsInsertRequestV1(WireRequest):
    job_identity: Identity
    offer_selections: Annotated[list[OfferSelectionV1], Field(min_length=1, max_length=100)]


class ProcurementsInsertResponseV1(WireResponse):
    x_extension: Literal[True] = True
    procurement: BuyerProcurementV1


class ProcurementsInvoicesListRequestV1(WireRequest):
    """Exactly one selector: ``procurement_identity`` XOR ``job_identity``.

    Both or neither is a ``bad_request`` on the wire, so the rule is checked by the server
    (and by :meth:`selector_count`), not by the schema, to keep the wire's error code.
    """

    procurement_identity: ProcurementIdentity | None = None
    job_identity: Identity | None = None

    def selector_count(self) -> int:
        return (self.procurement_identity is not None) + (self.job_identity is not None)


class ProcurementsInvoicesListResponseV1(WireResponse):
    x_extension: Literal[True] = True
    items: list[InvoiceV1]


class ProcurementsInvoicesGetRequestV1(WireRequest):
    identity: IdIdentity


class ProcurementsInvoicesGetResponseV1(WireResponse):
    x_extension: Literal[True] = True
    invoice: InvoiceV1
