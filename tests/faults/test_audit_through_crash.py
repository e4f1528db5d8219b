"""Every order leaves a trace, even through ``kill -9``: an intent line before the wire, an outcome after.

A real ``rails-mcp serve`` over a shared ``rails-mcp sandbox`` is killed with SIGKILL while
40 placements are in flight. After the restart, every order the wire holds has exactly one
intent line and exactly one outcome line in the audit log (the outcome written by the call
itself, or by the restart's recovery, which asks the wire whether the order landed), and
every intent is closed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp_types import CallToolResult

from tests.support.process_support import clean_env, free_port, running
from tests.support.sandbox_support import S1, SITE
from tests.support.secret_scan import SECRETS

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

TENANT = "durable"
JOBS = 40
REPAIRER = {
    "Authorization": f"Bearer {SECRETS[0]}",
    "Partly-Integration-ID": "0c000000-0000-4000-8000-000000000001",
    "x-partifact-tenant": TENANT,
}


async def post(http: httpx2.AsyncClient, method: str, body: dict[str, Any]) -> Any:
    response = await http.post(f"/api/2026-01/{method}", json=body, headers=REPAIRER)
    response.raise_for_status()
    return response.json()


async def prepare_placements(wire: str) -> list[dict[str, Any]]:
    """Forty jobs with two parts each, and the place_procurement arguments for each."""
    placements: list[dict[str, Any]] = []
    async with httpx2.AsyncClient(base_url=wire, timeout=30) as http:
        for i in range(JOBS):
            job = {"external": f"DURABLE-{i}"}
            await post(http, "repairer.jobs.insert", {"identity": job, "repairer_site_id": SITE})
            parts = [
                {"description": "Headlamp assembly RH", "quantity": 1},
                {"description": "Radiator support", "quantity": 1},
            ]
            await post(http, "repairer.jobs.parts.insert", {"job_identity": job, "parts": parts})
            basket = await post(http, "repairer.jobs.baskets.latest.get", {"job_identity": job})
            offers = [
                {"sellable_id": o["sellable_id"]}
                for o in basket["offers"]
                if o["supplier_business_id"] == str(S1)
            ]
            placements.append({"job": job, "offer_selections": offers})
    return placements


async def landed_jobs(wire: str) -> dict[str, list[str]]:
    """Each job's procurement ids, as the wire holds them."""
    found: dict[str, list[str]] = {}
    async with httpx2.AsyncClient(base_url=wire, timeout=30) as http:
        for i in range(JOBS):
            job = {"external": f"DURABLE-{i}"}
            listed = (await post(http, "repairer.procurements.list", {"job_identity": job}))["items"]
            if listed:
                found[job["external"]] = [p["id"] for p in listed]
    return found


async def place_all_then_kill(url: str, pid: int, placements: list[dict[str, Any]]) -> int:
    """Place eight at a time; SIGKILL the server once a quarter have answered."""
    answered = 0
    enough = anyio.Event()
    in_flight = anyio.CapacityLimiter(8)

    async def place(client: Client, arguments: dict[str, Any]) -> None:
        nonlocal answered
        with contextlib.suppress(Exception):  # the kill cuts calls off mid-flight
            async with in_flight:
                result = await client.call_tool("place_procurement", arguments)
                assert isinstance(result, CallToolResult)
                answered += 1
                if answered >= JOBS // 4:
                    enough.set()

    async def kill() -> None:
        with anyio.move_on_after(60):
            await enough.wait()
        os.kill(pid, signal.SIGKILL)

    with contextlib.suppress(Exception):
        async with Client(url, mode="auto") as client, anyio.create_task_group() as tg:
            tg.start_soon(kill)
            for arguments in placements:
                tg.start_soon(place, client, arguments)
    return answered


def audit_lines(state: Path) -> list[dict[str, Any]]:
    text = (state / "audit.jsonl").read_text()
    for secret in SECRETS:
        assert secret not in text
    return [json.loads(line) for line in text.splitlines()]


async def test_every_order_landed_before_a_sigkill_has_one_intent_and_one_outcome(tmp_path: Path):
    wire_port, mcp_port = free_port(), free_port()
    wire = f"http://127.0.0.1:{wire_port}"
    sandbox = ["sandbox", "--port", str(wire_port), "--db", str(tmp_path / "wire.db"), "--no-idle-reset"]
    serve = ["serve", "--transport", "streamable-http", "--port", str(mcp_port)]
    state = tmp_path / "state"
    env = clean_env(state, RAILS_BASE_URL=wire, RAILS_TENANT=TENANT, RAILS_ORDER_APPROVAL="off")
    url = f"http://127.0.0.1:{mcp_port}/mcp"
    with running(sandbox, clean_env(tmp_path / "wire"), port=wire_port, ready_path="/healthz"):
        placements = await prepare_placements(wire)
        with running(serve, env, port=mcp_port) as proc:
            answered = await place_all_then_kill(url, proc.pid, placements)
            proc.wait(timeout=10)
            assert proc.returncode == -signal.SIGKILL
        landed = await landed_jobs(wire)
        assert answered <= len(landed) < JOBS, "the kill landed after every placement; nothing was cut"
        with running(serve, env, port=mcp_port):  # start-up closes what the killed process left open
            lines = audit_lines(state)

    intents = {line["intent"]: line for line in lines if line.get("kind") == "intent"}
    outcomes: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        if line.get("kind") != "intent" and "intent" in line:
            outcomes.setdefault(line["intent"], []).append(line)
    for external, procurement_ids in landed.items():
        mine = [i for i, line in intents.items() if line["arguments"]["job"]["external"] == external]
        assert len(mine) == 1, f"{external}: {len(mine)} intent lines"
        closing = outcomes.get(mine[0], [])
        assert len(closing) == 1, f"{external}: {len(closing)} outcome lines"
        assert closing[0]["outcome"] in {"ok", "recovered"}, closing[0]
        assert closing[0]["procurement_ids"] == procurement_ids
    for intent_id, line in intents.items():
        closing = outcomes.get(intent_id, [])
        assert len(closing) == 1, f"intent {intent_id} has {len(closing)} outcomes"
        if line["arguments"]["job"]["external"] not in landed:
            assert closing[0]["outcome"] not in {"ok", "recovered"}, closing[0]
    recovered = sum(1 for c in outcomes.values() if c[0]["outcome"] == "recovered")
    print(
        f"kill -9 during {JOBS} placements: {len(landed)} landed, {answered} answered, {recovered} recovered"
    )
