"""The table of rules: which function answers each wire method, and whether it writes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from rails_mcp.sandbox.jobs import (
    baskets_latest_get,
    jobs_get,
    jobs_insert,
    jobs_parts_insert,
    jobs_parts_list,
)
from rails_mcp.sandbox.organizations import businesses_list, integrations_insert, work_providers_list
from rails_mcp.sandbox.prepare import tier1_prepare, uploads_prepare
from rails_mcp.sandbox.procurements import (
    invoices_get,
    invoices_list,
    procurements_get,
    procurements_insert,
    procurements_list,
    supplier_procurements_confirm,
    supplier_procurements_get,
)
from rails_mcp.sandbox.world import Call, World

__all__ = ["RULES", "Rule"]


@dataclass(frozen=True, slots=True)
class Rule:
    """How the sandbox answers one method; ``writes`` rules run in a write transaction."""

    handle: Callable[[World, Call, Any], BaseModel]
    writes: bool = False


#: One rule per wire method; a test checks this covers ``METHODS`` exactly.
RULES: dict[str, Rule] = {
    "businesses.list": Rule(businesses_list),
    "integrations.insert": Rule(integrations_insert, writes=True),
    "repairer.jobs.baskets.latest.get": Rule(baskets_latest_get),
    "repairer.jobs.get": Rule(jobs_get),
    "repairer.jobs.insert": Rule(jobs_insert, writes=True),
    "repairer.jobs.parts.insert": Rule(jobs_parts_insert, writes=True),
    "repairer.jobs.parts.list": Rule(jobs_parts_list),
    "repairer.procurements.get": Rule(procurements_get),
    "repairer.procurements.list": Rule(procurements_list),
    "repairer.work-providers.list": Rule(work_providers_list),
    "supplier.procurements.confirm": Rule(supplier_procurements_confirm, writes=True),
    "supplier.procurements.get": Rule(supplier_procurements_get),
    "tier1.prepare": Rule(tier1_prepare),
    "uploads.prepare": Rule(uploads_prepare),
    "repairer.procurements.insert": Rule(procurements_insert, writes=True),
    "repairer.procurements.invoices.list": Rule(invoices_list),
    "repairer.procurements.invoices.get": Rule(invoices_get),
}
