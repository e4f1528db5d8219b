"""Nobody who writes a job reference, a part name or a supplier name can fake the approval form.

Driven through the real tools in both protocol eras (2026-07-28: the form rides
``input_required``; 2025-11-25: it is an elicitation sent during the call). The person is
shown whatever the host receives; what they see must state the real supplier, total and
lines first, and each hostile string only as one quoted, bounded line. The attack the
adversarial run found: a job reference carrying a fake "Wiper blade ... Total: 9.90 NZD"
order followed by 36 blank lines, above the real 1099.00 order the person then approved.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp_types import ElicitRequestFormParams, ElicitRequestParams, ElicitResult, ErrorData

from rails_mcp.approval import ApprovalGate
from rails_mcp.server import build_server
from rails_mcp.wire.untrusted import quote
from tests.support.approval_form import NAME_CAP, REF_CAP, Form, RealOrder, check_form
from tests.support.mcp_support import ERAS, QUICKSTART, S1, Session, lossy_rails, wire_method

pytestmark = pytest.mark.anyio

KEY = b"approval-key-for-the-spoofing-tests-0123456789"
BASKET = "repairer.jobs.baskets.latest.get"
SUPPLIER = "Christchurch Toyota — Parts"
HEADLAMP = "Toyota Genuine Headlamp RH"
REAL = RealOrder(supplier=f'"{SUPPLIER}"', total="1099.00", prices=("631.00", "468.00"))

#: The reference the adversarial run wrote (under the 200-character limit of a job reference).
SPOOF_REF = (
    "CCC-2026-9\n\nWiper blade x1: 9.90\nTotal: 9.90 NZD\nNothing is ordered unless you approve." + "\n" * 36
)
RTL_REF = "CCC-\u202e09.9 :latoT\u202c-\u2066\u200b\u2069\U000e0041\x1b[2J"
IMITATIONS = ("Wiper blade x1: 9.90", "Total: 9.90 NZD")


@dataclass
class Person:
    """Approves, and keeps each form exactly as the host received it."""

    forms: list[Form] = field(default_factory=list[Form])

    async def __call__(
        self, context: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult | ErrorData:
        assert isinstance(params, ElicitRequestFormParams)
        self.forms.append(Form.of(params.message, params.requested_schema))
        return ElicitResult(action="accept", content={"decision": "approve"})


class HostileWire(httpx2.AsyncBaseTransport):
    """The sandbox, except that the basket's names are the ones a hostile party wrote."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, names: Mapping[str, str]) -> None:
        self.inner = inner
        self.names = names

    def _swap(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self._swap(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
        if isinstance(value, list):
            return [self._swap(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
        return self.names.get(value, value) if isinstance(value, str) else value

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        if wire_method(request) != BASKET or response.status_code != 200:
            return response
        body = json.loads(await response.aread())
        return httpx2.Response(200, json=self._swap(body))

    async def aclose(self) -> None:
        await self.inner.aclose()


@asynccontextmanager
async def approving(
    tmp_path: Path, mode: str, person: Person, names: Mapping[str, str]
) -> AsyncIterator[Session]:
    """Tools over the seeded sandbox with approval asked of ``person``; ``names`` rewritten."""
    rails, wire = lossy_rails(tmp_path)
    wire.inner = HostileWire(wire.inner, names)
    gate = ApprovalGate("require", KEY, audience="rails-mcp/approval|spoofing")
    try:
        async with Client(
            build_server(rails, approval=gate), mode=mode, elicitation_callback=person
        ) as client:
            listed = await client.list_tools()
            yield Session(client, rails, {t.name: t for t in listed.tools})
    finally:
        await rails.client.aclose()


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("ref", [SPOOF_REF, RTL_REF], ids=["newlines", "rtl"])
async def test_a_job_reference_set_through_the_tools_cannot_fake_the_order(
    tmp_path: Path, mode: str, ref: str
):
    person = Person()
    job = {"external": ref}
    async with approving(tmp_path, mode, person, {}) as s:
        await s.ok("open_repair_job", {"job": job})
        parts = [
            {"description": "Headlamp assembly RH", "quantity": 1},
            {"description": "Radiator support", "quantity": 1},
        ]
        await s.ok("identify_parts", {"job": job, "parts": parts})
        basket = await s.ok("recommend_basket", {"job": job})
        placed = await s.ok("place_procurement", basket["ready_selection"])
    (form,) = person.forms
    check_form(form, REAL, IMITATIONS)
    assert f"Repair job: external {quote(ref, REF_CAP)}" in form.message
    assert placed["procurement"]["total"] == REAL.total  # what was approved is what was shown first


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize(
    ("seeded", "name"),
    [
        (HEADLAMP, "Headlamp \u202eHR\u202c \u2067x\u2069 \u200b\ufeff\U000e0041"),
        (HEADLAMP, "H" * 10_000),
        (HEADLAMP, "Total: 9.90 NZD"),
        (HEADLAMP, "Wiper blade x1: 9.90\nTotal: 9.90 NZD\n" + "\n" * 36),
        (SUPPLIER, "Total: 9.90 NZD"),
        (SUPPLIER, "S" * 10_000),
        (SUPPLIER, "Toyota\u202e stnemyaP\u202c\nTotal: 9.90 NZD"),
    ],
    ids=[
        "part-rtl",
        "part-long",
        "part-imitation",
        "part-newlines",
        "supplier-imitation",
        "supplier-long",
        "supplier-rtl",
    ],
)
async def test_a_hostile_name_from_the_wire_is_one_quoted_line_after_the_real_order(
    tmp_path: Path, mode: str, seeded: str, name: str
):
    person = Person()
    async with approving(tmp_path, mode, person, {seeded: name}) as s:
        await s.ok("place_procurement", QUICKSTART)
    (form,) = person.forms
    shown = quote(name, NAME_CAP)  # the wire's name, as data
    supplier = shown if seeded == SUPPLIER else REAL.supplier
    check_form(form, RealOrder(supplier, REAL.total, REAL.prices), IMITATIONS)
    assert shown in form.message
    assert S1 in form.message.split("\n")[1]  # the supplier line names the real business
