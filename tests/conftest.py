"""Shared fixtures: the anyio backend and an in-process sandbox driven over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from starlette.applications import Starlette

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
