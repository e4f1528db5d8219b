"""`rails-mcp sandbox` as a real process: the Quickstart's curl steps, two processes on one file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from tests.support.process_support import free_port
from tests.support.sandbox_support import API, INSTALL, JOB, QUICKSTART_SELECTIONS, SUPPLIER, call

pytestmark = pytest.mark.subprocess

# The Quickstart's steps 1-7 as published (seeds/000), with BASE and TENANT from arguments
# and each step's answer printed as one labelled line of compact JSON.
QUICKSTART_SH = r"""
set -euo pipefail
BASE="$1"
TENANT="$2"
INSTALL=$(curl -sS -X POST "$BASE/api/2026-01/integrations.insert" \
-H "x-partifact-tenant: $TENANT" \
-H "Content-Type: application/json" \
-d '{"access_code":"ac_demo_valid_15m","client_id":"partly_client_demo","client_secret":"secret_demo_8f3a"}')
API_KEY=$(echo "$INSTALL" | jq -r .api_key)
INTEGRATION_ID=$(echo "$INSTALL" | jq -r .integration_id)
echo "STEP1 $(echo "$INSTALL" | jq -c .)"
echo "STEP3 $(curl -sS -X POST "$BASE/api/2026-01/repairer.jobs.get" \
-H "x-partifact-tenant: $TENANT" \
-H "Authorization: Bearer $API_KEY" \
-H "Partly-Integration-ID: $INTEGRATION_ID" \
-H "Content-Type: application/json" \
-d '{"identity":{"external":"CCC-2026-04817"}}' | jq -c .)"
echo "STEP4 $(curl -sS -X POST "$BASE/api/2026-01/repairer.jobs.baskets.latest.get" \
-H "x-partifact-tenant: $TENANT" \
-H "Authorization: Bearer $API_KEY" \
-H "Partly-Integration-ID: $INTEGRATION_ID" \
-H "Content-Type: application/json" \
-d '{"job_identity":{"external":"CCC-2026-04817"}}' | jq -c .)"
PLACE=$(curl -sS -X POST "$BASE/api/2026-01/repairer.procurements.insert" \
-H "x-partifact-tenant: $TENANT" \
-H "Authorization: Bearer $API_KEY" \
-H "Partly-Integration-ID: $INTEGRATION_ID" \
-H "Content-Type: application/json" \
-d '{
"job_identity": {"external": "CCC-2026-04817"},
"offer_selections": [
{
"sellable_id": "0f000000-0000-4000-8000-000000000007",
"supplier_business_id": "0b000000-0000-4000-8000-000000000010",
"job_part_ids": ["0e000000-0000-4000-8000-000000000004"],
"quantity": 1
},
{
"sellable_id": "0f000000-0000-4000-8000-00000000000a",
"supplier_business_id": "0b000000-0000-4000-8000-000000000010",
"job_part_ids": ["0e000000-0000-4000-8000-000000000006"],
"quantity": 1
}
]
}')
PROCUREMENT_ID=$(echo "$PLACE" | jq -r .procurement.id)
echo "STEP5 $(echo "$PLACE" | jq -c '{x_extension, id: .procurement.id,
status: .procurement.status, currency_code: .procurement.currency_code,
supplier: .procurement.supplier_business.name}')"
SUP_API_KEY=partly_demo_supplier_8b4e2f1a6c0d3e9f7a25
SUP_INTEGRATION_ID=0c000000-0000-4000-8000-000000000002
echo "STEP6 $(curl -sS -X POST "$BASE/api/2026-01/supplier.procurements.confirm" \
-H "x-partifact-tenant: $TENANT" \
-H "Authorization: Bearer $SUP_API_KEY" \
-H "Partly-Integration-ID: $SUP_INTEGRATION_ID" \
-H "Content-Type: application/json" \
-d "{\"identity\":{\"id\":\"$PROCUREMENT_ID\"}}" | jq -c '{id, status}')"
echo "STEP7 $(curl -sS -X POST "$BASE/api/2026-01/repairer.procurements.invoices.list" \
-H "x-partifact-tenant: $TENANT" \
-H "Authorization: Bearer $API_KEY" \
-H "Partly-Integration-ID: $INTEGRATION_ID" \
-H "Content-Type: application/json" \
-d "{\"procurement_identity\":{\"id\":\"$PROCUREMENT_ID\"}}" | jq -c .)"
echo "AGAIN $(curl -sS -w ' %{http_code}' -X POST "$BASE/api/2026-01/integrations.insert" \
-H "x-partifact-tenant: $TENANT" \
-H "Content-Type: application/json" \
-d '{"access_code":"ac_demo_valid_15m","client_id":"partly_client_demo","client_secret":"secret_demo_8f3a"}')"
"""


def start_sandbox(db: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start `python -m rails_mcp sandbox` and wait until /healthz answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "rails_mcp", "sandbox", "--port", str(port), "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise AssertionError(f"sandbox exited with {process.returncode}: {output}")
        try:
            if httpx2.get(base + "/healthz", timeout=1).json() == {
                "status": "ok",
                "api_version": "2026-01",
            }:
                return process, base
        except httpx2.TransportError:
            time.sleep(0.1)
    stop(process)
    raise AssertionError("sandbox did not answer /healthz within 30 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    if process.stdout:
        process.stdout.close()


@pytest.fixture
def sandbox_process(tmp_path: Path) -> Iterator[Callable[[Path], str]]:
    """Start as many sandboxes as a test needs; every one is stopped afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(db: Path) -> str:
        process, base = start_sandbox(db)
        started.append(process)
        return base

    try:
        yield start
    finally:
        for process in started:
            stop(process)


def quickstart_with_curl(base: str, tenant: str) -> dict[str, Any]:
    result = subprocess.run(
        ["bash", "-c", QUICKSTART_SH, "quickstart", base, tenant],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    steps: dict[str, Any] = {}
    for line in result.stdout.splitlines():
        label, _, rest = line.partition(" ")
        if label == "AGAIN":
            body, _, status = rest.rpartition(" ")
            steps[label] = (int(status), json.loads(body))
        else:
            steps[label] = json.loads(rest)
    return steps


def quickstart_with_httpx(base: str, tenant: str) -> dict[str, Any]:
    """The same steps without curl and jq, for machines that lack them."""
    url = base + API
    t = {"x-partifact-tenant": tenant}
    with httpx2.Client(timeout=10) as c:
        install = c.post(url + "integrations.insert", json=INSTALL, headers=t).json()
        auth = {
            **t,
            "Authorization": f"Bearer {install['api_key']}",
            "Partly-Integration-ID": install["integration_id"],
        }
        job = c.post(url + "repairer.jobs.get", json={"identity": JOB}, headers=auth).json()
        basket = c.post(
            url + "repairer.jobs.baskets.latest.get", json={"job_identity": JOB}, headers=auth
        ).json()
        place = c.post(
            url + "repairer.procurements.insert",
            json={"job_identity": JOB, "offer_selections": QUICKSTART_SELECTIONS},
            headers=auth,
        ).json()
        pid = place["procurement"]["id"]
        confirm = c.post(
            url + "supplier.procurements.confirm",
            json={"identity": {"id": pid}},
            headers={**t, **SUPPLIER},
        ).json()
        invoices = c.post(
            url + "repairer.procurements.invoices.list",
            json={"procurement_identity": {"id": pid}},
            headers=auth,
        ).json()
        again = c.post(url + "integrations.insert", json=INSTALL, headers=t)
    return {
        "STEP1": install,
        "STEP3": job,
        "STEP4": basket,
        "STEP5": {
            "x_extension": place["x_extension"],
            "id": pid,
            "status": place["procurement"]["status"],
            "currency_code": place["procurement"]["currency_code"],
            "supplier": place["procurement"]["supplier_business"]["name"],
        },
        "STEP6": {"id": confirm["id"], "status": confirm["status"]},
        "STEP7": invoices,
        "AGAIN": (again.status_code, again.json()),
    }


def test_the_quickstart_transcript_runs_verbatim_against_the_cli_sandbox(
    sandbox_process: Callable[[Path], str], tmp_path: Path
):
    base = sandbox_process(tmp_path / "sandbox.sqlite3")
    have_curl = shutil.which("curl") is not None and shutil.which("jq") is not None
    steps = (quickstart_with_curl if have_curl else quickstart_with_httpx)(base, "quickstart-ci")
    assert_quickstart_shapes(steps)


def test_the_quickstart_steps_replayed_with_httpx_print_the_same_shapes(
    sandbox_process: Callable[[Path], str], tmp_path: Path
):
    base = sandbox_process(tmp_path / "sandbox.sqlite3")
    assert_quickstart_shapes(quickstart_with_httpx(base, "quickstart-httpx"))


def assert_quickstart_shapes(steps: dict[str, Any]) -> None:
    assert set(steps["STEP1"]) == {"api_key", "integration_id"}
    assert steps["STEP1"]["api_key"].startswith("partly_")
    assert len(steps["STEP1"]["api_key"]) == len("partly_") + 32
    assert steps["STEP3"]["id"] == "0d000000-0000-4000-8000-000000000001"
    assert steps["STEP3"]["external_id"] == "CCC-2026-04817"
    assert steps["STEP3"]["images"] == []
    assert len(steps["STEP4"]["offers"]) == 12
    assert len(steps["STEP4"]["suppliers"]) == 3
    assert "currency" not in json.dumps(steps["STEP4"])
    procurement_id = steps["STEP5"].pop("id")
    assert steps["STEP5"] == {
        "x_extension": True,
        "status": "order_requested",
        "currency_code": "NZD",
        "supplier": "Christchurch Toyota — Parts",
    }
    assert steps["STEP6"] == {"id": procurement_id, "status": "order_confirmed"}
    assert steps["STEP7"]["x_extension"] is True
    [invoice] = steps["STEP7"]["items"]
    assert (invoice["document_type"], invoice["status"], invoice["currency_code"]) == (
        "invoice",
        "reconciled",
        "NZD",
    )
    assert invoice["total"] == "1099.00"
    assert [line["reconciliation"] for line in invoice["line_items"]] == ["matched", "matched"]
    assert steps["AGAIN"] == (401, {"type": "invalid_access_code"})


def test_two_sandbox_processes_on_one_file_confirm_an_order_once(
    sandbox_process: Callable[[Path], str], tmp_path: Path
):
    db = tmp_path / "shared.sqlite3"
    bases = [sandbox_process(db), sandbox_process(db)]

    async def scenario() -> tuple[list[int], int]:
        clients = [httpx2.AsyncClient(base_url=b, timeout=30) for b in bases]
        try:
            placed = await call(
                clients[0],
                "repairer.procurements.insert",
                {"job_identity": JOB, "offer_selections": QUICKSTART_SELECTIONS},
            )
            pid = placed.json()["procurement"]["id"]
            statuses: list[int] = []

            async def confirm(client: httpx2.AsyncClient) -> None:
                response = await call(
                    client, "supplier.procurements.confirm", {"identity": {"id": pid}}, auth=SUPPLIER
                )
                statuses.append(response.status_code)

            async with anyio.create_task_group() as tg:
                for i in range(24):
                    tg.start_soon(confirm, clients[i % 2])
            listed = await call(clients[1], "repairer.procurements.invoices.list", {"job_identity": JOB})
            return statuses, len(listed.json()["items"])
        finally:
            for client in clients:
                await client.aclose()

    statuses, invoices = anyio.run(scenario)
    assert statuses == [200] * 24
    assert invoices == 1


def test_reset_tenant_restores_the_seed_under_a_running_sandbox(
    sandbox_process: Callable[[Path], str], tmp_path: Path
):
    db = tmp_path / "sandbox.sqlite3"
    base = sandbox_process(db)
    url = base + API + "repairer.procurements.list"
    headers = {**dict(SUPPLIER), "x-partifact-tenant": "t"}
    with httpx2.Client(timeout=10) as c:
        repairer = {
            "x-partifact-tenant": "t",
            "Authorization": "Bearer partly_demo_repairer_3f8a1c0d9e2b4a67b1c2",
            "Partly-Integration-ID": "0c000000-0000-4000-8000-000000000001",
        }
        placed = c.post(
            base + API + "repairer.procurements.insert",
            json={"job_identity": JOB, "offer_selections": QUICKSTART_SELECTIONS},
            headers=repairer,
        )
        assert placed.status_code == 200
        assert len(c.post(url, json={"job_identity": JOB}, headers=repairer).json()["items"]) == 2
        subprocess.run(
            [sys.executable, "-m", "rails_mcp", "reset-tenant", "t", "--db", str(db)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        assert len(c.post(url, json={"job_identity": JOB}, headers=repairer).json()["items"]) == 1
        forbidden = c.post(url, json={"job_identity": JOB}, headers=headers)
        assert forbidden.status_code == 403
