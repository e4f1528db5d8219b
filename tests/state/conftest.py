"""The state tests run on both backends: SQLite (a file in the test's dir) and Postgres."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rails_mcp.state import open_state_store
from rails_mcp.state.store import SqlStateStore
from tests.support.postgres import fresh_database, postgres_cluster


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One throwaway Postgres cluster for the session."""
    with postgres_cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def state_location(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a store lives: a fresh SQLite file, or a fresh Postgres database."""
    if request.param == "sqlite":
        return tmp_path / "state.sqlite3"
    return fresh_database(request.getfixturevalue("postgres_url"))


@pytest.fixture
def open_store(state_location: str | Path) -> Iterator[Callable[[], SqlStateStore]]:
    """Open another connection to the same store (a replica, or a process after a restart)."""
    opened: list[SqlStateStore] = []

    def open_one() -> SqlStateStore:
        store = open_state_store(state_location)
        assert isinstance(store, SqlStateStore)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()
