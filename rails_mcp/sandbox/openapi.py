"""OpenAPI 3.1 documents generated from the wire models and the method table.

Two documents, as the seed documents keep them apart: ``/openapi.json`` is the public
2026-01 contract (the 14 methods) and points, under ``x-extensions``, at
``/openapi.extensions.json``, which holds the three proposed extensions. Both come from
``METHODS`` and the pydantic models, so the documents cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from rails_mcp.wire import limits
from rails_mcp.wire.errors import HTTP_STATUS_BY_CODE
from rails_mcp.wire.methods import API_VERSION, METHODS, MethodSpec, method_path
from rails_mcp.wire.models import EXTENSION_BANNER
from rails_mcp.wire.schema import WireSchema, ref_counts

__all__ = [
    "EXTENSIONS_PATH",
    "INLINE_REQUESTS",
    "PUBLISHED_NAMES",
    "SUPPLIER_SOURCE_ITEM",
    "extensions_document",
    "public_document",
]

EXTENSIONS_PATH = "/openapi.extensions.json"
_REF = "#/components/schemas/{model}"

_ERROR_TEXT = {
    "bad_request": "The body is not valid JSON of the request's shape, or a selector rule "
    "of the request is broken.",
    "unauthorized": "Authorization: Bearer <api_key> and Partly-Integration-ID are missing, "
    "or the pair is unknown.",
    "forbidden": "The credential is valid but its scope does not allow this method.",
    "not_found": "No such record visible to this organization.",
    "unprocessable": "A well-formed request that breaks a business rule.",
    "work_provider_not_found": "work_provider_id names no known work provider.",
    "integration_not_found": "client_id names no known integration.",
    "o_auth_not_supported_by_integration": "The integration does not support OAuth installs.",
    "invalid_client_secret": "client_secret does not match the integration.",
    "invalid_access_code": "The access code is unknown or has already been exchanged.",
}


#: Python class name → the schema name the vendor's API reference publishes. The classes
#: keep their names (other code imports them); only the documents speak the published ones.
PUBLISHED_NAMES: dict[str, str] = {
    "BuyerProcurementV1": "procurements.v1.buyer.Procurement",
    "SupplierProcurementV1": "procurements.v1.supplier.Procurement",
    "SourceItemV1": "procurements.v1.buyer.SourceItem",
    "SupplierBusinessV1": "procurements.v1.buyer.SupplierBusiness",
    "SupplierOrganizationV1": "procurements.v1.buyer.SupplierOrganization",
    "BuyerBusinessV1": "procurements.v1.supplier.BuyerBusiness",
    "BuyerOrganizationV1": "procurements.v1.supplier.BuyerOrganization",
    "AddressV1": "procurements.v1.Address",
    "ProcurementVehicleV1": "procurements.v1.Vehicle",
    "ProcurementStatus": "procurements.v1.buyer.Status",
    "ProcurementsListRequestV1": "procurements.v1.repairer.ProcurementsListRequest",
    "ProcurementsListResponseV1": "procurements.v1.buyer.ProcurementsListResponse",
    "ProcurementsInsertResponseV1": "RepairerProcurementsInsertResponseV1",
    "ProcurementsInvoicesListResponseV1": "RepairerProcurementsInvoicesListResponseV1",
    "ProcurementsInvoicesGetResponseV1": "RepairerProcurementsInvoicesGetResponseV1",
    "VehicleV1-Input": "VehicleV1",
    "VehicleV1-Output": "VehicleV1",
}
#: The supplier view's lines: the same shape as the buyer's, published under its own name.
SUPPLIER_SOURCE_ITEM = "procurements.v1.supplier.SourceItem"
#: Requests the reference shows as ``_(inline)_``: in the operation, not in components.
INLINE_REQUESTS = frozenset(
    {
        "JobsGetRequestV1",
        "ProcurementsGetRequestV1",
        "SupplierProcurementsConfirmRequestV1",
        "SupplierProcurementsGetRequestV1",
    }
)
#: Required response fields as published ("name?" is optional): nullable ``oneOf`` fields
#: without ``?`` are required (always sent, possibly null). Other responses: pydantic's rule
#: (a field with a default is optional).
_ALL = ("*",)
PUBLISHED_REQUIRED: dict[str, tuple[str, ...]] = {
    "JobV1": ("id", "images", "repairer_site_id"),
    "procurements.v1.buyer.Procurement": _ALL,
    "procurements.v1.supplier.Procurement": _ALL,
    "UploadsPrepareResponseV1": ("public_url", "upload_url"),
    "RepairerProcurementsInsertResponseV1": _ALL,
    "RepairerProcurementsInvoicesListResponseV1": _ALL,
    "RepairerProcurementsInvoicesGetResponseV1": _ALL,
}


def _rename_refs(node: Any, names: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in cast("dict[str, Any]", node).items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/schemas/"):
                name = value.rsplit("/", 1)[1]
                out[key] = _REF.format(model=names.get(name, name))
            else:
                out[key] = _rename_refs(value, names)
        return out
    if isinstance(node, list):
        return [_rename_refs(v, names) for v in cast("list[Any]", node)]
    return node


def _publish(schemas: dict[str, Any], paths: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Rename to the published names, split the supplier's SourceItem, inline the inline ones."""
    renamed: dict[str, Any] = {}
    for name, schema in schemas.items():
        published = PUBLISHED_NAMES.get(name, name)
        schema = _rename_refs(schema, PUBLISHED_NAMES)
        if published in PUBLISHED_NAMES.values() and name in PUBLISHED_NAMES:
            schema = {**schema, "title": published}
        renamed.setdefault(published, schema)
    paths = _rename_refs(paths, PUBLISHED_NAMES)
    buyer_item = PUBLISHED_NAMES["SourceItemV1"]
    supplier = renamed.get(PUBLISHED_NAMES["SupplierProcurementV1"])
    if supplier is not None and buyer_item in renamed:
        renamed[SUPPLIER_SOURCE_ITEM] = {**renamed[buyer_item], "title": SUPPLIER_SOURCE_ITEM}
        items = supplier["properties"]["source_items"]
        supplier["properties"]["source_items"] = {
            **items,
            "items": {"$ref": _REF.format(model=SUPPLIER_SOURCE_ITEM)},
        }
        if not _refers_to(renamed, paths, buyer_item, skip=SUPPLIER_SOURCE_ITEM):
            del renamed[buyer_item]
    for name, wanted in PUBLISHED_REQUIRED.items():
        schema = renamed.get(name)
        if schema is not None:
            schema["required"] = list(schema["properties"]) if wanted == _ALL else list(wanted)
    for item in paths.values():
        content = item["post"]["requestBody"]["content"]["application/json"]
        ref = content["schema"].get("$ref")
        name = ref.rsplit("/", 1)[1] if isinstance(ref, str) else None
        if name in INLINE_REQUESTS:
            content["schema"] = {k: v for k, v in renamed[name].items() if k != "title"}
    for name in INLINE_REQUESTS:
        if name in renamed and not _refers_to(renamed, paths, name):
            del renamed[name]
    return renamed, paths


def _refers_to(schemas: dict[str, Any], paths: dict[str, Any], name: str, skip: str | None = None) -> bool:
    others = [s for n, s in schemas.items() if n not in (name, skip)]
    return ref_counts([paths, others])[_REF.format(model=name)] > 0


def _error_responses(spec: MethodSpec) -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for code in spec.errors:
        by_status.setdefault(HTTP_STATUS_BY_CODE[code], []).append(code)
    responses: dict[str, Any] = {}
    for status, codes in sorted(by_status.items()):
        if spec.bare_string_errors:
            schema: dict[str, Any] = {"type": "string", "enum": codes}
        else:
            schema = {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"type": "string", "enum": codes}},
            }
        responses[str(status)] = {
            "description": " / ".join(f"{c}: {_ERROR_TEXT.get(c, c)}" for c in codes),
            "content": {"application/json": {"schema": schema}},
        }
    responses["default"] = {
        "description": "Any other coded error of the sandbox's HTTP edge (bad_request, "
        "payload_too_large, unsupported_media_type, method_not_allowed, server_error), "
        + (
            'as a bare JSON string such as "not_found".'
            if spec.bare_string_errors
            else 'as {"type": "<code>"}.'
        ),
        "content": {
            "application/json": {
                "schema": {"type": "string"}
                if spec.bare_string_errors
                else {"$ref": "#/components/schemas/Error"}
            }
        },
    }
    return responses


def _operation(spec: MethodSpec, refs: Mapping[Any, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": spec.name,
        "summary": spec.summary,
        "tags": [spec.name.split(".", 1)[0]],
        "parameters": [{"$ref": "#/components/parameters/Tenant"}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": refs[(spec.request, "validation")]}},
        },
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": refs[(spec.response, "serialization")]}},
            },
            **_error_responses(spec),
        },
        "security": [] if spec.scope == "none" else [{"bearerAuth": [], "integrationId": []}],
        "x-scope": spec.scope,
    }
    if spec.bare_string_errors:
        operation["x-error-body"] = 'bare JSON string such as "not_found", not {"type": ...}'
    if spec.extension:
        operation["x-extension"] = True
        operation["description"] = EXTENSION_BANNER
    return operation


def _document(specs: Iterable[MethodSpec], title: str, description: str) -> dict[str, Any]:
    specs = list(specs)
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for spec in specs:
        wanted.append((spec.request, "validation"))
        wanted.append((spec.response, "serialization"))
    refs, defs = models_json_schema(wanted, ref_template=_REF, schema_generator=WireSchema)
    schemas, paths = _publish(
        dict(defs.get("$defs", {})), {method_path(s.name): {"post": _operation(s, refs)} for s in specs}
    )
    schemas["Error"] = {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"type": "string", "description": "The error code."}},
        "description": 'A coded error: {"type": "<code>"} with the HTTP status of its code.',
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": API_VERSION, "description": description},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Authorization: Bearer <api_key> (the prefix is required).",
                },
                "integrationId": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Partly-Integration-ID",
                    "description": "The integration id paired with the api_key.",
                },
            },
            "parameters": {
                "Tenant": {
                    "name": "x-partifact-tenant",
                    "in": "header",
                    "required": False,
                    "description": "Sandbox convenience: selects an isolated, identically "
                    "seeded world. Omit it to share the default world.",
                    "schema": {"type": "string", "pattern": limits.TENANT_PATTERN},
                }
            },
        },
    }


def public_document() -> dict[str, Any]:
    """``/openapi.json``: the 14 methods of the public 2026-01 contract."""
    extensions = [s.name for s in METHODS.values() if s.extension]
    document = _document(
        (s for s in METHODS.values() if not s.extension),
        "Rails Integrations API (embedded sandbox)",
        "RPC-over-POST: every call is POST /api/2026-01/<dotted.method> with a JSON body. "
        "The proposed extensions are not part of this contract; see x-extensions.",
    )
    document["x-extensions"] = {
        "description": "Proposed extensions beyond the public 2026-01 API, documented "
        "separately. " + EXTENSION_BANNER,
        "url": EXTENSIONS_PATH,
        "methods": extensions,
    }
    return document


def extensions_document() -> dict[str, Any]:
    """``/openapi.extensions.json``: the proposed extensions, each marked ``x-extension``."""
    return _document(
        (s for s in METHODS.values() if s.extension),
        "Rails Integrations API: proposed extensions (NOT in 2026-01)",
        EXTENSION_BANNER + ' Every response carries "x_extension": true.',
    )
