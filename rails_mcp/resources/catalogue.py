"""The catalogue: every resource and template this server lists, as data naming its reader.

Each entry says what a client sees in ``resources/list`` or ``resources/templates/list``
(name, title, description, type, priority, cache hints) and which reader answers a read
(:mod:`rails_mcp.resources.readers` implements them, one per :data:`ReaderName`). URIs are
matched with the SDK's RFC 6570 :class:`mcp.UriTemplate`, so a variable is percent-decoded
and never spans a ``/``. A list that grows with the world is paged: its template ends in
``{?limit,cursor}`` (form-style query, both optional), and the plain URI reads page 1. A
fixed list resource (``rails://businesses``) stays in ``resources/list`` and is paged the same
way: its ``{?limit,cursor}`` template is listed beside it and matches its queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mcp import MCPError, UriTemplate
from mcp_types import INVALID_PARAMS, Annotations, Resource, ResourceTemplate

from rails_mcp import ui

__all__ = [
    "ENTRIES",
    "GUIDE_TTL_MS",
    "PAGE_QUERY",
    "SCENARIO_URI",
    "Entry",
    "ReaderName",
    "match",
    "resource_templates",
    "resources",
]

SCENARIO_URI = "scenario://current"
JSON = "application/json"
MARKDOWN = "text/markdown"
#: ``_meta`` key on every listed resource and template: how long a read stays fresh.
CACHE_META = "rails-mcp/cache"
#: Static guides change only with the package: a client may keep them for an hour.
GUIDE_TTL_MS = 3_600_000
#: The query a paged template ends in, and the names of its two variables.
PAGE_QUERY = "{?limit,cursor}"
_PAGE_VARIABLES = frozenset({"limit", "cursor"})

ReaderName = Literal[
    "lifecycle_guide",
    "errors_guide",
    "tools_guide",
    "scenario",
    "businesses",
    "work_providers",
    "job",
    "parts",
    "basket",
    "procurement",
    "invoices",
    "events",
]


@dataclass(frozen=True, slots=True)
class Entry:
    """One resource or template: what is listed, and which reader answers a read."""

    uri: str  # the URI, or the RFC 6570 template
    name: str
    title: str
    description: str
    mime_type: str
    priority: float
    live: bool
    reader: ReaderName
    #: The key of the list a read pages (``limit``/``cursor`` in the query); None: not paged.
    paged: str | None = None

    @property
    def template(self) -> UriTemplate | None:
        """What a read's URI is matched with (a fixed paged resource's gains its page query)."""
        return _TEMPLATES.get(self.uri)

    @property
    def fixed(self) -> bool:
        """Listed in ``resources/list`` (its URI has no variable of its own)."""
        return not UriTemplate.is_template(self.uri)

    @property
    def ttl_ms(self) -> int:
        return 0 if self.live else GUIDE_TTL_MS

    @property
    def scope(self) -> Literal["public", "private"]:
        return "private" if self.live else "public"

    def listing(self) -> dict[str, Any]:
        """What a resource and a template list alike (all but the URI's own key)."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "mime_type": self.mime_type,
            "annotations": Annotations(audience=["assistant"], priority=self.priority),
            "_meta": {CACHE_META: {"ttlMs": self.ttl_ms, "scope": self.scope, "live": self.live}},
        }


ENTRIES: tuple[Entry, ...] = (
    Entry(
        "guide://lifecycle",
        "lifecycle",
        "How to drive a parts order",
        "Read first. The loop from open_repair_job to a reconciled invoice, the "
        "single-confirmable-supplier guard, the proposed-extension banner, and when a person "
        "must approve (placing and confirming).",
        MARKDOWN,
        1.0,
        False,
        "lifecycle_guide",
    ),
    Entry(
        SCENARIO_URI,
        "scenario",
        "This tenant's scenario, live",
        "The jobs this server has seen (opened, read or ordered for here; with the embedded "
        "sandbox, its demo job too): parts and their status, which supplier can confirm, the "
        "ready order and its total, parts no confirmable supplier offers, and every procurement "
        "with its status. Read live from the wire; subscribe to hear when an order changes.",
        JSON,
        0.9,
        True,
        "scenario",
    ),
    Entry(
        "guide://errors",
        "errors",
        "Errors and how to recover",
        "The shape of a failed tool result (code, message, fix, retryable, example_arguments) "
        "and what to do for each code you will meet.",
        MARKDOWN,
        0.6,
        False,
        "errors_guide",
    ),
    Entry(
        "guide://tools",
        "tools",
        "The thirteen tools at a glance",
        "One line per tool: what it is for, whether it writes, which are proposed extensions "
        "and which need a person's approval.",
        MARKDOWN,
        0.5,
        False,
        "tools_guide",
    ),
    Entry(
        "rails://businesses",
        "businesses",
        "Repairer sites and confirmable suppliers",
        "The repairer's sites (repairer_site_id for open_repair_job) and the suppliers the "
        "configured supplier credential can confirm orders for (on every page). Sites are paged: "
        "limit (default 50, at most 200) and cursor=next_cursor as query parameters. Live.",
        JSON,
        0.4,
        True,
        "businesses",
        "repairer_sites",
    ),
    Entry(
        "rails://work-providers",
        "work-providers",
        "Work providers (insurers)",
        "The insurers a job can name as work_provider_id; cash jobs name none. Paged: limit "
        "(default 50, at most 200) and cursor=next_cursor as query parameters. Live.",
        JSON,
        0.3,
        True,
        "work_providers",
        "work_providers",
    ),
    Entry(
        "rails://jobs/{external}",
        "job",
        "A repair job",
        "The job header by your external reference (URL-encoded): claim, vehicle, site, work "
        "provider, with links to its parts and basket. Live.",
        JSON,
        0.7,
        True,
        "job",
    ),
    Entry(
        "rails://jobs/{external}/parts" + PAGE_QUERY,
        "job-parts",
        "A job's parts",
        "The job's parts with their status (estimated or ordered), and counts over all of them. "
        "Paged: limit (default 50, at most 200) and cursor=next_cursor as query parameters. Live.",
        JSON,
        0.7,
        True,
        "parts",
        "parts",
    ),
    Entry(
        "rails://jobs/{external}/basket",
        "job-basket",
        "A job's priced basket",
        "Offers grouped by supplier, each supplier marked confirmable or not, the ready order "
        "(what place_procurement's ready_selection places) with its total, and the estimated "
        "parts no confirmable supplier offers. No currency: the basket's trade prices are bare "
        "decimals. Live.",
        JSON,
        0.8,
        True,
        "basket",
    ),
    Entry(
        "rails://procurements/{id}",
        "procurement",
        "A procurement (order)",
        "One order, buyer view: status, supplier, lines, total and currency, plus the event "
        "history this server recorded. Subscribe to be told when it changes (placed, "
        "confirmed, a webhook arrived). Live.",
        JSON,
        0.8,
        True,
        "procurement",
    ),
    Entry(
        "rails://procurements/{id}/invoices" + PAGE_QUERY,
        "procurement-invoices",
        "A procurement's invoices",
        "Invoices and credit notes of one order (proposed extension): status, totals, and "
        "whether every line is matched. Empty until the order is confirmed. Paged like the "
        "parts (limit, cursor=next_cursor). Live.",
        JSON,
        0.6,
        True,
        "invoices",
        "invoices",
    ),
    Entry(
        "rails://procurements/{id}/events" + PAGE_QUERY,
        "procurement-events",
        "A procurement's event history",
        "What this server learned about one order and when: its own writes (placed, confirmed) "
        "and verified webhook deliveries, each with the status the API stated when re-read. "
        "Newest last; the oldest are dropped past a bound, and events_truncated says how many. "
        "Paged like the parts (limit, cursor=next_cursor).",
        JSON,
        0.5,
        True,
        "events",
        "events",
    ),
)

_TEMPLATES: dict[str, UriTemplate] = {
    e.uri: UriTemplate.parse(e.uri + PAGE_QUERY if e.fixed else e.uri)
    for e in ENTRIES
    if not e.fixed or e.paged is not None
}


def resources() -> list[Resource]:
    listed = [Resource(uri=e.uri, **e.listing()) for e in ENTRIES if e.fixed]
    return listed + [_app_listing(app) for app in ui.listed()]


def _app_listing(app: Resource) -> Resource:
    """An MCP Apps page as listed: for the person, not the assistant; cacheable like a guide."""
    meta = {**(app.meta or {}), CACHE_META: {"ttlMs": GUIDE_TTL_MS, "scope": "public", "live": False}}
    annotations = Annotations(audience=["user"], priority=0.1)
    return app.model_copy(update={"annotations": annotations, "meta": meta})


def resource_templates() -> list[ResourceTemplate]:
    return [
        ResourceTemplate(uri_template=str(e.template), **e.listing())
        for e in ENTRIES
        if e.template is not None
    ]


def match(uri: str) -> tuple[Entry, dict[str, str]]:
    """The entry that answers ``uri`` and its decoded variables; an unknown URI is ``invalid params``."""
    for entry in ENTRIES:
        if entry.fixed and entry.uri == uri:
            return entry, {}
        template = entry.template
        if template is None:
            continue
        found = template.match(uri)
        if found is not None and all(
            isinstance(v, str) and (v or k in _PAGE_VARIABLES) for k, v in found.items()
        ):
            return entry, {k: v for k, v in found.items() if isinstance(v, str)}
    raise MCPError(
        INVALID_PARAMS,
        f"No resource {uri[:120]!r}. List them with resources/list and resources/templates/list; "
        "start with guide://lifecycle or scenario://current.",
    )
