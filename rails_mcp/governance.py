"""What the server does around every tool call for the shop: controls, approval, audit.

:class:`Governance` is what ``build_server`` consults: which tools to list (read-only mode and
the allow-list), whether a call may run at all (``read_only_mode``, ``tool_not_allowed``), the
per-call approval seam handed to ``place_procurement`` (with a returned 2026-07-28 state
verified before the tool reads anything), and the audit line written after each call.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

import anyio.to_thread
from mcp.server import ServerRequestContext
from mcp_types import CallToolRequestParams, CallToolResult, ElicitResult, InputRequiredResult

from rails_mcp.approval import ApprovalGate, ApprovalRound, AskHost, open_round
from rails_mcp.audit import AuditEntry, AuditLog, Principal, touched_ids
from rails_mcp.controls import Controls
from rails_mcp.errors import ToolError, ToolFailure
from rails_mcp.spending import Spend
from rails_mcp.state import Ledger, StateStore, state_errors
from rails_mcp.tools import ApprovalOutcome, InputNeeded, OrderForApproval, Rails, ToolDef
from rails_mcp.wire import models as m
from rails_mcp.wire.errors import RailsError

__all__ = ["CallRecord", "Governance"]

log = logging.getLogger("rails_mcp.governance")

#: The tool whose calls a person may be asked to approve.
APPROVED_TOOL = "place_procurement"


@dataclass
class CallRecord:
    """One call as the audit log sees it; the approval seam fills ``approval``."""

    tool: str
    arguments: Mapping[str, Any]
    protocol: str
    round: ApprovalRound | None = None
    approval: str | None = None
    #: Set when the call must not run; the server answers with it and writes nothing.
    refusal: ToolError | None = None
    #: The audit log the call's intent goes to before its write reaches the wire.
    audit: AuditLog | None = None
    transport: str = "in-memory"
    #: The intent announced for this call's write; its audit line closes it.
    intent: str | None = None
    #: A placement's budget reservation and idempotency key (None: no ledger).
    spend: Spend | None = None
    #: The first result of this idempotency key, answered instead of running the tool.
    replay: CallToolResult | None = None
    #: The order a person approved in this call (kept once the placement succeeds).
    approved: OrderForApproval | None = None
    #: Who asked, from the access token (None without OAuth).
    principal: Principal | None = None

    async def announce_write(self, order: Mapping[str, Any] | None = None) -> None:
        """Write the intent line (fsync'd) before the wire write; the call's own line closes it.

        The line and the store's row are written in a worker thread, so other sessions go on
        meanwhile; this returns once both are durable, and a cancelled call still finishes them.
        """
        if self.audit is None or self.intent is not None:
            return
        entry = AuditEntry(
            tool=self.tool,
            arguments=self.arguments,
            outcome="pending",
            transport=self.transport,
            protocol=self.protocol,
            approval=self.round.outcome if self.round is not None else self.approval,
            order=order,
            principal=self.principal,
        )
        self.intent = await anyio.to_thread.run_sync(self.audit.open_intent, entry)

    async def approve_order(self, order: OrderForApproval) -> ApprovalOutcome:
        """The ``ToolContext.approve_order`` seam; an order that may go ahead is announced first.

        The budget is reserved here, beside the per-order limit the tool already checked:
        before anyone is asked and before the wire.
        """
        if self.spend is not None:
            await self.spend.reserve(order.total)
        outcome = await self._approval(order)
        if outcome.status == "approved":
            self.approved = order
        if outcome.status != "declined":
            await self.announce_write(
                {
                    "job": dict(order.job),
                    "supplier_business_id": order.supplier_business_id,
                    "part_ids": [pid for line in order.lines for pid in line.job_part_ids],
                    "total": order.total,
                }
            )
        return outcome

    async def _approval(self, order: OrderForApproval) -> ApprovalOutcome:
        if self.round is None:
            return ApprovalOutcome(status="off")
        try:
            return await self.round.approve_order(order)
        except AskHost as ask:
            raise InputNeeded(ask.result) from None


@dataclass
class Governance:
    """The deployment's controls, approval gate and audit log, applied per call."""

    rails: Rails
    controls: Controls = field(default_factory=Controls)
    approval: ApprovalGate | None = None
    audit: AuditLog | None = None
    transport: str = "in-memory"
    #: Budgets and idempotency keys on the shared state store (None: neither).
    ledger: Ledger | None = None

    @property
    def max_order_total(self) -> Decimal | None:
        return self.controls.max_order_total

    def lists(self, tool: ToolDef[Any, Any]) -> bool:
        return self.controls.listed(tool.name, tool.read_only)

    def refusal(self, tool: ToolDef[Any, Any], visible: Sequence[str]) -> ToolError | None:
        return self.controls.refusal(tool.name, tool.read_only, visible)

    async def open_call(
        self,
        ctx: ServerRequestContext[Any],
        tool: ToolDef[Any, Any],
        arguments: Mapping[str, Any],
        params: CallToolRequestParams,
        visible: Sequence[str],
        principal: Principal | None = None,
    ) -> CallRecord:
        """The record of this call, with ``refusal`` set when it must not run.

        Refused here, before the tool reads anything: a tool outside the allow-list or a
        write in read-only mode, and a returned approval state that is tampered with,
        expired, minted for other arguments or already used.
        """
        record = CallRecord(
            tool.name,
            arguments,
            ctx.protocol_version,
            audit=self.audit,
            transport=self.transport,
            principal=principal,
        )
        record.refusal = self.refusal(tool, visible)
        if record.refusal is None and not tool.read_only and tool.name != APPROVED_TOOL:
            await record.announce_write()  # placements are announced once approved, with the order
        if record.refusal is None and tool.name == APPROVED_TOOL and self.ledger is not None:
            record.spend, record.refusal, record.replay = await Spend.open(
                self.ledger, arguments, principal.binding() if principal is not None else None
            )
        if record.refusal is not None or record.replay is not None:
            return record
        if tool.name != APPROVED_TOOL or self.approval is None:
            return record

        async def elicit(message: str, schema: dict[str, Any]) -> ElicitResult:
            return await ctx.session.elicit_form(message, schema, related_request_id=ctx.request_id)

        try:
            record.round = await open_round(
                self.approval,
                tool=tool.name,
                arguments=arguments,
                protocol_version=ctx.protocol_version,
                elicitation_declared=_elicitation_declared(ctx),
                can_send_request=ctx.session.can_send_request,
                elicit=elicit,
                request_state=params.request_state,
                input_responses=params.input_responses,
                parts_ordered=self._parts_ordered,
                principal=principal.binding() if principal is not None else None,
                who=principal.label() if principal is not None else None,
            )
        except ToolFailure as failure:
            record.refusal = failure.info
            record.approval = f"refused: {failure.info.code}"
        return record

    async def _parts_ordered(self, job: Mapping[str, Any], part_ids: Sequence[str]) -> bool:
        """Whether every part a sealed approval covered is ordered by now (read from the wire)."""
        try:
            identity: m.Identity = (
                m.ExternalIdentity(external=str(job["external"]))
                if "external" in job
                else m.IdIdentity(id=job["id"])
            )
            parts = (await self.rails.client.repairer.jobs.parts.list(job_identity=identity)).items
        except (RailsError, KeyError, ValueError) as exc:
            log.info("could not check a returned approval against the wire: %s", type(exc).__name__)
            return False
        ordered = {str(p.id) for p in parts if p.status is m.PartStatusV1.ORDERED}
        return bool(part_ids) and set(part_ids) <= ordered

    async def settle(self, record: CallRecord, result: CallToolResult | InputRequiredResult) -> None:
        """A placement's reservation committed or released, its idempotency key kept or freed, and
        the order a person approved kept once it landed: all stored before the tool answers, each
        in a worker thread so a slow store holds up no other session."""
        if record.spend is not None:
            await record.spend.settle(result)
        approved = self._approved_to_keep(record, result)
        if approved is not None:
            await anyio.to_thread.run_sync(_keep_approved_order, *approved)

    async def record(self, record: CallRecord, result: CallToolResult | InputRequiredResult) -> None:
        """Count the call and append its audit line (never raises; a failed write is a server-log warning).

        A write's line also closes its intent in the state store: that runs in a worker thread,
        like the intent itself. A read's line is an append and a queue entry, kept on the loop.
        """
        approval = record.round.outcome if record.round is not None else record.approval
        structured: dict[str, Any] = {}
        if isinstance(result, InputRequiredResult):
            outcome = "input_required"
        else:
            structured = dict(result.structured_content or {})
            error: object = structured.pop("error", None)
            code = cast("dict[str, Any]", error).get("code") if isinstance(error, dict) else None
            outcome = (str(code) if code else "error") if result.is_error else "ok"
            if approval is None and isinstance(structured.get("approval"), str):
                approval = str(structured["approval"])
        asked = record.round is not None and record.round.asked
        self.rails.client.metrics.tool_call(
            record.tool, outcome, approval, asked=asked, structured=structured
        )
        if self.audit is None:
            return
        procurements, invoices = touched_ids(record.arguments, structured)
        entry = AuditEntry(
            tool=record.tool,
            arguments=record.arguments,
            outcome=outcome,
            transport=self.transport,
            protocol=record.protocol,
            approval=approval,
            procurement_ids=procurements,
            invoice_ids=invoices,
            intent=record.intent,
            principal=record.principal,
        )
        if entry.intent is None:
            self.audit.record(entry)
        else:
            await anyio.to_thread.run_sync(self.audit.record, entry)

    def _approved_to_keep(
        self, record: CallRecord, result: CallToolResult | InputRequiredResult
    ) -> tuple[StateStore, Mapping[str, Any], dict[str, Any]] | None:
        """Where and what to keep when a placement a person approved has landed (for reconcile_invoice)."""
        store = self.rails.store
        if record.approved is None or store is None or not isinstance(result, CallToolResult):
            return None
        structured: dict[str, Any] = result.structured_content or {}
        placed: object = structured.get("procurement")
        if result.is_error or not isinstance(placed, dict):
            return None
        procurement = cast("dict[str, Any]", placed)
        return store, procurement, _approved_body(record.approved, procurement)


def _keep_approved_order(store: StateStore, procurement: Mapping[str, Any], body: dict[str, Any]) -> None:
    """Keep what a person approved by the procurement it became (a failure is a server-log warning)."""
    try:
        store.record_approved_order(str(procurement["id"]), body)
    except (*state_errors(), KeyError) as exc:
        log.warning("could not keep an approved order: %s", type(exc).__name__)


def _approved_body(order: OrderForApproval, placed: Mapping[str, Any]) -> dict[str, Any]:
    """What is kept of an approval: the lines, quantities, unit prices and total the person saw;
    the currency is the placed order's when the approval showed none (basket prices are bare)."""
    body = order.model_dump(mode="json", exclude={"arguments"})
    body["currency"] = order.currency or placed.get("currency_code")
    return body


def _elicitation_declared(ctx: ServerRequestContext[Any]) -> bool:
    """Whether the client said it can answer a form elicitation (the approval's older way in)."""
    caps = ctx.session.client_capabilities
    return (
        caps is not None
        and caps.elicitation is not None
        and (caps.elicitation.form is not None or caps.elicitation.url is None)
    )
