"""Invoices of a confirmed order, and whether every line matched (extension).

The match is three-way when a person approved the order: each invoice line, less credit notes,
against the ordered line and against the approved line (quantity and unit price).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, ValidationError

from rails_mcp.errors import Repairs, ToolError, ToolFailure, WireContext
from rails_mcp.paging import PAGE_ALIASES, NextCursor, PageInput, Window, cursor_key
from rails_mcp.present import InvoiceView, OrderForApproval, OrderMatch, invoice_view, match_order
from rails_mcp.state import StateStore, state_errors
from rails_mcp.ui import ORDER_APP
from rails_mcp.wire import models as m
from rails_mcp.wire.errors import RailsError
from rails_mcp.wire.untrusted import quote, word

from .base import JOB_ALIASES, Identity, Reply, ToolContext, ToolInput, ToolOutput, hints
from .declare import declare
from .lookup import Candidate, Fix, uuid_of
from .procurements import PROCUREMENT_ALIASES
from .views import job_ctx, procurement_ctx, wire

__all__ = ["RECONCILE_INVOICE"]

log = logging.getLogger("rails_mcp.tools.invoices")


class ReconcileInvoiceInput(PageInput, ToolInput):
    repairs = Repairs(
        aliases={
            **JOB_ALIASES,
            **PROCUREMENT_ALIASES,
            **PAGE_ALIASES,
            "invoice": "invoice_id",
            "invoiceId": "invoice_id",
        },
        identities=frozenset({"job"}),
        ids=frozenset({"procurement_id", "invoice_id"}),
    )

    procurement_id: Annotated[UUID | None, Field(description="One order.")] = None
    job: Annotated[Identity | None, Field(description="All its orders (paged).")] = None
    invoice_id: Annotated[UUID | None, Field(description="One invoice.")] = None


class ReconcileInvoiceOutput(ToolOutput, NextCursor):
    paged_items = "orders"

    status: Literal["reconciled", "needs_attention", "nothing_to_reconcile"] | None = Field(
        default=None, description="Over every order asked for, not only this page."
    )
    orders: list[OrderMatch] | None = Field(
        default=None, description="One page of orders, those needing attention first."
    )
    invoices: list[InvoiceView] | None = Field(
        default=None, description="The invoices of this page's orders."
    )
    reason: str | None = None
    next_tool: Literal["confirm_procurement"] | None = None


#: What to do about a difference: the server reads invoices, it never changes one.
_ATTENTION = (
    "Invoiced amounts differ from the order or from what the person approved (see "
    "orders[].differences and problems): raise them with the supplier before paying; nothing "
    "here changes an invoice."
)


def _check_selectors(args: ReconcileInvoiceInput) -> None:
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


async def _invoices_and_orders(
    ctx: ToolContext, args: ReconcileInvoiceInput
) -> tuple[list[m.InvoiceV1], list[m.BuyerProcurementV1]]:
    """The invoices asked for and the orders they belong to (the ordered lines to match)."""
    client = ctx.rails.client.repairer.procurements
    if args.job is not None:
        jctx = job_ctx("reconcile_invoice", args.job)
        listed = await wire(jctx, client.invoices.list(job_identity=args.job))
        if not listed.items:
            return [], []
        orders = await wire(jctx, client.list(job_identity=args.job))
        return listed.items, orders.items
    if args.invoice_id is not None:
        wctx = WireContext(
            "reconcile_invoice",
            not_found=f"No invoice {args.invoice_id} is visible to this repairer.",
            not_found_fix="Use an invoice id returned by reconcile_invoice for a procurement or job.",
        )
        invoices = [
            (await wire(wctx, client.invoices.get(identity=m.IdIdentity(id=args.invoice_id)))).invoice
        ]
        pid = invoices[0].procurement_id
    else:
        assert args.procurement_id is not None
        pid = args.procurement_id
        wctx = procurement_ctx("reconcile_invoice", pid)
        invoices = (await wire(wctx, client.invoices.list(procurement_identity=m.IdIdentity(id=pid)))).items
        if not invoices:
            return [], []
    order = await wire(procurement_ctx("reconcile_invoice", pid), client.get(identity=m.IdIdentity(id=pid)))
    return invoices, [order]


async def reconcile_invoice(ctx: ToolContext, args: ReconcileInvoiceInput) -> Reply[ReconcileInvoiceOutput]:
    _check_selectors(args)
    window = Window.of("reconcile_invoice", args, cursor_key(ctx.rails.client))
    invoices, orders = await _invoices_and_orders(ctx, args)
    if not invoices:
        return Reply(
            ReconcileInvoiceOutput(
                status="nothing_to_reconcile",
                invoices=[],
                reason="Invoices appear only after the supplier confirms (order_confirmed).",
                next_tool="confirm_procurement",
            ),
            "Nothing to reconcile yet: invoices appear after confirm_procurement.",
        )
    by_order = {o.id: o for o in orders}
    matches = [
        _three_way(ctx.rails.store, by_order[pid], [i for i in invoices if i.procurement_id == pid])
        for pid in dict.fromkeys(i.procurement_id for i in invoices)
        if pid in by_order
    ]
    unmatched = sorted({str(i.procurement_id) for i in invoices if i.procurement_id not in by_order})
    matches.sort(key=lambda x: x.matched)  # those needing attention first, else in the wire's order
    shown, next_cursor = window.cut(matches)
    attention = [x for x in matches if not x.matched]
    on_page = {x.procurement_id for x in shown}
    output = ReconcileInvoiceOutput(
        status="needs_attention" if attention or unmatched else "reconciled",
        orders=shown,
        invoices=[invoice_view(i) for i in invoices if str(i.procurement_id) in on_page],
    ).carry(next_cursor)
    notes = [_ATTENTION] if attention else []
    if unmatched:
        notes.append(f"Invoices name orders this repairer cannot read: {', '.join(unmatched)}.")
    if next_cursor is not None:
        later = matches[window.start + len(shown) :]
        notes.append(
            f"{len(later)} more order(s) on later pages ({sum(not x.matched for x in later)} needing "
            "attention): call again with cursor=next_cursor."
        )
    if notes:
        output.reason = " ".join(notes)
    return Reply(output, _summary(window, matches, shown, attention))


# --- the approved order: the third side of the match ------------------------------------------


def _three_way(
    store: StateStore | None, order: m.BuyerProcurementV1, invoices: Sequence[m.InvoiceV1]
) -> OrderMatch:
    """The order against its invoices, then, when a person approved it, against the approval."""
    match = match_order(order, invoices)
    approved, problems = _approval(store, str(order.id))
    if approved is not None:
        problems += _against_approval(order, match, approved)
    if not problems:
        return match
    return match.model_copy(update={"matched": False, "problems": [*(match.problems or []), *problems]})


def _approval(store: StateStore | None, pid: str) -> tuple[OrderForApproval | None, list[str]]:
    """What a person approved for ``pid`` (None: placed without one); a record that cannot be
    read is a problem to look at, never a silent pass."""
    if store is None:
        return None, []
    try:
        body = store.approved_order(pid)
        return (OrderForApproval.model_validate(body) if body is not None else None), []
    except (*state_errors(), ValueError, ValidationError) as exc:
        log.warning("the approval record of %s could not be read: %s", pid, type(exc).__name__)
        return None, [f"The approval record of order {pid} could not be read; compare it by hand."]


def _against_approval(
    order: m.BuyerProcurementV1, match: OrderMatch, approved: OrderForApproval
) -> list[str]:
    """Each approved line against the ordered line and what was invoiced for it (credits taken
    off), by quantity and unit price; a line on one side only is named too."""
    invoiced = {d.sellable_id: d for d in match.differences or [] if "not_ordered" not in d.issues}
    ordered = {str(item.sellable_id): item for item in order.source_items}
    problems: list[str] = []
    for line in approved.lines:
        named, was = f"{quote(line.name)} ({word(line.sellable_id)})", (line.quantity, line.trade_price)
        item = ordered.pop(line.sellable_id, None)
        if item is None:
            problems.append(f"{named}: approved {_amount(*was)}, not on the order.")
            continue
        if _differs(was, (item.quantity, item.trade_price)):
            problems.append(
                f"{named}: approved {_amount(*was)}, ordered {_amount(item.quantity, item.trade_price)}."
            )
        found = invoiced.get(line.sellable_id)
        billed = (
            (found.invoiced_quantity, found.invoiced_unit_price)
            if found
            else (item.quantity, item.trade_price)
        )
        if _differs(was, billed):
            problems.append(f"{named}: approved {_amount(*was)}, invoiced {_amount(*billed)}.")
    problems += [
        f"{quote(item.name)} ({item.sellable_id}): ordered {_amount(item.quantity, item.trade_price)}, "
        "not in the approved order."
        for item in ordered.values()
    ]
    return problems


def _differs(approved: tuple[int, str], other: tuple[int, str | None]) -> bool:
    price = _decimal(approved[1])
    return price is None or approved[0] != other[0] or price != _decimal(other[1])


def _decimal(value: str | None) -> Decimal | None:
    try:
        return Decimal(value) if value is not None else None
    except InvalidOperation:
        return None


def _amount(quantity: int, unit_price: str | None) -> str:
    """Quantity × unit price ("2 × 120.00"), the price shown as data (the wire's or the record's)."""
    return f"{quantity} × {word(unit_price)}" if unit_price is not None else f"{quantity}"


def _summary(
    window: Window, matches: list[OrderMatch], shown: list[OrderMatch], attention: list[OrderMatch]
) -> str:
    """The whole answer's verdict, then which orders this page shows."""
    invoiced = ", ".join(f"{x.invoiced_total} invoiced of {x.ordered_total} ordered" for x in shown[:3])
    more = f" and {len(shown) - 3} more" if len(shown) > 3 else ""
    page = (
        f"; shown: {window.summary(len(shown), len(matches), 'order(s)')}"
        if len(shown) < len(matches)
        else ""
    )
    if not attention:
        return f"{len(matches)} order(s) reconciled, every line matched{page}: {invoiced}{more}."
    lines = sum(len(x.differences or []) for x in attention)
    return (
        f"{len(attention)} of {len(matches)} order(s) need attention ({lines} differing line(s)){page}: "
        f"{invoiced}{more}."
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
    "(Proposed extension beyond 2026-01.) Match invoices less credits to each ordered line; "
    "a difference: needs_attention. One of procurement_id, job, invoice_id.",
    extension=True,
    correct=_correct_reconcile,
    ui=ORDER_APP,
)
