"""Corrections the server can look up, checked before they are offered (issue 10).

The repair engine (``rails_mcp.errors.repair``) fixes what the arguments alone reveal: key
spellings, shapes, bounds. What only the wire knows is fixed here: a job reference in the
wrong case or given by its job number, a site or an insurer named instead of identified, a
``PR-1`` reference instead of the procurement's id, basket fields that disagree with the
basket, a supplier that cannot confirm where one that can offers the same part. A candidate
becomes ``example_arguments`` only when the same tool accepts it now: read-only tools run it,
``place_procurement`` runs it as a dry run, the other writers check what the wire would refuse.
When nothing verifies, no example is offered (never a wrong id) and the fix says what to ask.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, cast
from uuid import UUID
from weakref import WeakKeyDictionary

import anyio
from pydantic import BaseModel, ValidationError

from rails_mcp.errors import ToolError, ToolFailure
from rails_mcp.errors.repair import deep_repair
from rails_mcp.guard import confirmable_offers_for_parts, money
from rails_mcp.wire import models as m
from rails_mcp.wire.errors import RailsError

from .base import InputNeeded, ToolContext, ToolDef
from .context import Rails
from .jobs import OpenRepairJobInput
from .parts import IdentifyPartsInput
from .procurements import ConfirmProcurementInput

__all__ = ["closest_tool", "corrected", "remember"]

log = logging.getLogger("rails_mcp.tools.correct")

#: Errors no argument change can fix: the same call may work later, or the setup is wrong.
_NOT_ARGUMENTS = frozenset(
    {
        "unauthorized",
        "forbidden",
        "internal_error",
        "rate_limited",
        "placement_outcome_unknown",
        "placement_not_landed",
        "confirmation_not_landed",
        "part_already_ordered",
        # Refusals by this deployment's controls: the same call is refused again, and only the
        # person running the server (or the person approving) can change the outcome.
        "approval_unavailable",
        "approval_replayed",
        "over_spending_limit",
        "read_only_mode",
        "tool_not_allowed",
    }
)
#: Codes whose fix speaks of the mistake in general: a looked-up correction replaces it. Others (the
#: guard's own codes) already name the exact fix and keep it.
_GENERIC_FIX = frozenset(
    {"not_found", "unprocessable", "work_provider_not_found", "bad_request", "invalid_arguments"}
)
#: How long the look-ups behind one correction may take before the error goes out without one.
_BUDGET_SECONDS = 10.0
_JOBS_REMEMBERED = 20

#: Jobs this server has addressed successfully, most recent last: where ``PR-1`` is looked up.
_SEEN: WeakKeyDictionary[Rails, list[dict[str, str]]] = WeakKeyDictionary()


def remember(ctx: ToolContext, args: BaseModel) -> None:
    """Note the job a successful call addressed, so a later procurement reference can be resolved."""
    job = getattr(args, "job", None)
    if not isinstance(job, m.ExternalIdentity | m.IdIdentity):
        return
    seen = _SEEN.setdefault(ctx.rails, [])
    ident = job.model_dump(mode="json")
    if ident in seen:
        seen.remove(ident)
    seen.append(ident)
    del seen[:-_JOBS_REMEMBERED]


def closest_tool(name: str, known: Sequence[str]) -> str | None:
    """The listed tool an unknown name meant: spelling (case, camelCase, a prefix, a plural) first."""

    def norm(text: str) -> str:
        text = text.rsplit(".", 1)[-1].rsplit("/", 1)[-1]
        return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text).replace("-", "_").lower()

    wanted = norm(name)
    by_norm = {norm(k): k for k in known}
    for candidate in (wanted, wanted.rstrip("s"), f"{wanted}s"):
        if candidate in by_norm:
            return by_norm[candidate]
    close = difflib.get_close_matches(wanted, list(by_norm), n=1, cutoff=0.0)
    return by_norm[close[0]] if close else None


async def corrected(
    tool: ToolDef[Any, Any], ctx: ToolContext, arguments: Mapping[str, Any], error: ToolError
) -> ToolError:
    """``error`` with ``example_arguments`` that the same tool accepts now, or with none at all."""
    if error.retryable or error.code in _NOT_ARGUMENTS:
        return error
    try:
        with anyio.fail_after(_BUDGET_SECONDS):
            return await _correct(tool, dataclasses.replace(ctx, request=None), arguments, error)
    except Exception as exc:  # a correction is a courtesy: the error goes out as it was
        log.info("no correction looked up for %s (%s)", tool.name, type(exc).__name__)
        return error


async def _correct(
    tool: ToolDef[Any, Any], ctx: ToolContext, arguments: Mapping[str, Any], error: ToolError
) -> ToolError:
    model = cast("type[BaseModel]", tool.input_model)
    base = error.example_arguments
    if base is None:
        base = deep_repair(model, {k: v for k, v in arguments.items()})
    fixer = _Fixer(tool.name, ctx, dict(base), error, arguments)
    for candidate, why in await fixer.candidates():
        try:
            args = model.model_validate(candidate)
        except ValidationError:
            continue
        if await _accepted(tool, ctx, args):
            example = args.model_dump(mode="json", exclude_unset=True, exclude_none=True)
            update: dict[str, Any] = {"example_arguments": example}
            notes = [*fixer.notes, *why]
            if notes and error.code in _GENERIC_FIX:
                update["fix"] = " ".join(notes) + " example_arguments is the corrected call; replay it."
            if fixer.cautions:  # a price the agent did not choose: said whatever the code
                update["fix"] = " ".join([update.get("fix", error.fix), *fixer.cautions])
            return error.model_copy(update=update)
    update = {"example_arguments": None, **fixer.ask}
    if "example_arguments" in update.get("fix", error.fix):  # no example to point to after all
        kept = [
            s for s in re.split(r"(?<=[.;])\s+", update.get("fix", error.fix)) if "example_arguments" not in s
        ]
        update["fix"] = (
            " ".join(kept) or "No corrected call can be offered now: ask the person how to proceed."
        )
    return error.model_copy(update=update)


# --- does the same tool accept it now? ---------------------------------------------------------------


async def _accepted(tool: ToolDef[Any, Any], ctx: ToolContext, args: BaseModel) -> bool:
    client = ctx.rails.client
    try:
        if tool.name == "place_procurement":
            await tool.handler(ctx, args.model_copy(update={"dry_run": True}))
        elif tool.read_only or tool.name == "prepare_vehicle":
            await tool.handler(ctx, args)
        elif isinstance(args, ConfirmProcurementInput):
            got = await client.repairer.procurements.get(identity=m.IdIdentity(id=args.procurement_id))
            return got.supplier_business.id in await ctx.rails.confirmable_suppliers()
        elif isinstance(args, OpenRepairJobInput):
            return await _open_job_accepted(ctx, args)
        elif isinstance(args, IdentifyPartsInput):
            return await _parts_accepted(ctx, args)
        else:
            return False
    except (ToolFailure, RailsError, InputNeeded):
        return False
    return True


async def _open_job_accepted(ctx: ToolContext, args: OpenRepairJobInput) -> bool:
    client = ctx.rails.client
    job = args.job
    if isinstance(job, m.IdIdentity):
        await client.repairer.jobs.get(identity=job)
    site = args.repairer_site_id
    if site is not None and site not in {b.id for b in (await client.businesses.list()).items}:
        return False
    provider = args.work_provider_id
    providers = (await client.repairer.work_providers.list()).items
    return provider is None or provider in {w.id for w in providers}


async def _parts_accepted(ctx: ToolContext, args: IdentifyPartsInput) -> bool:
    listed = await ctx.rails.client.repairer.jobs.parts.list(job_identity=args.job)
    current = {p.id: p for p in listed.items}
    for part in args.parts:
        ident = part.identity
        if isinstance(ident, m.IdIdentity):
            known = current.get(ident.id)
            if known is None:
                return False
            if known.status is m.PartStatusV1.ORDERED and known.quantity != part.quantity:
                return False
    return True


# --- what the server can look up ----------------------------------------------------------------------


def _uuid(value: Any) -> UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return UUID(value.strip())
    except ValueError:
        return None


def _agreeing(offer: m.OfferV1, sent: Mapping[str, Any]) -> dict[str, Any]:
    """The selection of ``offer``: its sellable_id, plus the optional fields the agent sent that agree
    with the basket (one that disagrees is dropped: the basket fills it)."""
    out: dict[str, Any] = {"sellable_id": str(offer.sellable_id)}
    if _uuid(sent.get("supplier_business_id")) == offer.supplier_business_id:
        out["supplier_business_id"] = str(offer.supplier_business_id)
    parts = sent.get("job_part_ids")
    if isinstance(parts, list) and [_uuid(p) for p in cast("list[Any]", parts)] == list(offer.job_part_ids):
        out["job_part_ids"] = [str(p) for p in offer.job_part_ids]
    if sent.get("quantity") == offer.quantity:
        out["quantity"] = offer.quantity
    return out


def _list_and_job(cand: Mapping[str, Any], key: str) -> tuple[list[Any], m.Identity] | None:
    """The list under ``key`` and the call's job as a wire identity, when both are well formed."""
    items, identity = cand.get(key), _identity(cand.get("job"))
    if not isinstance(items, list) or identity is None:
        return None
    return cast("list[Any]", items), identity


def _identity(value: Any) -> m.Identity | None:
    """A job wrapper from (repaired) arguments as the wire model, or None when it is not one."""
    if not isinstance(value, dict):
        return None
    node = cast("dict[str, Any]", value)
    try:
        if set(node) == {"external"}:
            return m.ExternalIdentity.model_validate(node)
        if set(node) == {"id"}:
            return m.IdIdentity.model_validate(node)
    except ValidationError:
        return None
    return None


def _by_name(items: Sequence[Any], text: str) -> Any | None:
    """The one item whose name the text names: exactly, then as a unique part, then as a unique close
    spelling. None when no item or several fit (then the person chooses)."""
    wanted = " ".join(text.lower().split())
    if not wanted:
        return None
    names = [(" ".join(str(i.name).lower().split()), i) for i in items]
    exact = [i for n, i in names if n == wanted]
    if len(exact) == 1:
        return exact[0]
    words = set(re.findall(r"[a-z0-9]+", wanted))
    partial = [i for n, i in names if wanted in n or (words and words <= set(re.findall(r"[a-z0-9]+", n)))]
    if len(partial) == 1:
        return partial[0]
    close = difflib.get_close_matches(wanted, [n for n, _ in names], n=2, cutoff=0.75)
    if len(close) == 1:
        return next(i for n, i in names if n == close[0])
    return None


class _Fixer:
    """Builds the candidate corrections of one failed call, and what to say when none works."""

    def __init__(
        self, tool: str, ctx: ToolContext, base: dict[str, Any], error: ToolError, raw: Mapping[str, Any]
    ) -> None:
        self.tool = tool
        self.raw = raw
        self.ctx = ctx
        self.client = ctx.rails.client
        self.base = base
        self.error = error
        #: Updates for the error when no candidate is accepted: what to ask or call.
        self.ask: dict[str, Any] = {}
        #: What each look-up changed, in words: the fix when the corrected call is accepted.
        self.notes: list[str] = []
        #: Said in the fix whenever the example stands: what the person should decide first.
        self.cautions: list[str] = []

    async def candidates(self) -> list[tuple[dict[str, Any], list[str]]]:
        """Corrected argument objects, most likely first, each with what it changed in words."""
        cand = dict(self.base)
        if self.tool != "open_repair_job" and isinstance(cand.get("job"), dict):
            sent = cast("dict[str, Any]", cand["job"])
            found = await self.job(sent)
            raw_job: Any = self.raw.get("job")
            raw_id: Any = cast("dict[str, Any]", raw_job).get("id") if isinstance(raw_job, dict) else None
            if found is None and isinstance(raw_id, str):
                found = await self.job({"id": raw_id})  # both keys were sent: the id may be the right one
            if found is not None and found != sent:
                self.notes.append(f"The job is {json.dumps(found)}, not {json.dumps(sent)[:120]}.")
            if found is None and self.error.code == "not_found":
                self.ask = {
                    "fix": "No job of this repairer has that reference or id: ask the person for the job's "
                    'reference (sent as {"external": "<ref>"}), or create the job with open_repair_job.',
                    "next_tool": "open_repair_job",
                }
            cand["job"] = found or sent
        if self.tool == "reconcile_invoice" and cand.get("invoice_id") is not None:
            cand = await self.invoice(cand)
        if self.tool == "open_repair_job":
            cand = await self.open_job(cand)
        elif self.tool == "identify_parts":
            cand = await self.parts(cand)
        elif self.tool == "place_procurement":
            cand = await self.selections(cand)
        if "procurement_id" in cand:
            sent_id = cand["procurement_id"]
            cand["procurement_id"] = await self.procurement(sent_id, cand.get("job"))
            if cand["procurement_id"] != sent_id and _uuid(sent_id) != _uuid(cand["procurement_id"]):
                self.notes.append(
                    f"procurement_id {json.dumps(sent_id)[:60]} is order {cand['procurement_id']}."
                )
        if self.tool == "reconcile_invoice":
            chosen = [k for k in ("procurement_id", "job", "invoice_id") if cand.get(k) is not None]
            if len(chosen) > 1:
                return [
                    (
                        {k: cand[k]},
                        [
                            f"Give one selector only, here {k} (procurement_id, job and invoice_id "
                            "exclude each other)."
                        ],
                    )
                    for k in chosen
                ]
        out: list[tuple[dict[str, Any], list[str]]] = [(cand, [])]
        if self.tool == "track_procurement" and cand.get("view") == "supplier":
            out.append(
                (
                    {**cand, "view": "repairer"},
                    [
                        "The configured supplier cannot see this order (it is with another supplier); the "
                        'buyer\'s view, view "repairer", shows it.'
                    ],
                )
            )
        return out

    async def invoice(self, cand: dict[str, Any]) -> dict[str, Any]:
        """An invoice_id that is really a procurement's or a job's id becomes that selector."""
        iid = _uuid(cand.get("invoice_id"))
        if iid is None:
            return cand
        try:
            await self.client.repairer.procurements.invoices.get(identity=m.IdIdentity(id=iid))
            return cand
        except RailsError:
            pass
        rest = {k: v for k, v in cand.items() if k != "invoice_id"}
        if await self._job_of_procurement(iid) is not None:
            self.notes.append(f"{iid} is a procurement's id, not an invoice's: send it as procurement_id.")
            return {"procurement_id": str(iid), **{k: v for k, v in rest.items() if k != "procurement_id"}}
        if await self._get_job(m.IdIdentity(id=iid)) is not None:
            self.notes.append(f"{iid} is a job's id, not an invoice's: send it as job.")
            return {"job": {"id": str(iid)}, **{k: v for k, v in rest.items() if k != "job"}}
        return cand

    # --- the job ---------------------------------------------------------------------------------

    async def _get_job(self, ident: Any) -> m.JobV1 | None:
        try:
            return await self.client.repairer.jobs.get(identity=ident)
        except RailsError:
            return None

    async def job(self, value: dict[str, Any]) -> dict[str, str] | None:
        """The job the agent meant: its reference trimmed or upper-cased, a UUID given as a
        reference, a job number, or the job of a procurement id given as the job's id."""
        if isinstance(value.get("id"), str) and set(value) == {"id"}:
            job_id = _uuid(value["id"])
            if job_id is None:
                return None
            if await self._get_job(m.IdIdentity(id=job_id)) is not None:
                return {"id": str(job_id)}
            owner = await self._job_of_procurement(job_id)
            return {"id": str(owner)} if owner is not None else None
        ref = value.get("external")
        if not isinstance(ref, str) or set(value) != {"external"}:
            return None
        for attempt in dict.fromkeys((ref, ref.strip(), ref.strip().upper())):
            if attempt and await self._get_job(m.ExternalIdentity(external=attempt)) is not None:
                return {"external": attempt}
        as_id = _uuid(ref)
        if as_id is not None:
            return await self.job({"id": str(as_id)})
        sites = (await self.client.businesses.list()).items
        for site in sites:
            for number in dict.fromkeys((ref.strip(), ref.strip().upper())):
                lookup = m.SiteJobNumberIdentity(
                    site_job_number=m.SiteJobNumberV1(repairer_site_id=site.id, job_number=number)
                )
                found = await self._get_job(cast("Any", lookup))
                if found is not None:
                    return {"external": found.external_id} if found.external_id else {"id": str(found.id)}
        return None

    async def _job_of_procurement(self, procurement_id: UUID) -> UUID | None:
        try:
            return (
                await self.client.repairer.procurements.get(identity=m.IdIdentity(id=procurement_id))
            ).job_id
        except RailsError:
            return None

    # --- procurement ids ---------------------------------------------------------------------------

    async def procurement(self, value: Any, job: Any) -> Any:
        """A procurement id that resolves: as given, the only order of a job whose id was given, or
        the order whose reference (``PR-1``) matches on the call's job or a job this server has seen."""
        pid = _uuid(value)
        if pid is not None:
            if await self._job_of_procurement(pid) is not None:
                return str(pid)
            if await self._get_job(m.IdIdentity(id=pid)) is not None:
                orders = await self._orders(m.IdIdentity(id=pid))
                if len(orders) == 1:
                    return str(orders[0].id)
                self.ask = {
                    "fix": f"{pid} is a job's id, not a procurement's: pick one of its {len(orders)} orders "
                    "from list_procurements (or ask the person which).",
                    "next_tool": "list_procurements",
                    "valid_values": [str(o.id) for o in orders] or None,
                }
            return value
        if not isinstance(value, str) or not value.strip():
            return value
        jobs: list[dict[str, str]] = []
        if isinstance(job, dict):
            jobs.append(cast("dict[str, str]", job))
        jobs += reversed(_SEEN.get(self.ctx.rails, []))
        wanted = value.strip().upper()
        matches: dict[str, m.BuyerProcurementV1] = {}
        for ident in jobs:
            identity = _identity(ident)
            if identity is None:
                continue
            for order in await self._orders(identity):
                if (order.reference or "").upper() == wanted:
                    matches[str(order.id)] = order
        if len(matches) == 1:
            return next(iter(matches))
        self.ask = {
            "fix": f"procurement_id is the order's UUID; {value.strip()[:40]!r} looks like its reference: "
            "call "
            "list_procurements for the job and use the id of the order with that reference.",
            "next_tool": "list_procurements",
        }
        return value

    async def _orders(self, job: m.Identity) -> list[m.BuyerProcurementV1]:
        try:
            return list((await self.client.repairer.procurements.list(job_identity=job)).items)
        except RailsError:
            return []

    # --- open_repair_job -------------------------------------------------------------------------------

    async def open_job(self, cand: dict[str, Any]) -> dict[str, Any]:
        site = cand.get("repairer_site_id")
        if site is not None:
            sites = (await self.client.businesses.list()).items
            ids = {str(s.id) for s in sites}
            given = _uuid(site)
            if given is None or str(given) not in ids:
                named = _by_name(sites, site) if isinstance(site, str) and given is None else None
                own = named if named is not None else sites[0] if len(sites) == 1 else None
                if own is not None:  # named, or the repairer's own (only) site
                    cand["repairer_site_id"] = str(own.id)
                    self.notes.append(
                        "repairer_site_id is one of this repairer's own sites (list_businesses): "
                        f"{own.name} ({own.id})."
                    )
                else:
                    self.ask = {
                        "fix": "repairer_site_id must be one of this repairer's sites: ask the person which "
                        "(list_businesses names them).",
                        "valid_values": sorted(ids),
                        "next_tool": "list_businesses",
                    }
        provider = cand.get("work_provider_id")
        if provider is not None:
            providers = (await self.client.repairer.work_providers.list()).items
            ids = {str(w.id) for w in providers}
            given = _uuid(provider)
            if given is None or str(given) not in ids:
                named = _by_name(providers, provider) if isinstance(provider, str) and given is None else None
                job = cand.get("job")
                exists = False
                identity = _identity(job)
                if named is None and identity is not None:
                    exists = await self._get_job(identity) is not None
                only = providers[0] if len(providers) == 1 else None
                if named is not None or (only is not None and not exists):
                    chosen = named or only
                    assert chosen is not None
                    cand["work_provider_id"] = str(chosen.id)
                    self.notes.append(
                        f"work_provider_id is {chosen.name}'s id from list_work_providers: {chosen.id}."
                    )
                else:  # a new job, or an existing one whose insurer the agent meant to change
                    names = ", ".join(f"{w.name} ({w.id})" for w in providers)
                    self.ask = {
                        "fix": f"{json.dumps(provider)[:60]} is not a work provider. Ask the person which "
                        f"insurer this job is billed to — {names} — or omit work_provider_id "
                        + ("to keep the job's insurer." if exists else "for a cash job."),
                        "valid_values": sorted(ids),
                        "next_tool": "list_work_providers",
                    }
        return cand

    # --- identify_parts ---------------------------------------------------------------------------------

    async def parts(self, cand: dict[str, Any]) -> dict[str, Any]:
        found = _list_and_job(cand, "parts")
        if found is None:
            return cand
        items, identity = found
        try:
            current = {
                str(p.id): p
                for p in (await self.client.repairer.jobs.parts.list(job_identity=identity)).items
            }
        except RailsError:
            return cand
        fixed: list[Any] = []
        for item in items:
            if isinstance(item, dict) and isinstance(cast("dict[str, Any]", item).get("identity"), dict):
                part = dict(cast("dict[str, Any]", item))
                pid = cast("dict[str, Any]", part["identity"]).get("id")
                if pid is not None:
                    known = current.get(str(_uuid(pid)))
                    if known is None:
                        del part["identity"]  # not a part of this job: the description keys it
                        self.notes.append(f"{pid} is not a part of this job: send the part without identity.")
                    elif known.status is m.PartStatusV1.ORDERED and part.get("quantity") != known.quantity:
                        # Putting the old quantity back would "succeed" and do nothing the agent meant.
                        self.ask = {
                            "fix": f"{known.description} is already ordered (see list_parts), so its "
                            f"quantity stays {known.quantity}. Ask the person whether more are needed; if "
                            "so, identify them as a new part (a new description, no identity).",
                            "next_tool": "list_parts",
                        }
                        return cand
                fixed.append(part)
            else:
                fixed.append(item)
        cand["parts"] = fixed
        return cand

    # --- place_procurement ------------------------------------------------------------------------------

    async def selections(self, cand: dict[str, Any]) -> dict[str, Any]:
        found = _list_and_job(cand, "offer_selections")
        if found is None:
            return cand
        items, identity = found
        try:
            basket = await self.client.repairer.jobs.baskets.latest.get(job_identity=identity)
            parts = (await self.client.repairer.jobs.parts.list(job_identity=identity)).items
            confirmable = await self.ctx.rails.confirmable_suppliers()
        except RailsError:
            return cand
        ordered = frozenset(p.id for p in parts if p.status is m.PartStatusV1.ORDERED)
        by_id = {str(o.sellable_id): o for o in basket.offers}
        part_ids = {str(p.id): p for p in parts}

        def for_parts(pids: Sequence[UUID]) -> list[m.OfferV1]:
            return confirmable_offers_for_parts(basket, pids, confirmable, ordered)

        chosen: list[m.OfferV1] = []
        unresolved: list[Any] = []
        sent: dict[str, dict[str, Any]] = {}
        #: (the offer the agent chose, the confirmable offer that replaces it): a price to show.
        swaps: list[tuple[m.OfferV1, m.OfferV1]] = []
        for item in items:
            sel = cast("dict[str, Any]", item) if isinstance(item, dict) else {"sellable_id": item}
            raw = sel.get("sellable_id")
            offer: m.OfferV1 | None = None
            picks: list[m.OfferV1] = []
            if isinstance(raw, str) and str(_uuid(raw)) in by_id:
                offer = by_id[str(_uuid(raw))]
            elif isinstance(raw, str) and str(_uuid(raw)) in part_ids:
                picks = for_parts([UUID(raw.strip())])
            elif isinstance(raw, str) and _uuid(raw) is None:
                pool = [o for o in basket.offers if o.supplier_business_id in confirmable] or list(
                    basket.offers
                )
                offer = _by_name(pool, raw)
            elif raw is None and isinstance(sel.get("job_part_ids"), list):
                wanted = [_uuid(p) for p in cast("list[Any]", sel["job_part_ids"])]
                picks = for_parts([p for p in wanted if p is not None])
            if offer is not None and "quantity" in sel and sel["quantity"] != offer.quantity:
                return cand  # a different quantity is a different order: only the person can say
            if offer is not None and offer.supplier_business_id not in confirmable:
                picks = for_parts(offer.job_part_ids)
                swaps.extend((offer, pick) for pick in picks)
                offer = None if picks else offer
            if offer is not None:
                picks = [offer]
                sent[str(offer.sellable_id)] = sel
            if not picks:
                unresolved.append(item)
            for pick in picks:
                if pick not in chosen:
                    chosen.append(pick)
        open_offers = [o for o in chosen if not any(pid in ordered for pid in o.job_part_ids)]
        if unresolved or not open_offers:
            return cand
        # Omitted fields are filled from the basket: the corrected call names the offers only.
        new = [_agreeing(o, sent.get(str(o.sellable_id), {})) for o in open_offers]
        if new != items:
            names = ", ".join(f"{o.name} ({o.sellable_id})" for o in open_offers)
            self.notes.append(
                f"Place {names}: name each offer by its sellable_id only (supplier, parts and quantity are "
                "filled from the basket), with one confirmable supplier and no part already ordered."
            )
        for was, now in swaps:
            delta = Decimal(now.trade_price) - Decimal(was.trade_price)
            self.cautions.append(
                f"That replaces {was.name} at {was.trade_price} with {now.name} at {now.trade_price} "
                f"({'+' if delta >= 0 else ''}{money(delta)}): ask the person before ordering from a "
                "different supplier at a different price."
            )
        cand["offer_selections"] = new
        return cand
