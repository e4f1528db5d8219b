"""Strict input models of the thirteen tools, and the compact JSON schemas published for them.

Names are fixed by SPEC §3. ``job`` is always ``{"external": …}`` or ``{"id": …}``; the
tools map it to ``identity`` / ``job_identity`` on the wire so an agent never meets that
asymmetry.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

from rails_mcp.wire.models import (
    ExternalIdentity,
    IdIdentity,
    VehicleV1,
    VinIdentifier,
    VrmIdentifier,
)

__all__ = [
    "ConfirmProcurementInput",
    "GetRepairJobInput",
    "IdentifyPartsInput",
    "JobRef",
    "ListBusinessesInput",
    "ListPartsInput",
    "ListProcurementsInput",
    "ListWorkProvidersInput",
    "OfferSelectionInput",
    "OpenRepairJobInput",
    "PartInput",
    "PlaceProcurementInput",
    "PrepareVehicleInput",
    "RecommendBasketInput",
    "ReconcileInvoiceInput",
    "ToolInput",
    "TrackProcurementInput",
    "compact_schema",
]

JobRef = Annotated[
    ExternalIdentity | IdIdentity,
    Field(description='{"external": "<your job ref>"} or {"id": "<job uuid>"}; exactly one key.'),
]

Quantity = Annotated[StrictInt, Field(ge=1, le=1000)]


class ToolInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PrepareVehicleInput(ToolInput):
    identifiers: Annotated[
        list[VinIdentifier | VrmIdentifier],
        Field(min_length=1, max_length=1000, description='Each {"vin": "..."} or {"vrm": "<plate>"}.'),
    ]


class ListBusinessesInput(ToolInput):
    pass


class ListWorkProvidersInput(ToolInput):
    pass


class OpenRepairJobInput(ToolInput):
    job: JobRef
    repairer_site_id: Annotated[
        UUID | None, Field(description="From list_businesses; omitted = the only site.")
    ] = None
    work_provider_id: Annotated[
        UUID | None, Field(description="Insurer id from list_work_providers; omit for cash jobs.")
    ] = None
    vehicle: VehicleV1 | None = None
    claim_number: Annotated[str, StringConstraints(max_length=100)] | None = None
    job_number: Annotated[str, StringConstraints(max_length=100)] | None = None


class GetRepairJobInput(ToolInput):
    job: JobRef


class PartInput(ToolInput):
    description: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    quantity: Quantity
    part_number: Annotated[str, StringConstraints(max_length=100)] | None = None
    identity: Annotated[
        ExternalIdentity | IdIdentity | None,
        Field(description="Optional part key; without it the description is the key."),
    ] = None


class IdentifyPartsInput(ToolInput):
    job: JobRef
    parts: Annotated[list[PartInput], Field(min_length=1, max_length=200)]


class ListPartsInput(ToolInput):
    job: JobRef


class RecommendBasketInput(ToolInput):
    job: JobRef


class OfferSelectionInput(ToolInput):
    sellable_id: UUID
    supplier_business_id: UUID | None = None
    job_part_ids: Annotated[list[UUID], Field(min_length=1, max_length=100)] | None = None
    quantity: Quantity | None = None


class PlaceProcurementInput(ToolInput):
    job: JobRef
    offer_selections: Annotated[
        list[OfferSelectionInput],
        Field(
            min_length=1,
            max_length=100,
            description="Basket offers by sellable_id; omitted fields are filled from the basket.",
        ),
    ]
    dry_run: Annotated[StrictBool, Field(description="Check and total only; place nothing.")] = False


class ListProcurementsInput(ToolInput):
    job: JobRef


class TrackProcurementInput(ToolInput):
    procurement_id: UUID
    view: Literal["repairer", "supplier"] = "repairer"


class ConfirmProcurementInput(ToolInput):
    procurement_id: UUID


class ReconcileInvoiceInput(ToolInput):
    procurement_id: UUID | None = None
    job: Annotated[
        ExternalIdentity | IdIdentity | None,
        Field(description='{"external": ...} or {"id": ...}; instead of procurement_id.'),
    ] = None
    invoice_id: Annotated[UUID | None, Field(description="Alone: fetch one invoice.")] = None


def compact_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema, cut down for ``tools/list``: fewer tokens, same contract.

    ``$ref`` is inlined (with the referenced model's own docstring dropped: the field's
    description says what the agent needs), titles go, and an optional field's
    ``anyOf: [X, null]`` with ``default: null`` becomes plain ``X``: omitting it says "none".
    """
    schema = model.model_json_schema()
    defs = cast("dict[str, Any]", schema.pop("$defs", {}))

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in cast("list[Any]", node)]
        if not isinstance(node, dict):
            return node
        items = cast("dict[str, Any]", node)
        ref = items.get("$ref")
        if isinstance(ref, str):
            resolved = {k: v for k, v in walk(defs[ref.rsplit("/", 1)[-1]]).items() if k != "description"}
            return {**resolved, **{k: walk(v) for k, v in items.items() if k != "$ref"}}
        out = {k: walk(v) for k, v in items.items() if not (k == "title" and isinstance(v, str))}
        variants = out.get("anyOf")
        if isinstance(variants, list) and "default" in out and out["default"] is None:
            kept = [v for v in cast("list[Any]", variants) if v != {"type": "null"}]
            if len(kept) < len(cast("list[Any]", variants)):
                del out["default"]
                del out["anyOf"]
                out = {**kept[0], **out} if len(kept) == 1 else {"anyOf": kept, **out}
        return out

    result = cast("dict[str, Any]", walk(schema))
    result.pop("description", None)
    return result
