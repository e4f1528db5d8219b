"""A generated corpus of the mistakes agents make, measured against the self-correction rule.

Issue 10's rule: whenever a mistake has one obvious correction the server can compute or look
up, the error carries ``example_arguments`` for the same tool that succeed when replayed now;
when it needs a decision only the person can make, the error says what to ask. For each of the
thirteen tools this file takes valid arguments and applies every mutation class (wrong key
names, wrong types, JSON-as-string, out-of-range numbers, wrong-length lists, ids of the wrong
kind, references instead of ids, extra and missing keys, mismatched selections, wire-level
refusals, unknown tool names). Each case runs against its own fresh tenant, so a replay sees
exactly the state the mistake met. The figures and every remaining miss are printed in the
terminal summary and written to ``bench/corpus_report.txt``.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_types import CallToolResult, TextContent

from rails_mcp.config import load_settings
from rails_mcp.runtime import open_rails
from rails_mcp.sandbox.store import reset_tenant
from rails_mcp.server import build_server
from tests.support.sandbox_support import (
    AMI,
    JOB,
    JOB_EXTERNAL,
    JOB_ID,
    MISSING,
    PR1,
    S1,
    S2,
    S3,
    SITE,
    offer,
    part,
)

REPORT = Path(__file__).resolve().parents[2] / "bench" / "corpus_report.txt"

STATE = "0a000000-0000-4000-8000-000000000021"
TOWER = "0a000000-0000-4000-8000-000000000022"
VIN = "JTDBR32E730012345"
VRM = "MJL472"
NEW_JOB = {"external": "CCC-2026-05001"}

#: Mutation classes the issue names; every one must appear in the corpus.
CLASSES = (
    "wrong_key",
    "wrong_type",
    "json_string",
    "out_of_range",
    "wrong_length",
    "wrong_kind_id",
    "reference",
    "extra_key",
    "missing_key",
    "mismatched_selection",
    "wire_refusal",
    "unknown_tool",
)

#: Valid arguments per tool, each succeeding on a fresh tenant (checked below).
BASE: dict[str, dict[str, Any]] = {
    "prepare_vehicle": {"identifiers": [{"vin": VIN}, {"vrm": VRM}]},
    "list_businesses": {},
    "list_work_providers": {},
    "open_repair_job": {
        "job": NEW_JOB,
        "repairer_site_id": SITE,
        "work_provider_id": AMI,
        "vehicle": {"chassis_number": VIN, "plate_number": VRM, "plate_state": "NZ"},
        "claim_number": "AMI-CLM-800001",
        "job_number": "J-5001",
    },
    "get_repair_job": {"job": JOB},
    "identify_parts": {
        "job": JOB,
        "parts": [{"description": "Bonnet", "quantity": 1, "part_number": "53301-02230"}],
    },
    "list_parts": {"job": JOB},
    "recommend_basket": {"job": JOB},
    "place_procurement": {
        "job": JOB,
        "offer_selections": [
            {
                "sellable_id": offer(0x07),
                "supplier_business_id": S1,
                "job_part_ids": [part(4)],
                "quantity": 1,
            },
            {"sellable_id": offer(0x0A)},
        ],
    },
    "list_procurements": {"job": JOB},
    "track_procurement": {"procurement_id": PR1, "view": "repairer"},
    "confirm_procurement": {"procurement_id": PR1},
    "reconcile_invoice": {"procurement_id": PR1},
}
JOB_TOOLS = (
    "get_repair_job",
    "identify_parts",
    "list_parts",
    "recommend_basket",
    "place_procurement",
    "list_procurements",
)


@dataclass(frozen=True)
class Case:
    tool: str
    args: dict[str, Any]
    kind: str
    label: str
    #: One obvious correction exists that the server can compute or look up.
    correctable: bool
    #: A setup run before the mistaken call (see PRELUDES).
    prelude: str | None = None
    #: For an unknown tool name: the tool meant, and arguments that fit it.
    meant: str | None = None
    #: Numbers the message or fix must state (the bound of a range or length error).
    bounds: tuple[str, ...] = ()
    #: The outcome depends on what the server remembers: run it on a server of its own.
    fresh_server: bool = False

    @property
    def name(self) -> str:
        return f"{self.tool}/{self.kind}/{self.label}"


def with_(tool: str, **changes: Any) -> dict[str, Any]:
    """The tool's base arguments with top-level keys replaced (``None`` removes a key)."""
    args = json.loads(json.dumps(BASE[tool]))
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return args


def renamed(tool: str, old: str, new: str) -> dict[str, Any]:
    args = json.loads(json.dumps(BASE[tool]))
    return {(new if k == old else k): v for k, v in args.items()}


# --- the generators, one per argument shape -------------------------------------------------


def job_cases(tool: str, job: dict[str, str] = JOB, exists: bool = True) -> Iterator[Case]:
    """Every way an agent gets ``job`` wrong; ``exists`` says whether the base job is seeded."""
    ref = job["external"]
    for key in ("job_identity", "identity", "jobIdentity", "Job", "JOB", "job_ref"):
        value: Any = ref if key == "job_ref" else job
        yield Case(tool, {**renamed(tool, "job", key), key: value}, "wrong_key", f"job as {key}", True)
    yield Case(
        tool, {**renamed(tool, "job", "external_id"), "external_id": ref}, "wrong_key", "external_id", True
    )
    for key in ("external_id", "externalId", "External", "EXTERNAL", "reference"):
        yield Case(tool, with_(tool, job={key: ref}), "wrong_key", f"job.{key}", True)
    yield Case(tool, with_(tool, job=ref), "wrong_type", "job as bare reference", True)
    yield Case(tool, with_(tool, job=[job]), "wrong_type", "job as a list", True)
    yield Case(tool, with_(tool, job={"identity": job}), "wrong_type", "job wrapped in identity", True)
    yield Case(tool, with_(tool, job=json.dumps(job)), "json_string", "job as JSON text", True)
    yield Case(
        tool,
        with_(tool, job=json.dumps({"external_id": ref})),
        "json_string",
        "job JSON text with external_id",
        True,
    )
    yield Case(tool, with_(tool, job={"id": ref}), "reference", "own reference under id", True)
    yield Case(tool, with_(tool, job={"external": [ref]}), "wrong_type", "reference in a list", True)
    yield Case(tool, with_(tool, job={"external": ref, "name": "Corolla"}), "extra_key", "job.name", True)
    yield Case(tool, with_(tool, job={}), "missing_key", "empty job", False)
    yield Case(tool, with_(tool, job=None), "missing_key", "no job", False)
    yield Case(tool, with_(tool, job=4817), "wrong_type", "job as a number", False)
    if exists:
        for key in ("uuid", "ID", "job_id"):
            yield Case(tool, with_(tool, job={key: JOB_ID}), "wrong_key", f"job.{key}", True)
        yield Case(
            tool, {**renamed(tool, "job", "job_id"), "job_id": JOB_ID}, "wrong_key", "job_id uuid", True
        )
        yield Case(tool, with_(tool, job=JOB_ID), "wrong_type", "job as bare uuid", True)
        yield Case(
            tool, with_(tool, job={"external": ref, "id": JOB_ID}), "extra_key", "both external and id", True
        )
        yield Case(tool, with_(tool, job={"id": MISSING}), "wire_refusal", "unknown job id", False)
        yield Case(tool, with_(tool, job={"id": S1}), "wrong_kind_id", "supplier id as job id", False)
        yield Case(tool, with_(tool, job={"id": part(4)}), "wrong_kind_id", "part id as job id", False)
    if exists and tool != "open_repair_job":  # open_repair_job would create these as new jobs
        yield Case(tool, with_(tool, job={"id": PR1}), "wrong_kind_id", "procurement id as job id", True)
        yield Case(tool, with_(tool, job={"external": JOB_ID}), "reference", "uuid under external", True)
        yield Case(
            tool, with_(tool, job={"external": "J-4817"}), "reference", "job number as reference", True
        )
        yield Case(
            tool, with_(tool, job={"external": ref.lower()}), "reference", "reference in lower case", True
        )
        yield Case(
            tool, with_(tool, job={"external": f" {ref} "}), "reference", "reference with spaces", True
        )
        yield Case(
            tool, with_(tool, job={"external": "CCC-2026-99999"}), "wire_refusal", "unknown reference", False
        )
        both = {"external": "CCC-2026-99999", "id": JOB_ID}
        yield Case(tool, with_(tool, job=both), "extra_key", "wrong reference beside the right id", True)


def prepare_vehicle_cases() -> Iterator[Case]:
    t = "prepare_vehicle"
    ids = BASE[t]["identifiers"]
    for key in ("vins", "identifier", "Identifiers", "vehicles"):
        yield Case(t, {key: ids}, "wrong_key", f"identifiers as {key}", True)
    for key, value in (
        ("chassis", VIN),
        ("VIN", VIN),
        ("Vin", VIN),
        ("chassis_number", VIN),
        ("vin_number", VIN),
        ("plate", VRM),
        ("registration", VRM),
        ("rego", VRM),
        ("plate_number", VRM),
        ("VRM", VRM),
        ("chassis", "ABC12"),
    ):
        yield Case(t, {"identifiers": [{key: value}]}, "wrong_key", f"identifier key {key}={value}", True)
    yield Case(
        t,
        {"identifiers": [{"chassis": "JTDBR32E7300123"}]},
        "wrong_key",
        "chassis not a VIN nor a VRM",
        False,
    )
    yield Case(t, {"identifiers": json.dumps(ids)}, "json_string", "identifiers as JSON text", True)
    yield Case(t, {"identifiers": [json.dumps({"vin": VIN})]}, "json_string", "identifier as JSON text", True)
    yield Case(t, {"identifiers": {"vin": VIN}}, "wrong_type", "one identifier, not a list", True)
    yield Case(t, {"identifiers": [VIN, VRM]}, "wrong_type", "bare strings", True)
    yield Case(t, {"identifiers": VIN}, "wrong_type", "one bare VIN", True)
    yield Case(t, {"identifiers": f"{VIN}, {VRM}"}, "wrong_type", "comma-separated text", True)
    yield Case(
        t, {"identifiers": [{"vin": VIN, "vrm": VRM}]}, "extra_key", "vin and vrm in one identifier", True
    )
    yield Case(t, {"identifiers": [{"vin": VIN, "make": "Toyota"}]}, "extra_key", "identifier.make", True)
    yield Case(t, {**BASE[t], "tenant": "t1"}, "extra_key", "tenant", True)
    yield Case(t, {"identifiers": []}, "wrong_length", "empty list", False, bounds=("at least 1",))
    many = [{"vrm": f"AB{n:04d}"} for n in range(1001)]
    yield Case(t, {"identifiers": many}, "wrong_length", "1001 identifiers", True, bounds=("at most 1000",))
    yield Case(
        t,
        {"identifiers": [{"vin": "J" * 65}]},
        "out_of_range",
        "65-character vin",
        False,
        bounds=("at most 64",),
    )
    yield Case(t, {"identifiers": [{"vin": ""}]}, "out_of_range", "empty vin", False, bounds=("at least 1",))
    yield Case(t, {"identifiers": [{}]}, "missing_key", "empty identifier", False)
    yield Case(t, {}, "missing_key", "no identifiers", False)


def list_cases(tool: str) -> Iterator[Case]:
    """The two business lists take only limit and cursor: anything else is extra, and the fix
    is to send nothing else; a page size out of range states its bound."""
    yield Case(tool, {"page_size": 10}, "wrong_key", "limit as page_size", True)
    yield Case(tool, {"limit": 0}, "out_of_range", "limit 0", True, bounds=("at least 1",))
    yield Case(tool, {"limit": 500}, "out_of_range", "limit 500", True, bounds=("at most 200",))
    for key, value in (
        ("job", JOB),
        ("site_id", SITE),
        ("filter", "AMI"),
        ("offset", 10),
        ("page", 1),
        ("name", "Riccarton"),
        ("type", "supplier"),
        ("query", "insurance"),
    ):
        yield Case(tool, {key: value}, "extra_key", key, True)


def open_repair_job_cases() -> Iterator[Case]:
    t = "open_repair_job"
    yield from job_cases(t, NEW_JOB, exists=False)
    for old, keys in (
        ("repairer_site_id", ("site_id", "siteId", "repairer_site", "site")),
        ("work_provider_id", ("insurer_id", "insurer", "work_provider", "workProviderId")),
        ("claim_number", ("claim", "claimNumber", "claim_no")),
        ("job_number", ("jobNumber", "job_no")),
        ("vehicle", ("car", "Vehicle")),
    ):
        for key in keys:
            yield Case(t, renamed(t, old, key), "wrong_key", f"{old} as {key}", True)
    vehicle = BASE[t]["vehicle"]
    for key, value in (("vin", VIN), ("VIN", VIN), ("plate", VRM), ("rego", VRM), ("registration", VRM)):
        yield Case(t, with_(t, vehicle={key: value}), "wrong_key", f"vehicle.{key}", True)
    yield Case(t, with_(t, vehicle={**vehicle, "make": "Toyota"}), "extra_key", "vehicle.make", True)
    yield Case(t, with_(t, vehicle=json.dumps(vehicle)), "json_string", "vehicle as JSON text", True)
    yield Case(t, with_(t, vehicle=VIN), "wrong_type", "vehicle as a VIN", True)
    yield Case(t, with_(t, repairer_site_id={"id": SITE}), "wrong_type", "site in an id wrapper", True)
    yield Case(t, with_(t, work_provider_id={"id": AMI}), "wrong_type", "insurer in an id wrapper", True)
    yield Case(t, with_(t, claim_number=800001), "wrong_type", "claim number as a number", True)
    yield Case(t, with_(t, job_number=5001), "wrong_type", "job number as a number", True)
    for label, site in (
        ("supplier id", S1),
        ("work provider id", AMI),
        ("job id", JOB_ID),
        ("unknown id", MISSING),
    ):
        yield Case(t, with_(t, repairer_site_id=site), "wrong_kind_id", f"{label} as repairer_site_id", True)
    for name in ("Riccarton Collision Centre", "Riccarton", "riccarton collision centre"):
        yield Case(t, with_(t, repairer_site_id=name), "reference", f"site named {name!r}", True)
    for name in ("AMI Insurance", "AMI", "State Insurance", "tower"):
        yield Case(t, with_(t, work_provider_id=name), "reference", f"insurer named {name!r}", True)
    for name in ("Insurance", "ACME Mutual"):
        yield Case(t, with_(t, work_provider_id=name), "reference", f"insurer named {name!r}", False)
    yield Case(t, with_(t, work_provider_id=MISSING), "wire_refusal", "unknown insurer, new job", False)
    yield Case(t, with_(t, work_provider_id=SITE), "wrong_kind_id", "site as insurer, new job", False)
    existing = {"job": JOB, "work_provider_id": MISSING}
    # The agent meant to change the insurer: dropping the field would "succeed" and change nothing.
    yield Case(t, existing, "wire_refusal", "unknown insurer, existing job", False)
    yield Case(
        t, {"job": JOB, "work_provider_id": S1}, "wrong_kind_id", "supplier as insurer, existing job", False
    )
    yield Case(
        t, {"job": JOB, "repairer_site_id": S1}, "wrong_kind_id", "supplier as site, existing job", True
    )
    yield Case(t, with_(t, notes="front-end hit"), "extra_key", "notes", True)
    yield Case(t, with_(t, customer={"name": "A. Driver"}), "extra_key", "customer", True)
    long = "X" * 101
    yield Case(
        t,
        with_(t, claim_number=long),
        "out_of_range",
        "claim number too long",
        False,
        bounds=("at most 100",),
    )
    yield Case(
        t, with_(t, job_number=long), "out_of_range", "job number too long", False, bounds=("at most 100",)
    )
    yield Case(
        t,
        with_(t, vehicle={"chassis_number": "J" * 65}),
        "out_of_range",
        "chassis number too long",
        False,
        bounds=("at most 64",),
    )


def identify_parts_cases() -> Iterator[Case]:
    t = "identify_parts"
    yield from job_cases(t)
    bonnet = BASE[t]["parts"][0]
    for key in ("part_list", "items", "Parts", "partsList"):
        yield Case(t, renamed(t, "parts", key), "wrong_key", f"parts as {key}", True)
    for old, new in (
        ("description", "name"),
        ("description", "desc"),
        ("description", "Description"),
        ("quantity", "qty"),
        ("quantity", "count"),
        ("quantity", "Quantity"),
        ("part_number", "partNumber"),
        ("part_number", "oem_number"),
    ):
        item = {(new if k == old else k): v for k, v in bonnet.items()}
        yield Case(t, with_(t, parts=[item]), "wrong_key", f"part.{new}", True)
    yield Case(t, with_(t, parts=json.dumps([bonnet])), "json_string", "parts as JSON text", True)
    yield Case(t, with_(t, parts=[json.dumps(bonnet)]), "json_string", "part as JSON text", True)
    yield Case(t, with_(t, parts=bonnet), "wrong_type", "one part, not a list", True)
    yield Case(t, with_(t, parts=["Bonnet"]), "wrong_type", "parts as bare descriptions", True)
    yield Case(t, with_(t, parts=[{**bonnet, "quantity": "1"}]), "wrong_type", "quantity as text", True)
    yield Case(t, with_(t, parts=[{**bonnet, "quantity": 1.0}]), "wrong_type", "quantity as a float", True)
    yield Case(
        t,
        with_(t, parts=[{**bonnet, "part_number": 5330102230}]),
        "wrong_type",
        "part number as a number",
        True,
    )
    for q, bound in ((0, "at least 1"), (-1, "at least 1"), (1001, "at most 1000")):
        yield Case(
            t,
            with_(t, parts=[{**bonnet, "quantity": q}]),
            "out_of_range",
            f"quantity {q}",
            True,
            bounds=(bound,),
        )
    yield Case(
        t,
        with_(t, parts=[{**bonnet, "description": ""}]),
        "out_of_range",
        "empty description",
        False,
        bounds=("at least 1",),
    )
    yield Case(
        t,
        with_(t, parts=[{**bonnet, "description": "B" * 501}]),
        "out_of_range",
        "long description",
        False,
        bounds=("at most 500",),
    )
    yield Case(t, with_(t, parts=[]), "wrong_length", "no parts", False, bounds=("at least 1",))
    many = [{"description": f"Clip {n}", "quantity": 1} for n in range(201)]
    yield Case(t, with_(t, parts=many), "wrong_length", "201 parts", True, bounds=("at most 200",))
    yield Case(t, with_(t, parts=[{**bonnet, "price": "120.00"}]), "extra_key", "part.price", True)
    yield Case(t, with_(t, supplier=S1), "extra_key", "supplier", True)
    yield Case(t, with_(t, parts=[{"description": "Bonnet"}]), "missing_key", "part without quantity", True)
    yield Case(t, with_(t, parts=[{"quantity": 1}]), "missing_key", "part without description", False)
    yield Case(t, with_(t, parts=None), "missing_key", "no parts", False)
    yield Case(
        t,
        with_(t, parts=[{**bonnet, "identity": {"external_id": "P-BONNET"}}]),
        "wrong_key",
        "part identity external_id",
        True,
    )
    yield Case(
        t,
        with_(t, parts=[{"identity": {"id": part(1)}, "description": "Front bumper cover", "quantity": 2}]),
        "wire_refusal",
        "ordered part's quantity changed",
        False,  # putting the old quantity back would change nothing the agent meant: ask
    )
    yield Case(
        t,
        with_(t, parts=[{**bonnet, "identity": {"id": offer(7)}}]),
        "wrong_kind_id",
        "offer id as part identity",
        True,
    )


def place_procurement_cases() -> Iterator[Case]:
    t = "place_procurement"
    yield from job_cases(t)
    full, short = BASE[t]["offer_selections"]
    for key in ("offers", "selections", "offerSelections", "selected_offers"):
        yield Case(t, renamed(t, "offer_selections", key), "wrong_key", f"offer_selections as {key}", True)
    for old, new in (
        ("sellable_id", "offer_id"),
        ("sellable_id", "sellableId"),
        ("sellable_id", "id"),
        ("supplier_business_id", "supplier_id"),
        ("supplier_business_id", "supplierBusinessId"),
        ("job_part_ids", "part_ids"),
        ("job_part_ids", "jobPartIds"),
        ("quantity", "qty"),
    ):
        item = {(new if k == old else k): v for k, v in full.items()}
        yield Case(t, with_(t, offer_selections=[item, short]), "wrong_key", f"selection.{new}", True)
    yield Case(
        t,
        with_(t, offer_selections=json.dumps([full, short])),
        "json_string",
        "selections as JSON text",
        True,
    )
    yield Case(
        t, with_(t, offer_selections=[json.dumps(full), short]), "json_string", "selection as JSON text", True
    )
    yield Case(
        t,
        with_(t, offer_selections=[{**full, "job_part_ids": json.dumps([part(4)])}, short]),
        "json_string",
        "job_part_ids as JSON text",
        True,
    )
    yield Case(t, with_(t, offer_selections=full), "wrong_type", "one selection, not a list", True)
    yield Case(t, with_(t, offer_selections=[offer(7), offer(0x0A)]), "wrong_type", "bare sellable ids", True)
    text = f"{offer(7)},{offer(0x0A)}"
    yield Case(t, with_(t, offer_selections=text), "wrong_type", "comma-separated sellable ids", True)
    yield Case(
        t,
        with_(t, offer_selections=[{**full, "sellable_id": {"id": offer(7)}}]),
        "wrong_type",
        "id wrapper",
        True,
    )
    yield Case(
        t,
        with_(t, offer_selections=[{**full, "job_part_ids": part(4)}]),
        "wrong_type",
        "job_part_ids as one id",
        True,
    )
    yield Case(
        t, with_(t, offer_selections=[{**full, "quantity": "1"}]), "wrong_type", "quantity as text", True
    )
    for flag in ("false", "no", 0):
        yield Case(t, with_(t, dry_run=flag), "wrong_type", f"dry_run {flag!r}", True)
    yield Case(t, {**renamed(t, "job", "job"), "dryRun": False}, "wrong_key", "dryRun", True)
    for q in (0, -1, 1001, 2):
        kind = "mismatched_selection" if q == 2 else "out_of_range"
        bounds = ("at least 1",) if q < 1 else ("at most 1000",) if q > 1000 else ()
        yield Case(
            t,
            with_(t, offer_selections=[{**full, "quantity": q}]),
            kind,
            f"quantity {q}",
            q < 1,  # more than the offer's quantity is a different order: only the person can say
            bounds=bounds,
        )
    yield Case(
        t, with_(t, offer_selections=[]), "wrong_length", "no selections", False, bounds=("at least 1",)
    )
    yield Case(
        t,
        with_(t, offer_selections=[short] * 101),
        "wrong_length",
        "101 copies of one offer",
        True,
        bounds=("at most 100",),
    )
    yield Case(
        t,
        with_(t, offer_selections=[{**full, "job_part_ids": []}]),
        "wrong_length",
        "empty job_part_ids",
        True,
        bounds=("at least 1",),
    )
    yield Case(
        t,
        with_(t, offer_selections=[{**full, "job_part_ids": [part(4)] * 101}]),
        "wrong_length",
        "101 job_part_ids",
        True,
        bounds=("at most 100",),
    )
    for label, value in (("site", SITE), ("S2", S2), ("S3", S3)):
        sel = {**full, "supplier_business_id": value}
        yield Case(
            t, with_(t, offer_selections=[sel, short]), "mismatched_selection", f"supplier {label}", True
        )
    for label, ids in (
        ("another part", [part(5)]),
        ("the offer's id", [offer(7)]),
        ("an extra part", [part(4), part(6)]),
    ):
        sel = {**full, "job_part_ids": ids}
        yield Case(
            t, with_(t, offer_selections=[sel, short]), "mismatched_selection", f"job_part_ids {label}", True
        )
    yield Case(
        t,
        with_(
            t,
            offer_selections=[
                {"sellable_id": offer(7), "supplier_business_id": S2, "job_part_ids": [part(5)]}
            ],
        ),
        "mismatched_selection",
        "supplier and parts both wrong",
        True,
    )
    yield Case(
        t, with_(t, offer_selections=[{"sellable_id": part(4)}]), "wrong_kind_id", "part id as sellable", True
    )
    yield Case(
        t,
        with_(t, offer_selections=[{"sellable_id": part(2)}]),
        "wrong_kind_id",
        "unorderable part as sellable",
        False,
    )
    yield Case(
        t, with_(t, offer_selections=[{"sellable_id": S1}]), "wrong_kind_id", "supplier id as sellable", False
    )
    yield Case(
        t, with_(t, offer_selections=[{"sellable_id": JOB_ID}]), "wrong_kind_id", "job id as sellable", False
    )
    yield Case(
        t, with_(t, offer_selections=[{"sellable_id": MISSING}]), "wire_refusal", "unknown sellable", False
    )
    for name in ("Toyota Genuine Headlamp RH", "toyota genuine radiator support"):
        yield Case(
            t, with_(t, offer_selections=[{"sellable_id": name}]), "reference", f"offer named {name!r}", True
        )
    yield Case(
        t,
        with_(t, offer_selections=[{**full, "supplier_business_id": "Christchurch Toyota — Parts"}]),
        "reference",
        "supplier by name",
        True,
    )
    yield Case(
        t,
        with_(t, offer_selections=[{**full, "job_part_ids": ["Headlamp assembly RH"]}]),
        "reference",
        "part by description",
        True,
    )
    for label, sels, ok in (
        ("S3 offer for a part S1 offers", [offer(8)], True),
        ("S2 offer for a part S1 offers", [offer(0x0B)], True),
        ("one good, one unconfirmable", [offer(7), offer(0x0B)], True),
        ("one good, one already ordered", [offer(7), offer(2)], True),
        ("already ordered part", [offer(1)], False),
        ("unconfirmable part with no S1 offer", [offer(6)], False),
        # The grille has no confirmable offer at all: the only order this tool can place is the rest.
        ("good plus a part S1 does not offer", [offer(7), offer(9)], True),
    ):
        sel = [{"sellable_id": s} for s in sels]
        yield Case(t, with_(t, offer_selections=sel), "wire_refusal", label, ok)
    yield Case(
        t, with_(t, offer_selections=[{**full, "price": "631.00"}]), "extra_key", "selection.price", True
    )
    yield Case(
        t, with_(t, offer_selections=[{**full, "name": "Headlamp"}]), "extra_key", "selection.name", True
    )
    yield Case(t, with_(t, supplier_business_id=S1), "extra_key", "top-level supplier", True)
    yield Case(t, with_(t, notes="rush"), "extra_key", "notes", True)
    yield Case(t, with_(t, offer_selections=None), "missing_key", "no selections", False)
    yield Case(
        t,
        with_(t, offer_selections=[{"job_part_ids": [part(4)]}]),
        "missing_key",
        "parts without sellable",
        True,
    )
    yield Case(
        t,
        with_(t, offer_selections=[{"supplier_business_id": S1}]),
        "missing_key",
        "supplier without sellable",
        False,
    )


def procurement_id_cases(tool: str) -> Iterator[Case]:
    """``procurement_id`` mistakes shared by track, confirm and reconcile."""
    for key in ("procurementId", "procurement", "id", "ProcurementId", "pr_id"):
        yield Case(tool, renamed(tool, "procurement_id", key), "wrong_key", f"procurement_id as {key}", True)
    yield Case(
        tool,
        {**with_(tool, procurement_id=None), "procurement_identity": {"id": PR1}},
        "wrong_key",
        "identity",
        True,
    )
    yield Case(tool, with_(tool, procurement_id={"id": PR1}), "wrong_type", "id wrapper", True)
    yield Case(tool, with_(tool, procurement_id=[PR1]), "wrong_type", "a list", True)
    yield Case(
        tool, with_(tool, procurement_id=json.dumps({"id": PR1})), "json_string", "id wrapper as JSON", True
    )
    yield Case(tool, with_(tool, procurement_id=json.dumps(PR1)), "json_string", "uuid encoded twice", True)
    yield Case(tool, with_(tool, procurement_id=1), "wrong_type", "a number", False)
    for ref, label, ok, prelude in (
        ("PR-1", "reference, no job known", False, None),
        ("PR-1", "reference after the job was read", True, "seen"),
        ("pr-1", "lower-case reference after the job was read", True, "seen"),
        ("PR-9", "unknown reference after the job was read", False, "seen"),
    ):
        args = with_(tool, procurement_id=ref)
        yield Case(tool, args, "reference", label, ok, prelude=prelude, fresh_server=True)
    yield Case(tool, with_(tool, procurement_id=JOB_ID), "wrong_kind_id", "job id (one procurement)", True)
    yield Case(tool, with_(tool, procurement_id=offer(1)), "wrong_kind_id", "offer id", False)
    yield Case(tool, with_(tool, procurement_id=S1), "wrong_kind_id", "supplier id", False)
    yield Case(tool, with_(tool, procurement_id=MISSING), "wire_refusal", "unknown procurement", False)
    yield Case(tool, with_(tool, notes="urgent"), "extra_key", "notes", True)
    yield Case(tool, {"procurement_id": PR1, "supplier": S1}, "extra_key", "supplier", True)


def track_cases() -> Iterator[Case]:
    t = "track_procurement"
    yield from procurement_id_cases(t)
    for view, ok in (
        ("Supplier", True),
        ("buyer", True),
        ("seller", True),
        ("REPAIRER", True),
        ("both", False),
    ):
        yield Case(t, with_(t, view=view), "wrong_type" if ok else "reference", f"view {view!r}", ok)
    yield Case(t, with_(t, view=1), "wrong_type", "view as a number", False)
    yield Case(t, {"view": "supplier"}, "missing_key", "no procurement_id", False)
    yield Case(t, {**BASE[t], "job": JOB}, "extra_key", "job", True)
    yield Case(
        t,
        {"procurement_id": "$S2_ORDER", "view": "supplier"},
        "wire_refusal",
        "supplier view of another supplier's order",
        True,
        prelude="s2",
    )


def confirm_cases() -> Iterator[Case]:
    t = "confirm_procurement"
    yield from procurement_id_cases(t)
    yield Case(t, {}, "missing_key", "no procurement_id", False)
    yield Case(t, {**BASE[t], "view": "supplier"}, "extra_key", "view", True)
    yield Case(
        t, {"procurement_id": "$S2_ORDER"}, "wire_refusal", "an unconfirmable supplier's order", False, "s2"
    )


def reconcile_cases() -> Iterator[Case]:
    t = "reconcile_invoice"
    yield from procurement_id_cases(t)
    base_job = {"job": JOB}
    for case in job_cases("get_repair_job"):
        args = {("job" if k == "job" else k): v for k, v in case.args.items()}
        yield Case(t, args, case.kind, case.label, case.correctable)
    yield Case(t, {"procurement_id": PR1, "job": JOB}, "mismatched_selection", "procurement_id and job", True)
    yield Case(
        t,
        {"procurement_id": PR1, "job": JOB, "invoice_id": MISSING},
        "mismatched_selection",
        "all three",
        True,
    )
    yield Case(t, {"invoice_id": MISSING, "job": JOB}, "mismatched_selection", "invoice_id and job", True)
    yield Case(t, {"procurement_id": "PR-1", "job": JOB}, "reference", "reference with its job", True)
    yield Case(t, {}, "missing_key", "no selector", False)
    yield Case(t, {"invoice_id": MISSING}, "wire_refusal", "unknown invoice", False)
    yield Case(t, {"invoice_id": PR1}, "wrong_kind_id", "procurement id as invoice id", True)
    yield Case(t, {"invoice_id": JOB_ID}, "wrong_kind_id", "job id as invoice id", True)
    yield Case(t, {**base_job, "invoiceId": None}, "extra_key", "invoiceId null", True)


def unknown_tool_cases() -> Iterator[Case]:
    for name, meant in (
        ("list_business", "list_businesses"),
        ("listBusinesses", "list_businesses"),
        ("List_Businesses", "list_businesses"),
        ("list_work_provider", "list_work_providers"),
        ("get_repair_jobs", "get_repair_job"),
        ("getRepairJob", "get_repair_job"),
        ("open_repair_jobs", "open_repair_job"),
        ("identify_part", "identify_parts"),
        ("list_part", "list_parts"),
        ("recommend_baskets", "recommend_basket"),
        ("place_procurements", "place_procurement"),
        ("list_procurement", "list_procurements"),
        ("track_procurements", "track_procurement"),
        ("confirm_procurements", "confirm_procurement"),
        ("reconcile_invoices", "reconcile_invoice"),
        ("prepare_vehicles", "prepare_vehicle"),
        ("rails.place_procurement", "place_procurement"),
        ("PLACE_PROCUREMENT", "place_procurement"),
    ):
        yield Case(name, BASE[meant], "unknown_tool", name, True, meant=meant)


def corpus() -> list[Case]:
    cases: list[Case] = [
        *prepare_vehicle_cases(),
        *list_cases("list_businesses"),
        *list_cases("list_work_providers"),
        *open_repair_job_cases(),
        *identify_parts_cases(),
        *place_procurement_cases(),
        *track_cases(),
        *confirm_cases(),
        *reconcile_cases(),
        *unknown_tool_cases(),
    ]
    for tool in ("get_repair_job", "list_parts", "recommend_basket", "list_procurements"):
        cases += job_cases(tool)
    return cases


# --- running a case on its own fresh tenant ---------------------------------------------------


async def _seen(client: Client, rails: Any) -> dict[str, str]:
    """The agent has read the job's orders before it sends a reference like PR-1."""
    await client.call_tool("list_procurements", {"job": JOB})
    return {}


async def _s2_order(client: Client, rails: Any) -> dict[str, str]:
    """An order with a supplier nobody can confirm, placed on the raw wire (the guard refuses it)."""
    from rails_mcp.wire import models as m

    job = m.ExternalIdentity(external=JOB_EXTERNAL)
    basket = await rails.client.repairer.jobs.baskets.latest.get(job_identity=job)
    pick = next(
        o
        for o in basket.offers
        if str(o.supplier_business_id) != S1 and part(1) not in map(str, o.job_part_ids)
    )
    placed = await rails.client.repairer.procurements.insert(
        job_identity=job,
        offer_selections=[
            m.OfferSelectionV1(
                sellable_id=pick.sellable_id,
                supplier_business_id=pick.supplier_business_id,
                job_part_ids=list(pick.job_part_ids),
                quantity=pick.quantity,
            )
        ],
    )
    return {"$S2_ORDER": str(placed.procurement.id)}


PRELUDES: dict[str, Callable[[Client, Any], Awaitable[dict[str, str]]]] = {"seen": _seen, "s2": _s2_order}


def substitute(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, list):
        return [substitute(v, names) for v in value]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, dict):
        return {k: substitute(v, names) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    return value


@dataclass
class Outcome:
    case: Case
    structured: bool = False
    code: str | None = None
    bound_stated: bool = True
    replayed: bool | None = None  # None: not replayed (needs a person, or no example offered)
    example_offered: bool = False
    detail: str = ""

    @property
    def replay_ok(self) -> bool:
        return self.replayed is True


def error_of(result: CallToolResult) -> dict[str, Any] | None:
    """The SPEC §3 error object if ``result`` is a structured error with a fix, else None."""
    structured = result.structured_content
    if not result.is_error or not isinstance(structured, dict):
        return None
    error = structured.get("error")
    if not isinstance(error, dict):
        return None
    for key in ("code", "message", "fix"):
        if not isinstance(error.get(key), str) or not error[key].strip():
            return None
    if not isinstance(error.get("retryable"), bool):
        return None
    return error


def short(result: CallToolResult) -> str:
    error = error_of(result)
    if error is not None:
        return f"{error['code']}: {error['message'][:160]}"
    block = result.content[0] if result.content else None
    text = block.text if isinstance(block, TextContent) else ""
    return f"{'error' if result.is_error else 'success'}: {text[:160]}"


def settings(state_dir: Path, tenant: str) -> Any:
    return load_settings(state_dir=state_dir, tenant=tenant)


async def run_case(case: Case, client: Client, rails: Any) -> Outcome:
    """The mistaken call, then (for a correctable one) the replay of its example, on one state."""
    out = Outcome(case)
    names = await PRELUDES[case.prelude](client, rails) if case.prelude else {}
    args = substitute(case.args, names)
    try:
        result = await client.call_tool(case.tool, args)
    except Exception as exc:  # a protocol error is a miss, not a crash of the corpus
        out.detail = f"raised {type(exc).__name__}: {str(exc)[:160]}"
        return out
    error = error_of(result)
    if error is None:
        out.detail = f"not a structured error with a fix ({short(result)})"
        return out
    out.structured = True
    out.code = error["code"]
    said = f"{error['message']} {error['fix']}"
    out.bound_stated = all(b in said.lower() for b in case.bounds)
    if not out.bound_stated:
        out.detail = f"bound {'/'.join(case.bounds)} not stated: {said[:200]}"
    tool, example = case.tool, error.get("example_arguments")
    if case.meant is not None:
        meant = error.get("did_you_mean")
        tool = meant if isinstance(meant, str) else ""
        example = example if isinstance(example, dict) else case.args
        if tool != case.meant:
            out.replayed = False
            out.detail = f"closest tool named {tool!r}, meant {case.meant}"
            return out
    out.example_offered = isinstance(example, dict)
    if not isinstance(example, dict):
        if case.correctable:
            out.replayed = False
            out.detail = out.detail or f"no example_arguments ({error['code']}: {error['fix'][:160]})"
        return out
    try:
        replay = await client.call_tool(tool, example)
    except Exception as exc:
        out.replayed = False
        out.detail = f"replay raised {type(exc).__name__}"
        return out
    out.replayed = not replay.is_error
    if not out.replayed:
        out.detail = f"replay of {json.dumps(example)[:160]} failed: {short(replay)}"
    return out


@dataclass
class Figures:
    outcomes: list[Outcome]
    seconds: float
    base_failures: list[str] = field(default_factory=list[str])

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def structured(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.structured]

    @property
    def correctable(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.case.correctable]

    @property
    def replayed(self) -> list[Outcome]:
        return [o for o in self.correctable if o.replay_ok]

    @property
    def bounded(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.case.bounds]

    @property
    def guessed(self) -> list[Outcome]:
        """Cases needing a person whose error offers an example anyway (listed for review)."""
        return [o for o in self.outcomes if not o.case.correctable and o.example_offered]

    @property
    def wrong_examples(self) -> list[Outcome]:
        """Cases needing a person whose error still offers an example that fails when replayed."""
        return [
            o for o in self.outcomes if not o.case.correctable and o.replayed is False and o.example_offered
        ]

    def pct(self, part: int, whole: int) -> float:
        return 100.0 * part / whole if whole else 100.0

    @property
    def structured_pct(self) -> float:
        return self.pct(len(self.structured), self.total)

    @property
    def replay_pct(self) -> float:
        return self.pct(len(self.replayed), len(self.correctable))

    def misses(self) -> list[str]:
        lines: list[str] = []
        for o in self.outcomes:
            why = ""
            if not o.structured:
                why = "unstructured"
            elif o.case.correctable and not o.replay_ok:
                why = "no working correction"
            elif not o.bound_stated:
                why = "bound not stated"
            elif o in self.wrong_examples:
                why = "offers a failing example"
            if why:
                lines.append(f"[{why}] {o.case.name}: {o.detail}")
        return lines

    def report(self) -> list[str]:
        by_kind = Counter(o.case.kind for o in self.outcomes)
        by_tool = Counter(o.case.tool for o in self.outcomes if o.case.meant is None)
        bounded = self.bounded
        lines = [
            f"mutation corpus: {self.total} cases over {len(by_tool)} tools in {self.seconds:.1f} s",
            f"  structured error with a fix: {len(self.structured)}/{self.total} = "
            f"{self.structured_pct:.1f} %",
            f"  correctable: {len(self.correctable)}, replay of example_arguments succeeds: "
            f"{len(self.replayed)}/{len(self.correctable)} = {self.replay_pct:.1f} %",
            f"  needs a person: {self.total - len(self.correctable)}; of them offering a failing example: "
            f"{len(self.wrong_examples)}; offering one at all: {len(self.guessed)}",
            f"  range/length errors stating the bound: {sum(o.bound_stated for o in bounded)}/{len(bounded)}",
            "  by class: " + ", ".join(f"{k} {by_kind[k]}" for k in CLASSES),
        ]
        misses = self.misses()
        lines.append(f"  remaining misses: {len(misses)}")
        lines += [f"    {m}" for m in misses]
        if self.guessed:
            lines.append("  needing a person, yet offered an example (check it is not a guess):")
            lines += [
                f"    {o.case.name}: replayed {'ok' if o.replay_ok else 'with an error'}"
                for o in self.guessed
            ]
        return lines


class _Summary:
    """Prints the corpus figures in the terminal summary of a normal pytest run."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section("mutation corpus (issue 10)")
        for line in self.lines:
            terminalreporter.write_line(line)


def _clean_environment() -> dict[str, str]:
    saved = {k: v for k, v in os.environ.items() if k.startswith("RAILS_")}
    for k in saved:
        del os.environ[k]
    return saved


@asynccontextmanager
async def served(state_dir: Path, tenant: str) -> AsyncIterator[tuple[Client, Any]]:
    """A client over a server of its own, on ``tenant`` of the shared sandbox file."""
    rails = open_rails(settings(state_dir, tenant))
    try:
        async with Client(build_server(rails)) as client:
            yield client, rails
    finally:
        await rails.client.aclose()


async def run_corpus(state_dir: Path, cases: list[Case], workers: int = 6) -> Figures:
    """Each worker keeps one server and resets its tenant to the seed before every case; a
    case whose outcome depends on what the server has already seen gets a server of its own."""
    started = time.perf_counter()
    outcomes: list[Outcome | None] = [None] * len(cases)
    base_failures: list[str] = []
    queue = list(enumerate(cases))
    db = settings(state_dir, "w").sandbox_db()

    async def worker(k: int) -> None:
        tenant = f"w{k}"
        while queue:
            # A case that breaks the connection costs only itself: the next one reconnects.
            async with served(state_dir, tenant) as (client, rails):
                while queue:
                    i, case = queue.pop()
                    reset_tenant(db, tenant)
                    try:
                        if case.fresh_server:
                            async with served(state_dir, tenant) as (own, own_rails):
                                outcomes[i] = await run_case(case, own, own_rails)
                        else:
                            outcomes[i] = await run_case(case, client, rails)
                    except Exception as exc:
                        outcomes[i] = Outcome(
                            case, detail=f"connection lost: {type(exc).__name__}: {exc}"[:200]
                        )
                        break

    async with served(state_dir, "base") as (client, _):
        for tool, args in BASE.items():
            reset_tenant(db, "base")
            result = await client.call_tool(tool, args)
            if result.is_error:
                base_failures.append(f"{tool}: {short(result)}")
    async with anyio.create_task_group() as tg:
        for k in range(workers):
            tg.start_soon(worker, k)
    done = [o for o in outcomes if o is not None]
    return Figures(done, time.perf_counter() - started, base_failures)


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Figures:
    root = tmp_path_factory.mktemp("corpus")
    saved = _clean_environment()
    os.environ["RAILS_CONFIG_DIR"] = str(root / "config")
    try:
        result = anyio.run(run_corpus, root / "state", corpus())
    finally:
        os.environ.pop("RAILS_CONFIG_DIR", None)
        os.environ.update(saved)
    lines = result.report()
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    request.config.pluginmanager.register(_Summary(lines), "mutation-corpus-summary")
    return result


# --- the checks ---------------------------------------------------------------------------------


def test_the_corpus_covers_every_tool_and_mutation_class_with_at_least_300_cases():
    cases = corpus()
    assert len(cases) >= 300, len(cases)
    assert {c.tool for c in cases if c.meant is None} == set(BASE)
    assert {c.kind for c in cases} == set(CLASSES)
    assert len({c.name for c in cases}) == len(cases), "every case has its own name"


def test_every_base_argument_set_succeeds_on_a_fresh_tenant(figures: Figures):
    """Mutations of arguments that fail anyway would measure nothing."""
    assert figures.base_failures == []


def test_every_mistake_comes_back_as_a_structured_error_with_a_fix(figures: Figures):
    unstructured = [m for m in figures.misses() if m.startswith("[unstructured]")]
    assert figures.structured_pct == 100.0, "\n".join(figures.report()[:6] + unstructured)


def test_correctable_mistakes_carry_example_arguments_that_succeed_when_replayed(figures: Figures):
    assert figures.replay_pct >= 95.0, "\n".join(figures.report())


def test_every_range_and_length_error_states_its_bound(figures: Figures):
    missing = [m for m in figures.misses() if m.startswith("[bound not stated]")]
    assert all(o.bound_stated for o in figures.bounded), "\n".join(missing)


# --- the issue's own examples, spelled out ----------------------------------------------------------

UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def _call(state_dir: Path, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """One call on a fresh tenant, outside the developer's ``RAILS_*`` settings; its error object."""
    with pytest.MonkeyPatch.context() as env:
        for name in [k for k in os.environ if k.startswith("RAILS_")]:
            env.delenv(name)
        env.setenv("RAILS_CONFIG_DIR", str(state_dir / "config"))
        return anyio.run(_one_call, state_dir, tool, args)


async def _one_call(state_dir: Path, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    async with served(state_dir, "examples") as (client, _):
        result = await client.call_tool(tool, args)
    error = error_of(result)
    assert error is not None, short(result)
    return error


def test_a_procurement_reference_with_no_job_known_says_what_to_call_and_offers_no_id(tmp_path: Path):
    error = _call(tmp_path, "track_procurement", {"procurement_id": "PR-1"})
    assert "example_arguments" not in error
    assert "list_procurements" in error["fix"]
    assert not UUID_TEXT.search(error["message"] + error["fix"]), "never an id of another kind as an example"


def test_a_chassis_key_is_answered_with_both_identifier_shapes_and_the_corrected_call(tmp_path: Path):
    error = _call(tmp_path, "prepare_vehicle", {"identifiers": [{"chassis": VIN}]})
    assert 'each identifier is {"vin"' in error["message"]
    assert '{"vrm"' in error["message"]
    assert error["example_arguments"] == {"identifiers": [{"vin": VIN}]}


def test_an_unknown_insurer_on_a_new_job_says_which_insurers_to_ask_about(tmp_path: Path):
    error = _call(tmp_path, "open_repair_job", {"job": NEW_JOB, "work_provider_id": MISSING})
    assert error["code"] == "work_provider_not_found"
    assert "example_arguments" not in error
    assert "Ask the person" in error["fix"]
    for insurer in ("AMI Insurance", "State Insurance", "Tower Insurance"):
        assert insurer in error["fix"]
