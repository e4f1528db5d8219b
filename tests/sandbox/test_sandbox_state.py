"""State of the sandbox: tenants, persistence, idle reset, and concurrent writers."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx2
import pytest

from rails_mcp.sandbox.store import reset_tenant
from tests.support.sandbox_support import (
    INSTALL,
    JOB,
    PR1,
    QUICKSTART_SELECTIONS,
    SUPPLIER,
    asgi_client,
    call,
    part,
    place_quickstart,
)

pytestmark = pytest.mark.anyio

GETS = [
    ("repairer.jobs.get", {"identity": JOB}),
    ("repairer.jobs.parts.list", {"job_identity": JOB}),
    ("repairer.jobs.baskets.latest.get", {"job_identity": JOB}),
    ("repairer.procurements.list", {"job_identity": JOB}),
    ("repairer.work-providers.list", {}),
    ("businesses.list", {}),
]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_767_225_600.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def references(client: httpx2.AsyncClient, tenant: str | None = "t") -> list[str]:
    response = await call(client, "repairer.procurements.list", {"job_identity": JOB}, tenant=tenant)
    return [p["reference"] for p in response.json()["items"]]


async def invoice_count(client: httpx2.AsyncClient, tenant: str | None = "t") -> int:
    response = await call(client, "repairer.procurements.invoices.list", {"job_identity": JOB}, tenant=tenant)
    return len(response.json()["items"])


# --- tenants ---------------------------------------------------------------------------------


async def test_every_fresh_tenant_is_seeded_identically(sandbox: httpx2.AsyncClient):
    for method, body in GETS:
        a = await call(sandbox, method, body, tenant="alpha")
        b = await call(sandbox, method, body, tenant="beta")
        default = await call(sandbox, method, body, tenant=None)
        assert a.status_code == 200
        assert a.json() == b.json() == default.json()


async def test_an_order_in_one_tenant_is_invisible_in_another_and_in_the_default_world(
    sandbox: httpx2.AsyncClient,
):
    placed = await place_quickstart(sandbox, tenant="alpha")
    assert await references(sandbox, "alpha") == ["PR-1", "PR-2"]
    for other in ("beta", None):
        assert await references(sandbox, other) == ["PR-1"]
        parts = await call(sandbox, "repairer.jobs.parts.list", {"job_identity": JOB}, tenant=other)
        assert [p["status"] for p in parts.json()["items"]] == ["ordered"] + ["estimated"] * 5
        read = await call(sandbox, "repairer.procurements.get", {"identity": {"id": placed}}, tenant=other)
        assert (read.status_code, read.json()) == (404, {"type": "not_found"})


async def test_a_procurement_of_another_tenant_cannot_be_confirmed(sandbox: httpx2.AsyncClient):
    placed = await place_quickstart(sandbox, tenant="alpha")
    response = await call(
        sandbox,
        "supplier.procurements.confirm",
        {"identity": {"id": placed}},
        auth=SUPPLIER,
        tenant="beta",
    )
    assert (response.status_code, response.json()) == (404, {"type": "not_found"})


async def test_the_default_world_has_its_own_single_use_access_code(sandbox: httpx2.AsyncClient):
    assert (await call(sandbox, "integrations.insert", INSTALL, auth=None, tenant=None)).is_success
    again = await call(sandbox, "integrations.insert", INSTALL, auth=None, tenant=None)
    assert again.status_code == 401
    assert (await call(sandbox, "integrations.insert", INSTALL, auth=None, tenant="t")).is_success


# --- persistence -----------------------------------------------------------------------------


async def test_a_restart_on_the_same_file_loses_nothing(db_path: Path):
    async with asgi_client(db_path) as first:
        minted = (await call(first, "integrations.insert", INSTALL, auth=None)).json()
        placed = await place_quickstart(first)
        await call(first, "supplier.procurements.confirm", {"identity": {"id": placed}}, auth=SUPPLIER)
    async with asgi_client(db_path) as second:
        auth = {
            "Authorization": f"Bearer {minted['api_key']}",
            "Partly-Integration-ID": minted["integration_id"],
        }
        read = await call(second, "repairer.procurements.get", {"identity": {"id": placed}}, auth=auth)
        assert read.json()["status"] == "order_confirmed"
        assert await invoice_count(second) == 1
        parts = await call(second, "repairer.jobs.parts.list", {"job_identity": JOB})
        assert parts.json()["items"][3]["status"] == "ordered"
        again = await call(second, "integrations.insert", INSTALL, auth=None)
        assert again.json() == {"type": "invalid_access_code"}


async def test_the_database_file_and_its_parent_directories_are_created(tmp_path: Path):
    db = tmp_path / "deep" / "er" / "sandbox.sqlite3"
    async with asgi_client(db) as client:
        assert (await call(client, "repairer.jobs.get", {"identity": JOB})).status_code == 200
    assert db.exists()


async def test_an_in_memory_sandbox_works_for_a_whole_order():
    async with asgi_client(":memory:") as client:
        placed = await place_quickstart(client)
        confirm = await call(
            client, "supplier.procurements.confirm", {"identity": {"id": placed}}, auth=SUPPLIER
        )
        assert confirm.json()["status"] == "order_confirmed"
        assert await invoice_count(client) == 1


# --- idle reset ------------------------------------------------------------------------------


async def test_a_tenant_idle_for_the_limit_is_reset_to_the_seed_on_its_next_call(db_path: Path):
    clock = Clock()
    async with asgi_client(db_path, idle_reset_seconds=3600, clock=clock) as client:
        await place_quickstart(client)
        assert (await call(client, "integrations.insert", INSTALL, auth=None)).is_success
        clock.now += 3599
        assert await references(client) == ["PR-1", "PR-2"]
        clock.now += 3599  # active a minute ago: the reads above kept it alive
        assert await references(client) == ["PR-1", "PR-2"]
        clock.now += 3600
        assert await references(client) == ["PR-1"]
        parts = await call(client, "repairer.jobs.parts.list", {"job_identity": JOB})
        assert [p["status"] for p in parts.json()["items"]] == ["ordered"] + ["estimated"] * 5
        assert (await call(client, "integrations.insert", INSTALL, auth=None)).is_success


async def test_idle_reset_touches_only_the_idle_tenant(db_path: Path):
    clock = Clock()
    async with asgi_client(db_path, idle_reset_seconds=100, clock=clock) as client:
        await place_quickstart(client, tenant="sleepy")
        await place_quickstart(client, tenant="busy")
        for _ in range(4):
            clock.now += 60
            await references(client, "busy")
        assert await references(client, "busy") == ["PR-1", "PR-2"]
        assert await references(client, "sleepy") == ["PR-1"]


async def test_without_idle_reset_an_order_survives_any_pause(db_path: Path):
    clock = Clock()
    async with asgi_client(db_path, idle_reset_seconds=None, clock=clock) as client:
        await place_quickstart(client)
        clock.now += 365 * 24 * 3600
        assert await references(client) == ["PR-1", "PR-2"]


async def test_resetting_a_tenant_on_purpose_restores_the_seed_even_while_serving(db_path: Path):
    async with asgi_client(db_path) as client:
        await place_quickstart(client, tenant="t")
        await place_quickstart(client, tenant="keep")
        await place_quickstart(client, tenant=None)
        reset_tenant(db_path, "t")
        assert await references(client, "t") == ["PR-1"]
        assert await references(client, "keep") == ["PR-1", "PR-2"]
        assert await references(client, None) == ["PR-1", "PR-2"]
        reset_tenant(db_path, "")
        assert await references(client, None) == ["PR-1"]
        assert await references(client, "keep") == ["PR-1", "PR-2"]


def test_resetting_an_invalidly_named_tenant_is_refused(db_path: Path):
    with pytest.raises(ValueError, match="tenant"):
        reset_tenant(db_path, "Not Valid")


# --- concurrency -----------------------------------------------------------------------------


async def test_twenty_five_simultaneous_confirms_produce_one_confirmation_and_one_invoice(
    sandbox: httpx2.AsyncClient,
):
    placed = await place_quickstart(sandbox)
    responses: list[httpx2.Response] = []

    async def confirm() -> None:
        responses.append(
            await call(sandbox, "supplier.procurements.confirm", {"identity": {"id": placed}}, auth=SUPPLIER)
        )

    async with anyio.create_task_group() as tg:
        for _ in range(25):
            tg.start_soon(confirm)
    assert [r.status_code for r in responses] == [200] * 25
    assert {r.json()["status"] for r in responses} == {"order_confirmed"}
    assert len({r.json()["updated_at"] for r in responses}) == 1
    assert await invoice_count(sandbox) == 1


async def test_fifty_parallel_placements_of_the_same_offers_create_exactly_one_procurement(
    sandbox: httpx2.AsyncClient,
):
    responses: list[httpx2.Response] = []

    async def place() -> None:
        responses.append(
            await call(
                sandbox,
                "repairer.procurements.insert",
                {"job_identity": JOB, "offer_selections": QUICKSTART_SELECTIONS},
            )
        )

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(place)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [422] * 49
    assert all(r.json() == {"type": "unprocessable"} for r in responses if r.status_code == 422)
    assert await references(sandbox) == ["PR-1", "PR-2"]


async def test_two_apps_on_one_file_see_each_other_and_confirm_once(db_path: Path):
    async with asgi_client(db_path) as one, asgi_client(db_path) as two:
        placed = await place_quickstart(one)
        assert await references(two) == ["PR-1", "PR-2"]
        responses: list[httpx2.Response] = []

        async def confirm(client: httpx2.AsyncClient) -> None:
            responses.append(
                await call(
                    client, "supplier.procurements.confirm", {"identity": {"id": placed}}, auth=SUPPLIER
                )
            )

        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(confirm, one if i % 2 else two)
        assert {r.status_code for r in responses} == {200}
        assert await invoice_count(one) == await invoice_count(two) == 1
        more = await call(
            two,
            "repairer.jobs.parts.insert",
            {"job_identity": JOB, "parts": [{"description": "Bonnet", "quantity": 1}]},
        )
        assert more.status_code == 200
        parts = await call(one, "repairer.jobs.parts.list", {"job_identity": JOB})
        assert [p["description"] for p in parts.json()["items"]][-1] == "Bonnet"


async def test_a_placement_and_the_confirm_of_pr1_do_not_lose_each_others_writes(
    sandbox: httpx2.AsyncClient,
):
    async with anyio.create_task_group() as tg:
        tg.start_soon(place_quickstart, sandbox)
        tg.start_soon(
            lambda: call(sandbox, "supplier.procurements.confirm", {"identity": {"id": PR1}}, auth=SUPPLIER)
        )
    assert await references(sandbox) == ["PR-1", "PR-2"]
    assert await invoice_count(sandbox) == 1
    parts = await call(sandbox, "repairer.jobs.parts.list", {"job_identity": JOB})
    ordered = {p["id"] for p in parts.json()["items"] if p["status"] == "ordered"}
    assert ordered == {part(1), part(4), part(6)}


async def test_tenants_keep_their_own_state_when_more_exist_than_the_cache_holds(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("rails_mcp.sandbox.store.CACHED_WORLDS", 2)
    tenants = [f"t{i}" for i in range(5)]
    async with asgi_client(db_path) as client:
        for tenant in tenants[::2]:
            await place_quickstart(client, tenant=tenant)
        for _ in range(2):
            for i, tenant in enumerate(tenants):
                expected = ["PR-1", "PR-2"] if i % 2 == 0 else ["PR-1"]
                assert await references(client, tenant) == expected
