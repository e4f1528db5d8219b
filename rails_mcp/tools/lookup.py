"""Look-ups the tools' corrections share: a job by its reference, a procurement's job, a name by
its spelling, the tool an unknown name meant, the jobs this server has addressed.

Each tool's ``correct`` hook (declared beside its handler) builds on a :class:`Fix`: the failed
call, what its look-ups changed in words, and what to ask when nothing verifies. This module sits
below the tool modules and imports none of them, so a hook can use it without an import circle.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any, cast
from uuid import UUID
from weakref import WeakKeyDictionary

from pydantic import BaseModel, ValidationError

from rails_mcp.client import RailsClient
from rails_mcp.errors import ToolError
from rails_mcp.wire import models as m
from rails_mcp.wire.errors import RailsError
from rails_mcp.wire.untrusted import quote, word

from .base import ToolContext
from .context import Rails

__all__ = [
    "Candidate",
    "Fix",
    "by_name",
    "closest_tool",
    "identity_of",
    "job_correction",
    "list_and_job",
    "procurement_correction",
    "remember",
    "uuid_of",
]

#: A corrected argument object and what it changed, in words.
Candidate = tuple[dict[str, Any], list[str]]

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


def uuid_of(value: Any) -> UUID | None:
    """``value`` as a UUID when it is one (spaces trimmed), else None."""
    if not isinstance(value, str):
        return None
    try:
        return UUID(value.strip())
    except ValueError:
        return None


def identity_of(value: Any) -> m.Identity | None:
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


def list_and_job(cand: Mapping[str, Any], key: str) -> tuple[list[Any], m.Identity] | None:
    """The list under ``key`` and the call's job as a wire identity, when both are well formed."""
    items, identity = cand.get(key), identity_of(cand.get("job"))
    if not isinstance(items, list) or identity is None:
        return None
    return cast("list[Any]", items), identity


def by_name(items: Sequence[Any], text: str) -> Any | None:
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


class Fix:
    """One failed call being corrected: the look-ups its tool's hook uses, and what they found."""

    def __init__(
        self, ctx: ToolContext, base: Mapping[str, Any], error: ToolError, raw: Mapping[str, Any]
    ) -> None:
        self.ctx = ctx
        self.client: RailsClient = ctx.rails.client
        #: The arguments repaired by shape alone: where every look-up starts.
        self.base = dict(base)
        self.error = error
        #: The arguments as the agent sent them.
        self.raw = raw
        #: Updates for the error when no candidate is accepted: what to ask or call.
        self.ask: dict[str, Any] = {}
        #: What each look-up changed, in words: the fix when the corrected call is accepted.
        self.notes: list[str] = []
        #: Said in the fix whenever the example stands: what the person should decide first.
        self.cautions: list[str] = []

    # --- the job ---------------------------------------------------------------------------------

    async def get_job(self, ident: Any) -> m.JobV1 | None:
        try:
            return await self.client.repairer.jobs.get(identity=ident)
        except RailsError:
            return None

    async def job_of_procurement(self, procurement_id: UUID) -> UUID | None:
        try:
            return (
                await self.client.repairer.procurements.get(identity=m.IdIdentity(id=procurement_id))
            ).job_id
        except RailsError:
            return None

    async def with_job(self, cand: dict[str, Any]) -> dict[str, Any]:
        """``cand`` with its ``job`` resolved to one the wire knows (or as sent, with what to ask)."""
        if not isinstance(cand.get("job"), dict):
            return cand
        sent = cast("dict[str, Any]", cand["job"])
        found = await self.job(sent)
        raw_job: Any = self.raw.get("job")
        raw_id: Any = cast("dict[str, Any]", raw_job).get("id") if isinstance(raw_job, dict) else None
        if found is None and isinstance(raw_id, str):
            found = await self.job({"id": raw_id})  # both keys were sent: the id may be the right one
        if found is not None and found != sent:
            self.notes.append(f"The job is {_job_words(found)}, not {_job_words(sent)}.")
        if found is None and self.error.code == "not_found":
            self.ask = {
                "fix": "No job of this repairer has that reference or id: ask the person for the job's "
                'reference (sent as {"external": "<ref>"}), or create the job with open_repair_job.',
                "next_tool": "open_repair_job",
            }
        return {**cand, "job": found or sent}

    async def job(self, value: dict[str, Any]) -> dict[str, str] | None:
        """The job the agent meant: its reference trimmed or upper-cased, a UUID given as a
        reference, a job number, or the job of a procurement id given as the job's id."""
        if isinstance(value.get("id"), str) and set(value) == {"id"}:
            job_id = uuid_of(value["id"])
            if job_id is None:
                return None
            if await self.get_job(m.IdIdentity(id=job_id)) is not None:
                return {"id": str(job_id)}
            owner = await self.job_of_procurement(job_id)
            return {"id": str(owner)} if owner is not None else None
        ref = value.get("external")
        if not isinstance(ref, str) or set(value) != {"external"}:
            return None
        for attempt in dict.fromkeys((ref, ref.strip(), ref.strip().upper())):
            if attempt and await self.get_job(m.ExternalIdentity(external=attempt)) is not None:
                return {"external": attempt}
        as_id = uuid_of(ref)
        if as_id is not None:
            return await self.job({"id": str(as_id)})
        return await self._job_by_number(ref)

    async def _job_by_number(self, ref: str) -> dict[str, str] | None:
        """The job whose job card number (on one of this repairer's sites) is ``ref``."""
        for site in (await self.client.businesses.list()).items:
            for number in dict.fromkeys((ref.strip(), ref.strip().upper())):
                lookup = m.SiteJobNumberIdentity(
                    site_job_number=m.SiteJobNumberV1(repairer_site_id=site.id, job_number=number)
                )
                found = await self.get_job(cast("Any", lookup))
                if found is not None:
                    return {"external": found.external_id} if found.external_id else {"id": str(found.id)}
        return None

    # --- procurement ids ---------------------------------------------------------------------------

    async def orders(self, job: m.Identity) -> list[m.BuyerProcurementV1]:
        try:
            return list((await self.client.repairer.procurements.list(job_identity=job)).items)
        except RailsError:
            return []

    async def with_procurement(self, cand: dict[str, Any]) -> dict[str, Any]:
        """``cand`` with its ``procurement_id`` resolved to an order's id, when it has one."""
        if "procurement_id" not in cand:
            return cand
        sent_id = cand["procurement_id"]
        found = await self.procurement(sent_id, cand.get("job"))
        if found != sent_id and uuid_of(sent_id) != uuid_of(found):
            self.notes.append(f"procurement_id {quote(sent_id, 60)} is order {found}.")
        return {**cand, "procurement_id": found}

    async def procurement(self, value: Any, job: Any) -> Any:
        """A procurement id that resolves: as given, the only order of a job whose id was given, or
        the order whose reference (``PR-1``) matches on the call's job or a job this server has seen."""
        pid = uuid_of(value)
        if pid is not None:
            return await self._procurement_by_id(pid, value)
        if not isinstance(value, str) or not value.strip():
            return value
        jobs: list[dict[str, str]] = []
        if isinstance(job, dict):
            jobs.append(cast("dict[str, str]", job))
        jobs += reversed(_SEEN.get(self.ctx.rails, []))
        wanted = value.strip().upper()
        matches: dict[str, m.BuyerProcurementV1] = {}
        for ident in jobs:
            identity = identity_of(ident)
            if identity is None:
                continue
            for order in await self.orders(identity):
                if (order.reference or "").upper() == wanted:
                    matches[str(order.id)] = order
        if len(matches) == 1:
            return next(iter(matches))
        self.ask = {
            "fix": f"procurement_id is the order's UUID; {quote(value.strip(), 40)} looks like its "
            "reference: call list_procurements for the job and use the id of the order with that reference.",
            "next_tool": "list_procurements",
        }
        return value

    async def _procurement_by_id(self, pid: UUID, value: Any) -> Any:
        """``pid`` when it is an order's id; the only order of the job when it is a job's id."""
        if await self.job_of_procurement(pid) is not None:
            return str(pid)
        if await self.get_job(m.IdIdentity(id=pid)) is not None:
            orders = await self.orders(m.IdIdentity(id=pid))
            if len(orders) == 1:
                return str(orders[0].id)
            self.ask = {
                "fix": f"{pid} is a job's id, not a procurement's: pick one of its {len(orders)} orders "
                "from list_procurements (or ask the person which).",
                "next_tool": "list_procurements",
                "valid_values": [str(o.id) for o in orders] or None,
            }
        return value


def _job_words(job: Mapping[str, Any]) -> str:
    """A job identity in a sentence: ``external "CCC-1"`` or ``id "<uuid>"``, values quoted as data."""
    return ", ".join(f"{word(key)} {quote(value)}" for key, value in job.items()) or "{}"


async def job_correction(fix: Fix) -> list[Candidate]:
    """The ``correct`` hook of a tool whose only look-up is its job."""
    return [(await fix.with_job(fix.base), [])]


async def procurement_correction(fix: Fix) -> list[Candidate]:
    """The ``correct`` hook of a tool whose only look-up is its procurement."""
    return [(await fix.with_procurement(fix.base), [])]
