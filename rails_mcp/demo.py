"""``rails-mcp demo``: the Quickstart loop, driven by a real MCP client over stdio.

It starts ``python -m rails_mcp`` as a subprocess on a fresh tenant in a throw-away state
directory, so it needs no configuration and leaves nothing behind, then walks: read the
job, read the basket, one placement the guard refuses, one mistake corrected from the
error's own ``example_arguments``, confirm, reconcile. Exit 0 only when the loop closes on
the reconciled 1099.00 NZD invoice.
"""

from __future__ import annotations

import json
import sys
import tempfile
import uuid
from typing import Any

import click
from mcp import Client, StdioServerParameters
from mcp.client.session import ClientRequestContext
from mcp_types import CallToolResult, ElicitRequestParams, ElicitResult, ErrorData

__all__ = ["run_demo"]

JOB = {"external": "CCC-2026-04817"}
PARTSMASTER_HEADLAMP_RH = "0f000000-0000-4000-8000-000000000008"
TOYOTA_HEADLAMP_RH = "0f000000-0000-4000-8000-000000000007"
TOYOTA_RADIATOR_SUPPORT = "0f000000-0000-4000-8000-00000000000a"


def _step(n: int, title: str) -> None:
    click.echo()
    click.secho(f"{n}. {title}", bold=True)


def _show(label: str, value: object) -> None:
    click.echo(f"   {label}: {value}")


def _call_line(name: str, arguments: dict[str, Any]) -> None:
    click.secho(f"   → {name}({json.dumps(arguments, ensure_ascii=False)})", fg="cyan")


async def _call(client: Client, name: str, arguments: dict[str, Any]) -> Any:
    """Call a tool and return its structured content (``Any``: it is JSON the demo reads)."""
    _call_line(name, arguments)
    result: CallToolResult = await client.call_tool(name, arguments)
    data: Any = result.structured_content or {}
    if result.is_error:
        err = data.get("error", {})
        click.secho(f"   ✗ {err.get('code')}: {err.get('message')}", fg="yellow")
        click.echo(f"     fix: {err.get('fix')}")
    return data


async def _approve_as_the_person(
    context: ClientRequestContext, params: ElicitRequestParams
) -> ElicitResult | ErrorData:
    """The demo's own elicitation handler: shows the order the server asks about and approves it.

    A real host puts this form in front of a person; the demo answers for them, and says so.
    """
    click.secho("   ? the server asks a person to approve the order:", fg="magenta")
    for line in params.message.splitlines():
        click.echo(f"     | {line}")
    click.secho(
        "   ✓ approved by the demo's own elicitation handler (standing in for the person)", fg="magenta"
    )
    return ElicitResult(action="accept", content={"decision": "approve"})


async def run_demo(tenant: str | None = None) -> bool:
    tenant = tenant or f"demo-{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory(prefix="rails-mcp-demo-") as state:
        # Merged over the SDK's safe default environment (PATH, HOME, ...): none of the
        # caller's RAILS_* settings reach the demo's server, so it always runs embedded.
        env = {"RAILS_TENANT": tenant, "RAILS_STATE_DIR": state}
        params = StdioServerParameters(command=sys.executable, args=["-m", "rails_mcp"], env=env)
        click.secho("rails-mcp demo — the Quickstart loop through MCP over stdio", bold=True)
        _show("server", f"{sys.executable} -m rails_mcp (embedded sandbox, tenant {tenant})")
        async with Client(params, elicitation_callback=_approve_as_the_person) as client:
            return await _walk(client)


async def _walk(client: Client) -> bool:
    """The Quickstart loop, step by step; False (said in red) as soon as a step goes wrong."""
    await _look_around(client)
    if not await _guard_refuses(client):
        return False
    placed = await _place_from_the_error(client)
    if placed is None:
        return False
    return await _confirm(client, placed["id"]) and await _reconcile(client, placed["id"])


async def _look_around(client: Client) -> None:
    tools = await client.list_tools()
    _step(1, "Connect")
    _show("tools", f"{len(tools.tools)}: " + ", ".join(t.name for t in tools.tools))

    _step(2, "Read the seeded job")
    job = (await _call(client, "get_repair_job", {"job": JOB}))["job"]
    vehicle: Any = job.get("vehicle") or {}
    _show("job", f"{job['external_id']} · claim {job['claim_number']} · plate {vehicle.get('plate_number')}")

    _step(3, "Recommend a basket")
    basket = await _call(client, "recommend_basket", {"job": JOB})
    for s in basket["suppliers"]:
        mark = "confirmable" if s["confirmable"] else "cannot confirm"
        _show(s["name"], f"{len(s['offers'])} offers ({mark})")


async def _guard_refuses(client: Client) -> bool:
    _step(4, "Place with a supplier that cannot confirm → the guard refuses")
    before = await _references(client)
    refused = await _call(
        client,
        "place_procurement",
        {"job": JOB, "offer_selections": [{"sellable_id": PARTSMASTER_HEADLAMP_RH}]},
    )
    if refused.get("error", {}).get("code") != "unconfirmable_supplier":
        return _fail("the guard did not refuse the unconfirmable supplier")
    listed = await _call(client, "list_procurements", {"job": JOB})
    after = [p["reference"] for p in listed["procurements"]]
    if after != before:
        return _fail(f"the refusal changed the job's procurements: {before} -> {after}")
    # The seed placed PR-1 before the demo began; the count is the same one, not the refusal's.
    _show(
        "procurements after the refusal",
        f"{len(after)}, the same as before it ({', '.join(after) or 'none'}, seeded with the job); "
        "the refusal wrote nothing",
    )
    return True


async def _references(client: Client) -> list[str]:
    """The job's procurement references, read without printing (the count before the refusal)."""
    result = await client.call_tool("list_procurements", {"job": JOB})
    data: Any = result.structured_content or {}
    return [p["reference"] for p in data.get("procurements", [])]


async def _place_from_the_error(client: Client) -> Any:
    """The placed procurement, or None (said) when the corrected call did not land."""
    _step(5, "A common mistake (external_id), corrected from the error itself")
    mistaken = {
        "job": {"external_id": "CCC-2026-04817"},
        "offer_selections": [{"sellable_id": TOYOTA_HEADLAMP_RH}, {"sellable_id": TOYOTA_RADIATOR_SUPPORT}],
    }
    error = (await _call(client, "place_procurement", mistaken)).get("error", {})
    example = error.get("example_arguments")
    if not example:
        _fail("the error carried no example_arguments")
        return None
    click.echo("   replaying error.example_arguments:")
    placed = await _call(client, "place_procurement", example)
    if "procurement" not in placed:
        _fail("the corrected placement did not land")
        return None
    p = placed["procurement"]
    _show("approval", placed.get("approval"))
    _show(
        "placed",
        f"{p['reference']} {p['status']} with {p['supplier']['name']}: {p['total']} {p['currency_code']}",
    )
    return p


async def _confirm(client: Client, procurement_id: str) -> bool:
    _step(6, "The supplier confirms")
    confirmed = await _call(client, "confirm_procurement", {"procurement_id": procurement_id})
    if "procurement" not in confirmed:
        return _fail("the confirmation failed")
    _show("status", confirmed["procurement"]["status"])
    _show("parts", ", ".join(f"{x['description']} ({x['status']})" for x in confirmed["parts"]))
    return True


async def _reconcile(client: Client, procurement_id: str) -> bool:
    _step(7, "Reconcile the invoice")
    rec = await _call(client, "reconcile_invoice", {"procurement_id": procurement_id})
    invoices: Any = rec.get("invoices") or []
    if not invoices:
        return _fail("no invoice to reconcile")
    inv: Any = invoices[0]
    lines = ", ".join(li["reconciliation"] for li in inv["line_items"])
    _show(
        "invoice",
        f"{inv['document_type']} {inv['status']} {inv['total']} {inv['currency_code']} (lines: {lines})",
    )
    closed: bool = (
        rec.get("status") == "reconciled"
        and inv["total"] == "1099.00"
        and inv["currency_code"] == "NZD"
        and all(li["reconciliation"] == "matched" for li in inv["line_items"])
    )
    click.echo()
    if not closed:
        return _fail("the invoice is not the reconciled 1099.00 NZD one")
    click.secho("✓ Loop closed: reconciled invoice 1099.00 NZD, every line matched.", fg="green", bold=True)
    return True


def _fail(why: str) -> bool:
    click.secho(f"✗ Demo failed: {why}", fg="red", bold=True)
    return False
