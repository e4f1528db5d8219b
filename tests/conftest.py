"""Shared fixtures: the anyio backend and an in-process sandbox driven over ASGI."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette

from rails_mcp.sandbox import create_app
from tests.support.home_guard import HomeGuard
from tests.support.secret_scan import SCAN
from tests.support.summary import SUMMARY


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "s.db"


@pytest.fixture
def sandbox_app(db_path: Path) -> Starlette:
    """A fresh sandbox on a temporary SQLite file."""
    return create_app(db_path)


@pytest.fixture
async def sandbox(sandbox_app: Starlette) -> AsyncIterator[httpx2.AsyncClient]:
    """An HTTP client bound to ``sandbox_app`` in-process (no socket)."""
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=sandbox_app), base_url="http://sandbox"
    ) as client:
        yield client


# --- the whole suite's secret scan --------------------------------------------------------
# Tool results (through the checked Session and the subprocess tests), real processes'
# outputs, and every log record emitted while the suite runs are scanned for the configured
# keys, the OAuth secrets and minted keys (tests/support/secret_scan.py); a single hit fails
# the run. The summary line reports what was scanned.


#: HOME for the whole run: an empty directory that must still be empty at the end.
HOME = HomeGuard()


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(SCAN)
    HOME.enter()


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger().removeHandler(SCAN)
    HOME.exit()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in SUMMARY:
        terminalreporter.write_line(line)
    terminalreporter.write_line(
        f"secret scan: {SCAN.results} tool results, {SCAN.outputs} process outputs and "
        f"{SCAN.lines} log records scanned, {len(SCAN.hits)} hits"
    )
    for hit in SCAN.hits[:20]:
        terminalreporter.write_line(f"  secret hit: {hit}")
    written = HOME.written()
    terminalreporter.write_line(f"home guard: {len(written)} paths written under HOME ({HOME.home})")
    for path in written[:20]:
        terminalreporter.write_line(f"  written into HOME: {path}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if (SCAN.hits or HOME.written()) and exitstatus == 0:
        session.exitstatus = 1
