"""Invoices of a confirmed order, and whether every line matched (extension)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field

from rails_mcp.errors import Repairs, ToolError, ToolFailure, WireContext
from rails_mcp.present import InvoiceView, invoice_view
from rails_mcp.wire import models as m
from rails_mcp.wire.errors import RailsError
from rails_mcp.wire.untrusted import word

from .base import JOB_ALIASES, Identity, Reply, ToolContext, ToolInput, ToolOutput, hints
from .declare import declare
from .lookup import Candidate, Fix, uuid_of
from .procurements import PROCUREMENT_ALIASES
from .views import job_ctx, procurement_ctx, wire

__all__ = ["RECONCILE_INVOICE"]


class ReconcileInvoiceInput(ToolInput):
    repairs = Repairs(
        aliases={
            **JOB_ALIASES,
            **PROCUREMENT_ALIASES,
            "invoice": "invoice_id",
            "invoiceId": "invoice_id",
        },
        identities=frozenset({"job"}),
        ids=frozenset({"procurement_id", "invoice_id"}),
    )

    procurement_id: Annotated[UUID | None, Field(description="One order's invoices; instead of job.")] = None
    job: Annotated[Identity | None, Field(description="Instead of procurement_id; external or id.")] = None
    invoice_id: Annotated[UUID | None, Field(description="Alone: fetch one invoice.")] = None


class ReconcileInvoiceOutput(ToolOutput):
    notice: str | None = None
    status: Literal["reconciled", "needs_attention", "nothing_to_reconcile"] | None = None
    invoices: list[InvoiceView] | None = None
    reason: str | None = None
    next_tool: Literal["confirm_procurement"] | None = None


async def reconcile_invoice(ctx: ToolContext, args: ReconcileInvoiceInput) -> Reply[ReconcileInvoiceOutput]:
    selectors = (args.procurement_id is not None) + (args.job is not None)
    if (args.invoice_id is None and selectors != 1) or (args.invoice_id is not None and selectors):
        raise ToolFailure(
            ToolError(
                code="invalid_arguments",
                message="Give exactly one of procurement_id and job, or invoice_id alone "
                f"(got {selectors + (args.invoice_id is not None)} selectors).",
                fix="Send only procurement_id (one order's invoices), only job (all its orders'), "
                "or only invoice_id.",
                retryable=False,
                field="procurement_id" if selectors else None,
                valid_values=["procurement_id", "job", "invoice_id"],
            )
        )
    client = ctx.rails.client.repairer.procurements
    if args.invoice_id is not None:
        wctx = WireContext(
            "reconcile_invoice",
            not_found=f"No invoice {args.invoice_id} is visible to this repairer.",
            not_found_fix="Use an invoice id returned by reconcile_invoice for a procurement or job.",
        )
        got = await wire(wctx, client.invoices.get(identity=m.IdIdentity(id=args.invoice_id)))
        invoices = [got.invoice]
    elif args.procurement_id is not None:
        wctx = procurement_ctx("reconcile_invoice", args.procurement_id)
        listed = await wire(
            wctx, client.invoices.list(procurement_identity=m.IdIdentity(id=args.procurement_id))
        )
        invoices = listed.items
    else:
        assert args.job is not None
        listed = await wire(
            job_ctx("reconcile_invoice", args.job), client.invoices.list(job_identity=args.job)
        )
        invoices = listed.items
    if not invoices:
        return Reply(
            ReconcileInvoiceOutput(
                notice=m.EXTENSION_BANNER,
                status="nothing_to_reconcile",
                invoices=[],
                reason="Invoices appear only after the supplier confirms (order_confirmed).",
                next_tool="confirm_procurement",
            ),
            "Nothing to reconcile yet: invoices appear after confirm_procurement.",
        )
    views = [invoice_view(i) for i in invoices]
    reconciled = all(v.status is m.InvoiceStatus.RECONCILED and v.all_lines_matched for v in views)
    totals = ", ".join(f"{word(v.total)} {word(v.currency_code)}" for v in views)
    return Reply(
        ReconcileInvoiceOutput(
            notice=m.EXTENSION_BANNER,
            status="reconciled" if reconciled else "needs_attention",
            invoices=views,
        ),
        f"{len(views)} invoice(s), "
        f"{'all reconciled, every line matched' if reconciled else 'not all matched'}: {totals}.",
    )


async def _correct_reconcile(fix: Fix) -> list[Candidate]:
    """The job, the invoice and the procurement looked up; several selectors, each on its own."""
    cand = await fix.with_job(fix.base)
    if cand.get("invoice_id") is not None:
        cand = await _invoice_selector(fix, cand)
    cand = await fix.with_procurement(cand)
    chosen = [k for k in ("procurement_id", "job", "invoice_id") if cand.get(k) is not None]
    if len(chosen) <= 1:
        return [(cand, [])]
    why = "Give one selector only, here {} (procurement_id, job and invoice_id exclude each other)."
    return [({k: cand[k]}, [why.format(k)]) for k in chosen]


async def _invoice_selector(fix: Fix, cand: dict[str, Any]) -> dict[str, Any]:
    """An invoice_id that is really a procurement's or a job's id becomes that selector."""
    iid = uuid_of(cand.get("invoice_id"))
    if iid is None:
        return cand
    try:
        await fix.client.repairer.procurements.invoices.get(identity=m.IdIdentity(id=iid))
        return cand
    except RailsError:
        pass
    rest = {k: v for k, v in cand.items() if k != "invoice_id"}
    if await fix.job_of_procurement(iid) is not None:
        fix.notes.append(f"{iid} is a procurement's id, not an invoice's: send it as procurement_id.")
        return {"procurement_id": str(iid), **{k: v for k, v in rest.items() if k != "procurement_id"}}
    if await fix.get_job(m.IdIdentity(id=iid)) is not None:
        fix.notes.append(f"{iid} is a job's id, not an invoice's: send it as job.")
        return {"job": {"id": str(iid)}, **{k: v for k, v in rest.items() if k != "job"}}
    return cand


RECONCILE_INVOICE = declare(
    reconcile_invoice,
    hints(read_only=True, idempotent=True),
    "(Proposed extension beyond 2026-01.) Read the invoices of a confirmed order and whether "
    "every line matched. Give exactly one of procurement_id or job, or invoice_id alone. Before "
    "confirmation it reports nothing_to_reconcile (not an error).",
    extension=True,
    correct=_correct_reconcile,
)
