"""Close the audit intents a killed process left open, by asking the wire what happened.

A write is announced (intent line) before it reaches the wire and closed by the call's own
line after. A process killed in between leaves the intent open in the state store; at
start-up the next process claims it and writes one ``recovery`` line: ``recovered`` when the
wire shows the write landed (with the procurement ids it made), ``not_landed`` when it shows
it did not, ``unverified`` for a write the wire cannot tell apart afterwards. An intent the
wire cannot be asked about now (unreachable) stays open for the next start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

import anyio

from rails_mcp.audit import AuditEntry, AuditLog, touched_ids
from rails_mcp.client import RailsClient
from rails_mcp.state import OpenIntent
from rails_mcp.wire import models as m
from rails_mcp.wire.errors import NotFound, RailsError

__all__ = ["RECOVERY_SECONDS", "recover_at_start_up", "recover_intents"]

log = logging.getLogger("rails_mcp.recovery")

#: How long start-up may spend asking the wire; what is left stays open for the next start.
RECOVERY_SECONDS = 30.0

#: (outcome, procurement ids) for one intent.
Verdict = tuple[str, list[str]]


def _identity(ref: object) -> m.Identity:
    job = cast("Mapping[str, Any]", ref)
    if "external" in job:
        return m.ExternalIdentity(external=str(job["external"]))
    return m.IdIdentity(id=job["id"])


async def _placement(client: RailsClient, line: Mapping[str, Any]) -> Verdict:
    """Landed when a procurement of the job holds every part the order covered."""
    order = cast("Mapping[str, Any]", line["order"])
    wanted = {str(p) for p in order["part_ids"]}
    listed = await client.repairer.procurements.list(job_identity=_identity(order["job"]))
    for p in listed.items:
        if wanted and wanted <= {str(pid) for item in p.source_items for pid in item.job_part_ids}:
            return "recovered", [str(p.id)]
    return "not_landed", []


async def _confirmation(client: RailsClient, line: Mapping[str, Any]) -> Verdict:
    ident = str(line["arguments"]["procurement_id"])
    after = await client.repairer.procurements.get(identity=m.IdIdentity(id=ident))  # pyright: ignore[reportArgumentType]
    landed = after.status is m.ProcurementStatus.ORDER_CONFIRMED
    return ("recovered" if landed else "not_landed"), [ident]


async def _job(client: RailsClient, line: Mapping[str, Any]) -> Verdict:
    try:
        await client.repairer.jobs.get(identity=_identity(line["arguments"]["job"]))
    except NotFound:
        return "not_landed", []
    return "recovered", []


async def _parts(client: RailsClient, line: Mapping[str, Any]) -> Verdict:
    arguments = line["arguments"]
    wanted = {str(p["description"]) for p in arguments["parts"]}
    try:
        parts = await client.repairer.jobs.parts.list(job_identity=_identity(arguments["job"]))
    except NotFound:
        return "not_landed", []
    return ("recovered" if wanted <= {p.description for p in parts.items} else "not_landed"), []


#: How each write tool's landing is read back from the wire.
CHECKS: dict[str, Callable[[RailsClient, Mapping[str, Any]], Awaitable[Verdict]]] = {
    "place_procurement": _placement,
    "confirm_procurement": _confirmation,
    "open_repair_job": _job,
    "identify_parts": _parts,
}


async def _verdict(client: RailsClient, intent: OpenIntent) -> Verdict | None:
    check = CHECKS.get(intent.tool)
    if check is None:
        return "unverified", []
    try:
        return await check(client, intent.line)
    except RailsError as exc:
        log.warning(
            "recovery: could not ask the wire about a %s (%s); kept open", intent.tool, type(exc).__name__
        )
        return None
    except (KeyError, TypeError, ValueError):  # arguments the tool itself would have refused
        return "unverified", []


async def recover_intents(audit: AuditLog, client: RailsClient, intents: Sequence[OpenIntent]) -> int:
    """Write one recovery line per intent the wire could answer for; how many were closed.

    An intent whose own outcome line the file already has (the process was killed after writing
    it, before closing the intent in the store) is only closed: it never gets a second outcome.
    """
    closed = 0
    finished = audit.outcomes_written([intent.id for intent in intents])
    for intent in intents:
        if intent.id in finished:
            audit.close_intent(intent.id, intent.tool)
            closed += 1
            continue
        verdict = await _verdict(client, intent)
        if verdict is None:
            continue
        outcome, procurements = verdict
        line = intent.line
        named, invoices = touched_ids(line.get("arguments"))
        audit.record(
            AuditEntry(
                tool=intent.tool,
                arguments=cast("Mapping[str, Any]", line.get("arguments", {})),
                outcome=outcome,
                transport="recovery",
                protocol=str(line.get("protocol", "")),
                approval=cast("str | None", line.get("approval")),
                procurement_ids=procurements or named,
                invoice_ids=invoices,
                kind="recovery",
                intent=intent.id,
            )
        )
        closed += 1
    return closed


def recover_at_start_up(audit: AuditLog, open_client: Callable[[], RailsClient]) -> None:
    """Before serving: close the intents a killed process left open (nothing to do: no wire call)."""
    store = audit.store
    if store is None or not store.has_orphans():
        return

    async def run() -> None:
        intents = store.claim_orphans()
        async with open_client() as client:
            with anyio.move_on_after(RECOVERY_SECONDS):
                closed = await recover_intents(audit, client, intents)
                log.warning(
                    "recovery: %d of %d open audit intent(s) closed from the wire", closed, len(intents)
                )

    anyio.run(run)
