"""The static guides (markdown) and the server instructions: what an agent reads to orient itself.

Kept here, next to the resources that serve them, so that the guide, the ``get_started``
prompt and the server's ``instructions`` say the same thing in the same words.
"""

from __future__ import annotations

from rails_mcp.errors.codes import error_code_table
from rails_mcp.wire.models import EXTENSION_BANNER

__all__ = [
    "ERRORS_GUIDE",
    "INSTRUCTIONS",
    "LIFECYCLE_GUIDE",
    "SEEDED_JOB_EXTERNAL",
    "TOOLS_GUIDE",
]

#: The seeded repair job every fresh tenant of the embedded sandbox holds: a 2019 Toyota Corolla.
SEEDED_JOB_EXTERNAL = "CCC-2026-04817"

INSTRUCTIONS = (
    "Order collision-repair parts through the Rails API (2026-01). First read the get_started prompt "
    "(or the resources guide://lifecycle and scenario://current). Loop: open_repair_job → "
    "identify_parts → recommend_basket → place_procurement (pass recommend_basket's ready_selection "
    "as its arguments) → confirm_procurement → reconcile_invoice. Only suppliers our supplier "
    "credential belongs to can confirm an order; recommend_basket marks them and place_procurement "
    "refuses any other up front. place_procurement and reconcile_invoice are proposed extensions "
    "(is_extension: true, their text opens with the banner). Placing commits a real order: the server "
    "may ask a person to approve it through your host, and no argument can approve it. A failed call "
    "returns error.fix and often error.example_arguments to replay. Subscribe to "
    "rails://procurements/{id} to hear when an order changes; track_procurement shows its event "
    "history."
)

LIFECYCLE_GUIDE = f"""# Driving a parts order: the Rails lifecycle

Everything here goes through the MCP tools; the resources only read.

## The loop
1. `open_repair_job(job={{"external": "<your ref>"}})` — upsert the job (the key is `external`,
   not `external_id`; `{{"id": "<uuid>"}}` addresses an existing job). Cash jobs omit
   `work_provider_id`; `list_businesses` gives `repairer_site_id` when the shop has several sites.
2. `identify_parts(job, parts=[{{"description": ..., "quantity": 1}}])` — new parts start
   `estimated`; an `ordered` part never goes back.
3. `recommend_basket(job)` — offers grouped by supplier, each supplier marked `confirmable` or
   not, and a `ready_selection`: complete `place_procurement` arguments for every estimated part a
   confirmable supplier can cover, with its `ready_selection_total`. Parts it cannot cover are
   listed in `estimated_parts_not_confirmable`: report them, do not force them.
   The basket carries no currency; currency first appears on the procurement.
4. `place_procurement(**ready_selection)` ⚠ — creates a procurement in `order_requested` and
   moves its parts to `ordered`. Use `dry_run: true` to see exactly what would be placed.
5. `confirm_procurement(procurement_id)` — the supplier confirms: `order_confirmed`, the order
   is locked and an invoice is created. Safe to repeat.
6. `reconcile_invoice(procurement_id=...)` ⚠ — the invoice, `reconciled` when every line is
   `matched`. Invoices exist only after confirmation.

`track_procurement(procurement_id)` and `list_procurements(job)` read the truth at any time;
`track_procurement` also lists the procurement's event history (server writes and webhooks).

## The single-confirmable-supplier guard
A supplier can only confirm its own orders, and this server holds one supplier credential. Only
an order placed entirely with a supplier that credential belongs to can ever reach
`order_confirmed`; any other order would be stranded in `order_requested`. So before anything
reaches the wire, `place_procurement` checks that every selected offer is in the job's latest
basket, that all come from one supplier, that this supplier is confirmable (discovered from the
credential, never hard-coded) and that no selected part is already ordered. A refused placement
writes nothing and names the confirmable offers that cover the same parts
(`error.example_arguments`).

## The extension banner
The public 2026-01 contract stops at `order_confirmed`. Placing an order and reconciling
invoices are proposed extensions: their results carry `is_extension: true` and their text opens
with this banner, verbatim:

> {EXTENSION_BANNER}

Say so when you report those results; never present them as the public contract.

## Approval by a person
`place_procurement` and `confirm_procurement` commit money with a real supplier. Show the person
the supplier, the lines and the total (a `dry_run` placement, or the `ready_selection_total`)
and wait for their explicit approval before each. Reads need no approval.

## Never assume, re-fetch
After every transition the tools return the re-fetched truth. A write whose answer was lost is
checked, never blindly repeated: the tool says whether it landed (`recovered`). Webhooks carry
identifiers only; on an update notification, re-read the resource.

## Resources
- `scenario://current` — this tenant's jobs, parts and their status, who can confirm, the
  ready order, what is already ordered. Live.
- `rails://jobs/{{external}}`, `rails://jobs/{{external}}/parts`, `rails://jobs/{{external}}/basket`
- `rails://procurements/{{id}}`, `rails://procurements/{{id}}/invoices`,
  `rails://procurements/{{id}}/events`
- `rails://businesses`, `rails://work-providers`, `guide://errors`, `guide://tools`
- The parts, invoices, events, businesses (sites) and work providers are paged: the plain
  URI reads the first 50; add `?limit=<1-200>` for another page size, and read `next_page`
  (the same URI with `cursor=<next_cursor>`) until a read has no `next_cursor`.
Subscribe to `rails://procurements/{{id}}` or `scenario://current` (resources/subscribe on
2025-11-25, subscriptions/listen on 2026-07-28) to be told when an order changes.
"""

ERRORS_GUIDE = f"""# Errors and how to recover

A failed tool call is a normal result with `isError: true`, never a protocol error. Its
structured content is `{{"is_extension": bool, "error": {{...}}}}`:

| key | meaning |
|---|---|
| `code` | the wire code or our own (below) |
| `message` | what was wrong |
| `fix` | the exact fix, in one sentence: do this |
| `retryable` | true when the same call may succeed later unchanged |
| `example_arguments` | complete corrected arguments for the same tool: replay them |
| `field`, `valid_values`, `did_you_mean`, `next_tool`, `http_status`, `wire_method` | where they apply |
| `spending_limit` | on `over_spending_limit`: the limit (`amount`, `currency_code`) the total is above |
| `budget` | on `over_budget`: what is left (`remaining`, `currency_code`), `period`, `resets_at` |

## Every code

"From" says who answered: the Rails API itself, nobody (no usable answer came back), or
rails-mcp, which refuses before anything reaches the wire. Always follow `fix`; when an
answer was lost, check with `list_procurements` before placing again (confirming is safe to
repeat).

{error_code_table()}

Reading a resource that does not exist (an unknown job reference or procurement id) answers a
JSON-RPC `invalid params` error whose message says what to use instead.
"""

TOOLS_GUIDE = """# The thirteen tools

| # | tool | use it to | writes? |
|---|---|---|---|
| 1 | `prepare_vehicle` | warm the catalogue for VINs/VRMs (no state change) | no |
| 2 | `list_businesses` | find `repairer_site_id` | no |
| 3 | `list_work_providers` | find the insurer's `work_provider_id` | no |
| 4 | `open_repair_job` | create or update a job (upsert) | yes |
| 5 | `get_repair_job` | read the job header | no |
| 6 | `identify_parts` | add or update the job's parts (upsert, never deletes) | yes |
| 7 | `list_parts` | parts and their status (estimated / ordered) | no |
| 8 | `recommend_basket` | priced offers by supplier, who can confirm, the ready order | no |
| 9 | `place_procurement` ⚠ | place the order (guarded; extension) — needs approval | yes |
| 10 | `list_procurements` | the job's orders | no |
| 11 | `track_procurement` | one order's status, lines, total and event history | no |
| 12 | `confirm_procurement` | supplier confirms: order locked, invoice created — needs approval | yes |
| 13 | `reconcile_invoice` ⚠ | read and check the invoice (extension) | no |

⚠ = proposed extension beyond the public 2026-01 API (`is_extension: true`).
A job is always `{"external": "<ref>"}` or `{"id": "<uuid>"}`.
"""
