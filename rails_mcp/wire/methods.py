"""The table of wire methods: name, models, scope, errors, and whether it is safe to retry.

Client, sandbox and ``/openapi.json`` all read this one table, so a method cannot be
described twice in two slightly different ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from rails_mcp.wire import models as m

__all__ = ["API_VERSION", "METHODS", "MethodSpec", "Scope", "method_path"]

API_VERSION = "2026-01"

#: Who may call: a repairer credential, a supplier credential, either, or nobody needs one.
Scope = Literal["repairer", "supplier", "any", "none"]


@dataclass(frozen=True, slots=True)
class MethodSpec:
    name: str
    request: type[BaseModel]
    response: type[BaseModel]
    scope: Scope
    summary: str
    errors: tuple[str, ...]
    #: Safe to repeat after a lost answer: reads, and calls that change nothing.
    retry_safe: bool
    #: Proposed extension beyond 2026-01: not in the public contract, ``x_extension`` set.
    extension: bool = False
    #: Error bodies are bare JSON strings (``"not_found"``), not ``{"type": ...}``: the
    #: vendor's decision D24.
    bare_string_errors: bool = False


_AUTH = ("unauthorized", "forbidden")

_SPECS = (
    MethodSpec(
        "businesses.list",
        m.BusinessesListRequestV1,
        m.BusinessesListResponseV1,
        "any",
        "Lists the sub-businesses of the organization that the integration belongs to.",
        _AUTH,
        retry_safe=True,
    ),
    MethodSpec(
        "integrations.insert",
        m.IntegrationsInstallRequestV1,
        m.IntegrationsInstallResponseV1,
        "none",
        "Completes the integration installation and API key generation for a given install.",
        (
            *_AUTH,
            "integration_not_found",
            "o_auth_not_supported_by_integration",
            "invalid_client_secret",
            "invalid_access_code",
        ),
        retry_safe=False,
    ),
    MethodSpec(
        "repairer.jobs.baskets.latest.get",
        m.BasketsLatestGetRequestV1,
        m.BasketsLatestGetResponseV1,
        "repairer",
        "Fetches the latest basket for a given repair job.",
        (*_AUTH, "not_found", "bad_request"),
        retry_safe=True,
    ),
    MethodSpec(
        "repairer.jobs.get",
        m.JobsGetRequestV1,
        m.JobV1,
        "repairer",
        "Fetches a repair job by ID, external ID, or siteID and job number.",
        (*_AUTH, "not_found"),
        retry_safe=True,
    ),
    MethodSpec(
        "repairer.jobs.insert",
        m.JobsInsertRequestV1,
        m.JobV1,
        "repairer",
        "Inserts a new repair job or updates an existing repair job.",
        (*_AUTH, "unprocessable", "work_provider_not_found"),
        retry_safe=False,
    ),
    MethodSpec(
        "repairer.jobs.parts.insert",
        m.JobsPartsInsertRequestV1,
        m.JobsPartsListResponseV1,
        "repairer",
        "Inserts parts for a repair job.",
        (*_AUTH, "not_found", "unprocessable"),
        retry_safe=False,
        bare_string_errors=True,
    ),
    MethodSpec(
        "repairer.jobs.parts.list",
        m.JobsPartsListRequestV1,
        m.JobsPartsListResponseV1,
        "repairer",
        "Lists all parts for a repair job.",
        (*_AUTH, "not_found"),
        retry_safe=True,
    ),
    MethodSpec(
        "repairer.procurements.get",
        m.ProcurementsGetRequestV1,
        m.BuyerProcurementV1,
        "repairer",
        "Fetch a procurement for a repairer by ID.",
        (*_AUTH, "not_found"),
        retry_safe=True,
    ),
    MethodSpec(
        "repairer.procurements.list",
        m.ProcurementsListRequestV1,
        m.ProcurementsListResponseV1,
        "repairer",
        "List procurements for a repairer.",
        (*_AUTH, "not_found"),
        retry_safe=True,
    ),
    MethodSpec(
        "repairer.work-providers.list",
        m.WorkProvidersListRequestV1,
        m.WorkProvidersListResponseV1,
        "repairer",
        "Fetches the list of work providers for a repairer.",
        _AUTH,
        retry_safe=True,
    ),
    MethodSpec(
        "supplier.procurements.confirm",
        m.SupplierProcurementsConfirmRequestV1,
        m.SupplierProcurementV1,
        "supplier",
        "Transition a procurement to order confirmed.",
        (*_AUTH, "not_found"),
        retry_safe=False,
    ),
    MethodSpec(
        "supplier.procurements.get",
        m.SupplierProcurementsGetRequestV1,
        m.SupplierProcurementV1,
        "supplier",
        "Fetch a procurement for a supplier by ID.",
        (*_AUTH, "not_found"),
        retry_safe=True,
    ),
    MethodSpec(
        "tier1.prepare",
        m.Tier1PrepareRequestV1,
        m.Tier1PrepareResponseV1,
        "repairer",
        "Queue up a given vehicle VIN for future use in other services.",
        ("unauthorized",),
        retry_safe=True,
    ),
    MethodSpec(
        "uploads.prepare",
        m.UploadsPrepareRequestV1,
        m.UploadsPrepareResponseV1,
        "repairer",
        "Generate a pre-signed URL for uploading a file.",
        (*_AUTH, "unprocessable"),
        retry_safe=True,
    ),
    MethodSpec(
        "repairer.procurements.insert",
        m.ProcurementsInsertRequestV1,
        m.ProcurementsInsertResponseV1,
        "repairer",
        "Creates a procurement in order_requested from selected basket offers and moves the "
        "chosen parts estimated → ordered.",
        (*_AUTH, "not_found", "bad_request", "unprocessable"),
        retry_safe=False,
        extension=True,
    ),
    MethodSpec(
        "repairer.procurements.invoices.list",
        m.ProcurementsInvoicesListRequestV1,
        m.ProcurementsInvoicesListResponseV1,
        "repairer",
        "Lists the reconciled invoices and credit notes for a procurement (or job).",
        (*_AUTH, "not_found", "bad_request"),
        retry_safe=True,
        extension=True,
    ),
    MethodSpec(
        "repairer.procurements.invoices.get",
        m.ProcurementsInvoicesGetRequestV1,
        m.ProcurementsInvoicesGetResponseV1,
        "repairer",
        "Fetches a single invoice or credit note by its own id.",
        (*_AUTH, "not_found"),
        retry_safe=True,
        extension=True,
    ),
)

#: Every wire method by its dotted name, in the contract's order (14 public, then 3 extensions).
METHODS: dict[str, MethodSpec] = {spec.name: spec for spec in _SPECS}


def method_path(name: str) -> str:
    return f"/api/{API_VERSION}/{name}"
