"""Shared fixtures: the anyio backend and an in-process sandbox driven over ASGI."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp_types import CallToolResult
from starlette.applications import Starlette

from rails_mcp.config import DEMO_REPAIRER, DEMO_SUPPLIER
from rails_mcp.sandbox import create_app


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
# Every tool result any test receives (in-process or from a real server process) and every
# log record emitted while the suite runs is scanned for the configured keys and the OAuth
# secrets; a single hit fails the run. The summary line reports what was scanned.

_SECRETS = (
    DEMO_REPAIRER[0],
    DEMO_SUPPLIER[0],
    "secret_demo_8f3a",
    "secret_legacy_0000",
)
#: A key minted by integrations.insert: "partly_" + 32 hex. No result or log may carry one.
_MINTED_KEY = re.compile(r"partly_[0-9a-f]{32}")


class _SecretScan(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.results = 0
        self.lines = 0
        self.hits: list[str] = []

    def scan(self, where: str, text: str) -> None:
        for secret in _SECRETS:
            if secret in text:
                self.hits.append(f"{where}: contains {secret[:7]}…")
        if _MINTED_KEY.search(text):
            self.hits.append(f"{where}: contains a minted api_key")

    def emit(self, record: logging.LogRecord) -> None:
        self.lines += 1
        try:
            text = self.format(record)
        except Exception:
            text = str(record.msg)
        self.scan(f"log {record.name}", text)


_SCAN = _SecretScan()


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(_SCAN)
    original = Client.call_tool

    async def scanned_call_tool(self: Client, *args: Any, **kwargs: Any) -> CallToolResult:
        result = await original(self, *args, **kwargs)
        _SCAN.results += 1
        _SCAN.scan(f"result of {args[0] if args else kwargs.get('name')}", result.model_dump_json())
        return result

    Client.call_tool = scanned_call_tool  # type: ignore[method-assign]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(
        f"secret scan: {_SCAN.results} tool results and {_SCAN.lines} log records scanned, "
        f"{len(_SCAN.hits)} hits"
    )
    for hit in _SCAN.hits[:20]:
        terminalreporter.write_line(f"  secret hit: {hit}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _SCAN.hits and exitstatus == 0:
        session.exitstatus = 1
