"""Helpers for the MCP tool tests: the seeded world, a checked tool session, a lossy transport.

Every call made through :class:`Session` is checked against what SPEC §3 promises of every
result, success or error: ``is_extension`` is present and true exactly for the extension
tools, extension text opens with the verbatim banner, structuredContent validates against
the tool's published outputSchema (Draft 2020-12), the text repeats the structured content,
and no traceback ever leaks.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from jsonschema import Draft202012Validator
from mcp import Client
from mcp_types import CallToolResult, TextContent, Tool

from rails_mcp.client import Credentials, RailsClient, RetryPolicy
from rails_mcp.config import DEMO_REPAIRER, DEMO_SUPPLIER, Settings, load_settings
from rails_mcp.runtime import open_rails
from rails_mcp.sandbox import create_app
from rails_mcp.server import build_server
from rails_mcp.tools import Rails
from rails_mcp.wire.models import EXTENSION_BANNER
from tests.support.sandbox_support import (  # the seeded world's ids, defined once, re-exported
    AMI as AMI,
)
from tests.support.sandbox_support import (
    JOB as JOB,
)
from tests.support.sandbox_support import (
    JOB_EXTERNAL as JOB_EXTERNAL,
)
from tests.support.sandbox_support import (
    JOB_ID as JOB_ID,
)
from tests.support.sandbox_support import (
    MISSING as MISSING,
)
from tests.support.sandbox_support import (
    PR1 as PR1,
)
from tests.support.sandbox_support import (
    S1 as S1,
)
from tests.support.sandbox_support import (
    S2 as S2,
)
from tests.support.sandbox_support import (
    S3 as S3,
)
from tests.support.sandbox_support import (
    SITE as SITE,
)
from tests.support.sandbox_support import (
    offer as offer,
)
from tests.support.sandbox_support import (
    part as part,
)
from tests.support.secret_scan import scan_result

# --- the seeded world (SPEC §1) -------------------------------------------------------------

OAUTH_CLIENT_SECRET = "secret_demo_8f3a"


def pick(*offers: int, job: Mapping[str, str] = JOB, **extra: Any) -> dict[str, Any]:
    """place_procurement arguments selecting the given seeded offers by sellable_id only."""
    return {"job": dict(job), "offer_selections": [{"sellable_id": offer(n)} for n in offers], **extra}


#: The Quickstart placement: RH headlamp 631.00 + radiator support 468.00, both S1.
QUICKSTART = pick(0x07, 0x0A)
QUICKSTART_TOTAL = "1099.00"

#: SPEC §3, in registration order.
TOOL_NAMES = (
    "prepare_vehicle",
    "list_businesses",
    "list_work_providers",
    "open_repair_job",
    "get_repair_job",
    "identify_parts",
    "list_parts",
    "recommend_basket",
    "place_procurement",
    "list_procurements",
    "track_procurement",
    "confirm_procurement",
    "reconcile_invoice",
)
EXTENSION_TOOLS = frozenset({"place_procurement", "reconcile_invoice"})
READ_TOOLS = frozenset(
    {
        "list_businesses",
        "list_work_providers",
        "get_repair_job",
        "list_parts",
        "recommend_basket",
        "list_procurements",
        "track_procurement",
        "reconcile_invoice",
    }
)
#: The two protocol eras the server must serve: 2025-11-25 initialize and 2026-07-28 discover.
ERAS = ("legacy", "2026-07-28")

ERROR_KEYS = ("code", "message", "fix", "retryable")
#: The end of every result's text: a notice line, then the JSON line between two random-tag markers.
FENCED_DATA = re.compile(r"\n[^\n]*\n<(?P<tag>rails-data-[0-9a-f]{12})>\n(?P<data>\{[^\n]*)\n</(?P=tag)>\Z")


# --- environment ----------------------------------------------------------------------------


def isolate_environment(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """No ``RAILS_*`` from the developer's shell, no stored credential from their config dir."""
    for name in list(os.environ):
        if name.startswith("RAILS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RAILS_CONFIG_DIR", str(root / "config"))


def settings_for(state_dir: Path, tenant: str = "t1", **overrides: Any) -> Settings:
    return load_settings(state_dir=state_dir, tenant=tenant, **overrides)


# --- checked results ------------------------------------------------------------------------


def text_of(result: CallToolResult) -> str:
    assert result.content, "a tool result must carry a text block for hosts that ignore structure"
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def check_result(tool: Tool, result: CallToolResult) -> dict[str, Any]:
    """Assert the SPEC §3 invariants of one result; return its structuredContent."""
    structured = result.structured_content
    assert isinstance(structured, dict), f"{tool.name}: no structuredContent"
    assert structured.get("is_extension") is (tool.name in EXTENSION_TOOLS)
    assert tool.output_schema is not None
    Draft202012Validator(tool.output_schema).validate(structured)
    text = text_of(result)
    for block in result.content:
        assert isinstance(block, TextContent)
        assert "Traceback" not in block.text
        assert 'File "' not in block.text
    if tool.name in EXTENSION_TOOLS:
        assert text.startswith(EXTENSION_BANNER), f"{tool.name}: text must open with the banner"
    # The text repeats the structured content verbatim (as one JSON line), fenced as data at the end.
    embedded = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert structured in embedded, f"{tool.name}: text does not carry the structured content"
    fenced = FENCED_DATA.search(text)
    assert fenced is not None, f"{tool.name}: the structured content is not fenced as data"
    assert json.loads(fenced.group("data")) == structured
    summary = text[: fenced.start()]
    assert summary.strip(), f"{tool.name}: text has no human summary"
    if result.is_error:
        error = structured.get("error")
        assert isinstance(error, dict), f"{tool.name}: an error result needs an error object"
        for key in ERROR_KEYS:
            assert key in error, f"{tool.name}: error lacks {key}"
        assert isinstance(error["retryable"], bool)
        assert error["message"]
        assert error["fix"]
        assert error["code"] in summary
        assert error["fix"] in summary
    else:
        assert "error" not in structured
    return structured


@dataclass
class Session:
    """An MCP client over the server, with the listed tools, checking every result."""

    client: Client
    rails: Rails
    tools: dict[str, Tool]
    results: list[CallToolResult] = field(default_factory=list[CallToolResult])

    async def call(self, name: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
        result = await self.client.call_tool(name, arguments if arguments is not None else {})
        scan_result(name, result)  # the suite's secret scan (tests/support/secret_scan.py)
        self.results.append(result)
        check_result(self.tools[name], result)
        return result

    async def ok(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        result = await self.call(name, arguments)
        assert not result.is_error, f"{name} failed: {text_of(result)}"
        assert result.structured_content is not None
        return result.structured_content

    async def fail(self, name: str, arguments: dict[str, Any] | None = None, code: str | None = None) -> Any:
        """Call expecting an enriched error; return its ``error`` object."""
        result = await self.call(name, arguments)
        assert result.is_error, f"{name} unexpectedly succeeded: {text_of(result)}"
        assert result.structured_content is not None
        error = result.structured_content["error"]
        if code is not None:
            assert error["code"] == code, text_of(result)
        return error

    async def snapshot(self, job: Mapping[str, str] = JOB) -> dict[str, Any]:
        """Everything a refused call must leave untouched, read through the tools."""
        args = {"job": dict(job)}
        return {
            "job": await self.ok("get_repair_job", args),
            "parts": await self.ok("list_parts", args),
            "procurements": await self.ok("list_procurements", args),
            "basket": await self.ok("recommend_basket", args),
        }

    async def procurement_count(self, job: Mapping[str, str] = JOB) -> int:
        return len((await self.ok("list_procurements", {"job": dict(job)}))["procurements"])


@asynccontextmanager
async def session_over(rails: Rails, mode: str = "legacy") -> AsyncIterator[Session]:
    """A checked session over an already built :class:`Rails` (closed afterwards)."""
    try:
        async with Client(build_server(rails), mode=mode) as client:
            listed = await client.list_tools()
            yield Session(client, rails, {t.name: t for t in listed.tools})
    finally:
        await rails.client.aclose()


@asynccontextmanager
async def mcp_session(
    state_dir: Path, mode: str = "legacy", tenant: str = "t1", **overrides: Any
) -> AsyncIterator[Session]:
    """A fresh seeded tenant behind the embedded sandbox, served in-memory."""
    async with session_over(open_rails(settings_for(state_dir, tenant, **overrides)), mode) as s:
        yield s


# --- lost answers ---------------------------------------------------------------------------


def wire_method(request: httpx2.Request) -> str:
    return request.url.path.rsplit("/", 1)[-1]


class LossyTransport(httpx2.AsyncBaseTransport):
    """Forwards to the sandbox, but loses chosen answers with ``httpx2.ReadTimeout``.

    ``lose_after[method] = n``: the next n calls reach the sandbox (and take effect) but
    their answer is lost. ``lose_before[method] = n``: the next n calls are lost before
    the sandbox sees them. ``before[method]``: run once just before the next such call is
    forwarded (another client's write landing first, say).
    """

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.lose_after: dict[str, int] = {}
        self.lose_before: dict[str, int] = {}
        self.before: dict[str, Callable[[], Awaitable[object]]] = {}
        self.reached: list[str] = []

    @staticmethod
    def _take(budget: dict[str, int], method: str) -> bool:
        left = budget.get(method, 0)
        if left <= 0:
            return False
        budget[method] = left - 1
        return True

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        method = wire_method(request)
        if self._take(self.lose_before, method):
            raise httpx2.ReadTimeout(f"lost before {method}", request=request)
        hook = self.before.pop(method, None)
        if hook is not None:
            await hook()
        response = await self.inner.handle_async_request(request)
        self.reached.append(method)
        if self._take(self.lose_after, method):
            await response.aclose()
            raise httpx2.ReadTimeout(f"answer to {method} lost", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def lossy_rails(state_dir: Path, tenant: str = "t1") -> tuple[Rails, LossyTransport]:
    """Tools over the demo credentials whose wire goes through a :class:`LossyTransport`."""
    app = create_app(state_dir / "s.db", idle_reset_seconds=None)
    lossy = LossyTransport(httpx2.ASGITransport(app=app))
    client = RailsClient(
        base_url="http://lossy.invalid",
        repairer=Credentials(*DEMO_REPAIRER),
        supplier=Credentials(*DEMO_SUPPLIER),
        tenant=tenant,
        transport=lossy,
        retry=RetryPolicy(attempts=3, timeout=5.0, wait_initial=0.01, wait_max=0.02),
    )
    return Rails(client), lossy
