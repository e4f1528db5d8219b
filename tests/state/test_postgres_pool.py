"""One Postgres store per process serves many sessions at once: a transaction holding a row lock
does not hold up the others (up to ``RAILS_STATE_POOL_SIZE`` connections), and connections the
server dropped are replaced on the next call, without restarting rails-mcp."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal

import psycopg

from rails_mcp.config import load_settings
from rails_mcp.state import open_state_store, state_store_of
from rails_mcp.state.store import SqlStateStore
from tests.support.postgres import fresh_database

WINDOW = ("tenant-a", 0.0)


@contextmanager
def holding_the_budget_lock(store: SqlStateStore, scope: str = WINDOW[0]) -> Iterator[None]:
    """A transaction (in a thread) that locks a budget window's row, as a reservation does,
    and keeps it until the block ends."""
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.transaction() as execute:
            execute("INSERT INTO budget_windows (scope, window_start) VALUES (?, ?)", (scope, WINDOW[1]))
            execute(store._locking("SELECT 1 FROM budget_windows WHERE scope = ?"), (scope,))  # pyright: ignore[reportPrivateUsage]
            locked.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10), "the lock was never taken"
        yield
    finally:
        release.set()
        holder.join(30)


#: The store's own connections to the test's database (pg_stat_activity).
OURS = "datname = current_database() AND application_name = 'rails-mcp'"


def finishes_within(seconds: float, call: Callable[[], object]) -> tuple[bool, threading.Thread]:
    """Run ``call`` in a thread; whether it finished in time (the thread, to join later)."""
    runner = threading.Thread(target=call)
    runner.start()
    runner.join(seconds)
    return not runner.is_alive(), runner


def connections(url: str) -> int:
    """How many rails-mcp connections the database has open."""
    with psycopg.connect(url, autocommit=True) as admin:
        row = admin.execute(f"SELECT count(*) FROM pg_stat_activity WHERE {OURS}").fetchone()
    assert row is not None
    return int(row[0])


def test_a_reservation_holding_its_lock_does_not_hold_up_other_calls(postgres_url: str):
    url = fresh_database(postgres_url)
    store = open_state_store(url)
    assert isinstance(store, SqlStateStore)
    try:
        with holding_the_budget_lock(store):
            answered, runner = finishes_within(5, lambda: store.spend_approval("n-1", 9e12))
            in_use = connections(url)
        runner.join(30)
        assert answered, "an unrelated call waited for another transaction's lock"
        assert in_use >= 2
        assert store.approval_used("n-1")
    finally:
        store.close()


def test_calls_on_the_same_budget_still_take_turns(postgres_url: str):
    store = open_state_store(fresh_database(postgres_url))
    assert isinstance(store, SqlStateStore)
    try:
        got: list[object] = []
        with holding_the_budget_lock(store):
            answered, runner = finishes_within(
                0.5,
                lambda: got.append(store.reserve_budget(*WINDOW, Decimal(10), Decimal(100), None)),
            )
            assert not answered, "a reservation went ahead while another held its window"
        runner.join(30)
        assert len(got) == 1
    finally:
        store.close()


def test_rails_state_pool_size_caps_the_connections_one_process_holds(postgres_url: str):
    url = fresh_database(postgres_url)
    store = state_store_of(load_settings(state_url=url, state_pool_size=2))
    assert isinstance(store, SqlStateStore)
    try:
        with holding_the_budget_lock(store, "a"), holding_the_budget_lock(store, "b"):
            answered, runner = finishes_within(0.5, lambda: store.approval_used("n-1"))
            assert connections(url) == 2
            assert not answered, "a third connection was opened past RAILS_STATE_POOL_SIZE=2"
        runner.join(30)
        assert not runner.is_alive()
    finally:
        store.close()


def test_connections_the_server_dropped_are_replaced_on_the_next_call(postgres_url: str):
    url = fresh_database(postgres_url)
    store = open_state_store(url)
    assert isinstance(store, SqlStateStore)
    try:
        with holding_the_budget_lock(store):  # two connections in the pool
            store.spend_approval("n-1", 9e12)
        with psycopg.connect(url, autocommit=True) as admin:
            dropped = admin.execute(
                f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE {OURS}"
            ).fetchone()
        assert dropped is not None
        assert dropped[0] >= 1
        assert store.approval_used("n-1")  # the very next call, as after a Postgres restart
        assert store.spend_approval("n-2", 9e12)
        assert connections(url) >= 1
    finally:
        store.close()


def test_a_closed_store_lets_go_of_its_connections(postgres_url: str):
    url = fresh_database(postgres_url)
    store = open_state_store(url)
    assert connections(url) >= 1
    store.close()
    deadline = time.monotonic() + 5  # a backend leaves pg_stat_activity just after its client
    while connections(url) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert connections(url) == 0
