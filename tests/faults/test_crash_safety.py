"""``rails-mcp sandbox`` killed with SIGKILL mid-burst loses no invariant on restart.

After the restart: every procurement's parts are ``ordered``, every ``ordered`` part belongs
to a procurement, and every confirmed procurement has exactly one invoice.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from tests.support.process_support import clean_env, free_port, running

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

REPAIRER = {
    "Authorization": "Bearer partly_demo_repairer_3f8a1c0d9e2b4a67b1c2",
    "Partly-Integration-ID": "0c000000-0000-4000-8000-000000000001",
    "x-partifact-tenant": "crash",
}
SUPPLIER = {**REPAIRER, "Authorization": "Bearer partly_demo_supplier_8b4e2f1a6c0d3e9f7a25"}
SUPPLIER["Partly-Integration-ID"] = "0c000000-0000-4000-8000-000000000002"
SITE = "0b000000-0000-4000-8000-000000000001"
S1 = "0b000000-0000-4000-8000-000000000010"
JOBS = 24


async def post(
    http: httpx2.AsyncClient, method: str, body: dict[str, Any], headers: dict[str, str] = REPAIRER
) -> Any:
    response = await http.post(f"/api/2026-01/{method}", json=body, headers=headers)
    response.raise_for_status()
    return response.json()


async def prepare_jobs(base: str) -> None:
    async with httpx2.AsyncClient(base_url=base, timeout=30) as http:
        for i in range(JOBS):
            job = {"external": f"CRASH-{i}"}
            await post(http, "repairer.jobs.insert", {"identity": job, "repairer_site_id": SITE})
            parts = [
                {"description": "Headlamp assembly RH", "quantity": 1},
                {"description": "Radiator support", "quantity": 1},
            ]
            await post(http, "repairer.jobs.parts.insert", {"job_identity": job, "parts": parts})


class Progress:
    def __init__(self) -> None:
        self.placed = 0
        self.confirmed = 0
        self.enough = anyio.Event()


async def place_and_confirm(http: httpx2.AsyncClient, i: int, progress: Progress) -> None:
    job = {"external": f"CRASH-{i}"}
    basket = await post(http, "repairer.jobs.baskets.latest.get", {"job_identity": job})
    keys = ("sellable_id", "supplier_business_id", "job_part_ids", "quantity")
    offers = [{k: o[k] for k in keys} for o in basket["offers"] if o["supplier_business_id"] == S1]
    placed = await post(
        http, "repairer.procurements.insert", {"job_identity": job, "offer_selections": offers}
    )
    progress.placed += 1
    await post(
        http, "supplier.procurements.confirm", {"identity": {"id": placed["procurement"]["id"]}}, SUPPLIER
    )
    progress.confirmed += 1
    if progress.confirmed >= JOBS // 4:
        progress.enough.set()


async def burst(base: str, pid: int) -> Progress:
    """Fire every job's place+confirm at once; SIGKILL the server once a quarter confirmed."""
    progress = Progress()

    async def one(http: httpx2.AsyncClient, i: int) -> None:
        with contextlib.suppress(httpx2.TransportError):  # the kill cuts calls off; nothing else may fail
            await place_and_confirm(http, i, progress)

    async def kill_mid_burst() -> None:
        with anyio.move_on_after(30):
            await progress.enough.wait()
        os.kill(pid, signal.SIGKILL)

    async with httpx2.AsyncClient(base_url=base, timeout=30) as http, anyio.create_task_group() as tg:
        tg.start_soon(kill_mid_burst)
        for i in range(JOBS):
            tg.start_soon(one, http, i)
    return progress


async def check_invariants(base: str) -> tuple[int, int]:
    procurements = confirmed = 0
    async with httpx2.AsyncClient(base_url=base, timeout=30) as http:
        for i in range(JOBS):
            job = {"external": f"CRASH-{i}"}
            parts = (await post(http, "repairer.jobs.parts.list", {"job_identity": job}))["items"]
            listed = (await post(http, "repairer.procurements.list", {"job_identity": job}))["items"]
            invoices = (await post(http, "repairer.procurements.invoices.list", {"job_identity": job}))[
                "items"
            ]
            on_orders = {pid for p in listed for item in p["source_items"] for pid in item["job_part_ids"]}
            ordered = {p["id"] for p in parts if p["status"] == "ordered"}
            assert ordered == on_orders, f"job {i}: ordered parts and procurement lines disagree"
            for p in listed:
                count = sum(1 for inv in invoices if inv["procurement_id"] == p["id"])
                expected = 1 if p["status"] == "order_confirmed" else 0
                assert count == expected, f"job {i}: {p['status']} procurement has {count} invoices"
            procurements += len(listed)
            confirmed += sum(1 for p in listed if p["status"] == "order_confirmed")
    return procurements, confirmed


async def test_a_sigkill_during_a_burst_of_writes_leaves_every_invariant_intact(tmp_path: Path):
    db = tmp_path / "crash.db"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["sandbox", "--port", str(port), "--db", str(db), "--no-idle-reset"]
    env = clean_env(tmp_path)
    with running(args, env, port=port, ready_path="/healthz") as proc:
        await prepare_jobs(base)
        progress = await burst(base, proc.pid)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
    assert progress.confirmed >= JOBS // 4
    assert progress.confirmed < JOBS, "the kill landed after the burst; nothing was interrupted"

    started = time.monotonic()
    with running(args, env, port=port, ready_path="/healthz"):
        procurements, confirmed = await check_invariants(base)
    assert time.monotonic() - started < 60
    assert procurements >= progress.placed
    assert confirmed >= progress.confirmed
    assert procurements < JOBS or confirmed < JOBS
