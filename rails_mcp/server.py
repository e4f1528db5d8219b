"""The MCP server: a lowlevel SDK ``Server`` publishing the thirteen :class:`ToolDef` s.

The lowlevel server (public API only) because rails-mcp publishes schemas generated from its
own pydantic models and validates arguments itself: a wrong argument must come back as an
enriched tool error the agent can act on, never as a protocol error or SDK text. Each output
schema admits both the success shape and the error shape, because hosts such as the MCP
Inspector validate error results against it too.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, cast, get_args

from mcp import MCPDeprecationWarning
from mcp.server import Server, ServerRequestContext
from mcp.server.caching import CacheableMethod, CacheHint
from mcp_types import (
    CallToolRequestParams,
    CallToolResult,
    DiscoverResult,
    EmptyResult,
    Icon,
    InputRequiredResult,
    ListToolsResult,
    LoggingLevel,
    PaginatedRequestParams,
    RequestParams,
    ServerCapabilities,
    SetLevelRequestParams,
    TextContent,
    Tool,
)
from mcp_types.version import KNOWN_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, ValidationError

from rails_mcp import __version__
from rails_mcp.approval import ApprovalGate
from rails_mcp.audit import AuditLog
from rails_mcp.auth.identity import current_principal, granted_scopes
from rails_mcp.controls import Controls
from rails_mcp.errors import ToolError, ToolFailure, arguments_error, internal_error
from rails_mcp.governance import CallRecord, Governance
from rails_mcp.paging import NextCursor, PageInput, Window, cursor_key, paged_count, single_page
from rails_mcp.present import ApprovalOutcome, OrderForApproval
from rails_mcp.resources import INSTRUCTIONS, ResourceHub
from rails_mcp.state import Ledger
from rails_mcp.telemetry import serve_metrics
from rails_mcp.tools import (
    TOOLS,
    InputNeeded,
    Rails,
    ToolContext,
    ToolDef,
)
from rails_mcp.tools.correct import corrected
from rails_mcp.tools.declare import ALL_SCOPES, scope_of
from rails_mcp.tools.lookup import closest_tool, remember
from rails_mcp.tools.publish import published
from rails_mcp.ui import advertise_apps
from rails_mcp.wire.budget import CHARS_PER_TOKEN, DEFAULT_TOKEN_BUDGET, fit, json_text
from rails_mcp.wire.codes import ErrorCode
from rails_mcp.wire.models import EXTENSION_BANNER
from rails_mcp.wire.untrusted import fence, one_line, quote, safe_json

__all__ = ["INSTRUCTIONS", "build_server", "execute", "unknown_tool_result"]

log = logging.getLogger("rails_mcp.server")

WEBSITE_URL = "https://github.com/partly-rails/rails-mcp"
ICON = Icon(
    src="data:image/svg+xml;base64,"
    "PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHZpZXdCb3g9IjAgMCAxNiAxNiI+PHBhdGggZD0iTTMg"
    "MWgydjE0SDN6TTExIDFoMnYxNGgtMnpNMSA0aDE0djJIMXpNMSAxMGgxNHYySDF6IiBmaWxsPSIjMzM0In0+PC9zdmc+",
    mime_type="image/svg+xml",
    sizes=["any"],
)


# --- results -----------------------------------------------------------------------------------


def _prose(text: str) -> str:
    """The server's own sentence as one visible line: wire values in it are already quoted
    copies; this keeps a stray newline or invisible character from splitting or hiding it."""
    return one_line(text, limit=_MAX_PROSE)


#: Generous: a summary or a fix is a few sentences; anything longer is cut with an ellipsis.
_MAX_PROSE = 4000


def _text(summary: str, line: str) -> str:
    """The server's summary, then the structured content (``line``, its JSON) as data, inside a fence.

    The JSON keeps every value exact (a client that parses it gets the wire's strings back);
    ``safe_json`` writes invisible characters and markup openers as escapes, so nothing in it
    renders or hides, and the fence's random tag marks where the wire's text starts and ends.
    """
    return f"{summary}\n{fence(safe_json(line))}"


def _error_result(extension: bool, info: ToolError) -> CallToolResult:
    info = info.model_copy(update={"message": _prose(info.message), "fix": _prose(info.fix)})
    structured: dict[str, Any] = {"is_extension": extension, "error": info.public()}
    lead = f"{EXTENSION_BANNER}\n" if extension else ""
    summary = f"{lead}Error {info.code}: {info.message} Fix: {info.fix}"
    return _shaped(summary, structured, DEFAULT_TOKEN_BUDGET, "Narrow the call.", is_error=True)


#: How to get what a cut left out, for a tool without a cursor: the resource or a narrower call.
_REST: dict[str, str] = {
    "identify_parts": "list_parts lists every part of the job.",
    "list_parts": "Read rails://jobs/{external}/parts for the job's parts.",
    "recommend_basket": "Read rails://jobs/{external}/basket for the whole basket.",
    "prepare_vehicle": "Send fewer identifiers per call to see every invalid one.",
    "track_procurement": "Read rails://procurements/{id}/events.",
    "reconcile_invoice": "Read rails://procurements/{id}/invoices.",
}


def _rest(tool: ToolDef[Any, Any]) -> str:
    """How to get the rest of a cut result of ``tool``: its cursor when it has one."""
    if "cursor" in tool.input_model.model_fields:
        return f"Call {tool.name} again with the next_cursor it returns, or a smaller limit."
    return _REST.get(tool.name, "Narrow the call (a filter or fewer items).")


#: Told the result before and after a budget cut (a paged tool moves its next_cursor).
OnCut = Callable[[dict[str, Any], dict[str, Any]], None]
#: Room kept for a next_cursor a cut page gains (an issued cursor is 27 characters).
_CURSOR_ROOM = 64


def _continue_after_cut(tool: ToolDef[Any, Any], ctx: ToolContext, args: BaseModel) -> OnCut | None:
    """For a paged tool: when the budget cut its page short, the next page starts right after
    the last item shown, so paging still returns every item exactly once."""
    if not isinstance(args, PageInput):
        return None
    window = Window.of(tool.name, args, cursor_key(ctx.rails.client))  # the tool accepted its cursor
    output = cast("type[BaseModel]", tool.output_model)
    paged = output.paged_items if issubclass(output, NextCursor) else None

    def moved(before: dict[str, Any], after: dict[str, Any]) -> None:
        if paged is not None:  # the window counts these items only, wherever they stand
            shown = paged_count(after, paged)
            if shown < paged_count(before, paged):
                after["next_cursor"] = window.encode(window.start + shown)
            return
        for key, items in before.items():
            kept: object = after.get(key)
            if not (isinstance(items, list) and isinstance(kept, list)):
                continue
            shown = len(cast("list[Any]", kept))
            if shown < len(cast("list[Any]", items)):
                after["next_cursor"] = window.encode(window.start + shown)
                return

    return moved


def _shaped(
    summary: str,
    structured: dict[str, Any],
    budget: int,
    rest: str,
    *,
    is_error: bool = False,
    on_cut: OnCut | None = None,
) -> CallToolResult:
    """The one place a result is built: summary, fenced data, and the token budget kept.

    A result whose text block and structured content together exceed ``budget`` tokens loses
    items from its longest lists until it fits; ``truncated`` and the summary then say what
    was cut and how to get the rest, so nothing goes missing silently.
    """
    limit = budget * CHARS_PER_TOKEN

    def said(value: dict[str, Any]) -> str:
        note = value.get("truncated")
        return f"{summary}\n{note}" if note else summary

    uncut: list[str] = []  # the text measured for the result as given: reused when nothing is cut

    def size(value: dict[str, Any]) -> int:
        line = json_text(value)  # once: the text block's data and the structured content alike
        text = _text(said(value), line)
        if value is structured and not uncut:
            uncut.append(text)
        return len(text) + len(line)

    fitted = fit(structured, size, limit - (_CURSOR_ROOM if on_cut else 0), rest, budget)
    if fitted is structured:
        text = uncut[0]
    else:
        if on_cut is not None:
            on_cut(structured, fitted)
        text = _text(said(fitted), json_text(fitted))
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=fitted, is_error=is_error
    )


async def execute(
    tool: ToolDef[Any, Any], ctx: ToolContext, arguments: dict[str, Any], budget: int = DEFAULT_TOKEN_BUDGET
) -> CallToolResult | InputRequiredResult:
    """Validate, run, and shape one tool call. Nothing raised here reaches the client."""
    try:
        args = tool.input_model.model_validate(arguments)
    except ValidationError as exc:
        info = await corrected(tool, ctx, arguments, arguments_error(tool.input_model, arguments, exc))
        log.info("tool %s refused arguments: %s at %s", tool.name, info.code, info.field)
        return _error_result(tool.extension, info)
    try:
        reply = await tool.handler(ctx, args)
    except InputNeeded as needed:
        return needed.result
    except ToolFailure as failure:
        log.info("tool %s failed: %s", tool.name, failure.info.code)
        return _error_result(tool.extension, await corrected(tool, ctx, arguments, failure.info))
    except Exception:
        log.exception("tool %s raised unexpectedly", tool.name)
        return _error_result(tool.extension, internal_error(tool.name))
    remember(ctx, args)
    output = cast("BaseModel", reply.output)
    data = output.model_dump(mode="json", include=output.model_fields_set - {"is_extension", "error"})
    structured = {"is_extension": tool.extension, **data}
    summary = _prose(reply.summary)
    summary = f"{EXTENSION_BANNER}\n{summary}" if tool.extension else summary
    return _shaped(summary, structured, budget, _rest(tool), on_cut=_continue_after_cut(tool, ctx, args))


def unknown_tool_result(name: str, known: list[str]) -> CallToolResult:
    """An unknown tool name is a structured error naming the closest real tool."""
    close = closest_tool(name, known)
    info = ToolError(
        code=ErrorCode.UNKNOWN_TOOL,
        message=f"There is no tool named {quote(name, 80)}.",
        fix=f"Call one of the listed tools; the closest is {close}." if close else "Call a listed tool.",
        retryable=False,
        valid_values=known,
        did_you_mean=close,
    )
    return _error_result(False, info)


# --- log notifications: wire calls at debug, wire errors at warning ------------------------------

_LEVELS: tuple[LoggingLevel, ...] = get_args(LoggingLevel)
_WIRE_LOGGER = logging.getLogger("rails_mcp.client")
#: The wire log lines of the tool call running in this task (None outside a call).
_CAPTURE: ContextVar[list[tuple[LoggingLevel, str]] | None] = ContextVar("rails_mcp_wire_log", default=None)


class _CaptureWireCalls(logging.Filter):
    """Copies the client's wire-call records into the running call's buffer, then lets through
    to the process log exactly what the ``rails_mcp`` logger's own level would have."""

    def filter(self, record: logging.LogRecord) -> bool:
        sink = _CAPTURE.get()
        if sink is not None:
            sink.append(("warning" if record.levelno >= logging.WARNING else "debug", record.getMessage()))
        return record.levelno >= logging.getLogger("rails_mcp").getEffectiveLevel()


_CAPTURE_FILTER = _CaptureWireCalls()


def _capture_wire_calls() -> None:
    """Route the client's records through the filter (it keeps the process log as configured)."""
    if _CAPTURE_FILTER not in _WIRE_LOGGER.filters:
        _WIRE_LOGGER.addFilter(_CAPTURE_FILTER)


class _DebugWhileAsked:
    """The wire logger goes to DEBUG only while some call's client wants debug lines.

    A debug record costs a LogRecord on every wire call; nobody asked, none is made.
    """

    def __init__(self) -> None:
        self.calls = 0

    def __enter__(self) -> None:
        self.calls += 1
        _WIRE_LOGGER.setLevel(logging.DEBUG)

    def __exit__(self, *_: object) -> None:
        self.calls -= 1
        if self.calls == 0:
            _WIRE_LOGGER.setLevel(logging.NOTSET)  # back to what the process log configured


_DEBUG_WHILE_ASKED = _DebugWhileAsked()


def _wants_debug(ctx: ServerRequestContext[Any]) -> bool:
    """Whether this call's client may receive debug log lines (see :func:`_send_logs`)."""
    return _log_floor(ctx) == "debug"


def _log_floor(ctx: ServerRequestContext[Any]) -> LoggingLevel | None:
    """The lowest level this call's client receives; None: no log notifications at all."""
    if not _has_logging(ctx.protocol_version):
        return None
    return cast("dict[str, Any]", ctx.lifespan_context).get("log_level")


async def _send_logs(ctx: ServerRequestContext[Any], lines: list[tuple[LoggingLevel, str]]) -> None:
    """Log notifications at or above the level the client set (none before it sets one)."""
    floor = _log_floor(ctx)
    if floor is None:
        return
    for level, text in lines:
        if _LEVELS.index(level) < _LEVELS.index(floor):
            continue
        with warnings.catch_warnings():  # logging is deprecated in 2026-07-28; sent only before it
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await ctx.session.send_log_message(  # pyright: ignore[reportDeprecated]
                level, {"message": text}, logger="rails_mcp.wire"
            )


@asynccontextmanager
async def _lifespan(_: Server[Any]) -> AsyncGenerator[dict[str, Any]]:
    """Per-connection state: the log level the client set with ``logging/setLevel``."""
    yield {"log_level": None}


# --- what each protocol era is told: capabilities and cache hints -------------------------------


def _has_logging(protocol_version: str | None) -> bool:
    """Whether the era has logging: the handshake eras (2025-11-25 and before) do; 2026-07-28
    deprecates it, so its clients are neither offered the capability nor sent log lines."""
    return protocol_version not in MODERN_PROTOCOL_VERSIONS


def _capabilities_for(server: Server[Any], protocol_version: str | None) -> ServerCapabilities:
    """The server's capabilities as ``protocol_version`` is told them.

    The SDK's lowlevel ``Server`` derives ``logging`` from the registered
    ``logging/setLevel`` handler for every version; this is the one seam that withholds it
    from an era without logging (``server/discover``; the legacy handshake keeps the SDK's).
    """
    capabilities = server.get_capabilities(protocol_version=protocol_version)
    if _has_logging(protocol_version):
        return capabilities
    return capabilities.model_copy(update={"logging": None})


#: Only 2026-07-28 results carry cache hints (the SDK leaves them off older eras' results).
#: The tool list changes only with a new server version or a restart under other settings
#: (the allow-list, read-only), and may differ per caller's authorization, so it is
#: ``private``; five minutes bounds how long a client shows a list a restart changed. The
#: prompts, the guides and the resource listings set their own (see rails_mcp.resources);
#: every read from the wire is ``private`` with ``ttlMs: 0``.
_CACHE_HINTS: dict[CacheableMethod, CacheHint] = {"tools/list": CacheHint(ttl_ms=300_000, scope="private")}


# --- the server --------------------------------------------------------------------------------

_OUR_SCOPES = frozenset(ALL_SCOPES)


class _ToolHandlers:
    """``tools/list`` and ``tools/call`` for one server: governance first, then the tool."""

    def __init__(
        self,
        rails: Rails,
        hub: ResourceHub,
        governance: Governance,
        tools: Sequence[ToolDef[Any, Any]],
        budget: int = DEFAULT_TOKEN_BUDGET,
    ) -> None:
        self.budget = budget
        self.rails = rails
        self.hub = hub
        self.governance = governance
        self.by_name = {tool.name: tool for tool in tools}
        self.visible = [tool.name for tool in tools if governance.lists(tool)]
        self.listed = [published(tool) for tool in tools if governance.lists(tool)]
        self._scoped: dict[frozenset[str], tuple[list[str], list[Tool]]] = {}

    async def list_tools(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        single_page("tools/list", params)
        return ListToolsResult(tools=self._offered()[1])

    def _offered(self) -> tuple[list[str], list[Tool]]:
        """The tools this request may call: all listed ones, or those its access token's scopes cover."""
        granted = granted_scopes()
        if granted is None:
            return self.visible, self.listed
        granted &= _OUR_SCOPES  # at most sixteen combinations to remember
        offered = self._scoped.get(granted)
        if offered is None:
            pairs = [
                (name, listed)
                for name, listed in zip(self.visible, self.listed, strict=True)
                if scope_of(self.by_name[name]) in granted
            ]
            offered = self._scoped[granted] = ([n for n, _ in pairs], [t for _, t in pairs])
        return offered

    def _scope_refusal(self, tool: ToolDef[Any, Any]) -> ToolError | None:
        """A tool beyond the access token's scopes is refused (the HTTP layer answers 403 first)."""
        granted = granted_scopes()
        needed = scope_of(tool)
        if granted is None or needed in granted:
            return None
        return ToolError(
            code=ErrorCode.TOOL_NOT_ALLOWED,
            message=f"This access token does not grant {needed}, which {tool.name} needs; nothing was run.",
            fix=f"Ask the authorization server for a token with the scope {needed}, or use a listed tool.",
            retryable=False,
            valid_values=self._offered()[0],
        )

    async def call_tool(
        self, ctx: ServerRequestContext[Any], params: CallToolRequestParams
    ) -> CallToolResult | InputRequiredResult:
        tool = self.by_name.get(params.name)
        visible = self._offered()[0]
        if tool is None:
            return unknown_tool_result(params.name, visible)
        arguments = dict(params.arguments or {})
        # The token's scopes, read-only mode, the allow-list and a bad returned approval state
        # refuse here, before the tool reads anything; the record becomes the call's audit line.
        principal = current_principal()
        beyond_scope = self._scope_refusal(tool)
        if beyond_scope is not None:
            record = CallRecord(
                tool.name,
                arguments,
                ctx.protocol_version,
                refusal=beyond_scope,
                transport=self.governance.transport,
                principal=principal,
            )
        else:
            record = await self.governance.open_call(ctx, tool, arguments, params, visible, principal)
        lines: list[tuple[LoggingLevel, str]] = []
        if record.refusal is not None:
            log.info("tool %s refused before it ran: %s", tool.name, record.refusal.code)
            result: CallToolResult | InputRequiredResult = _error_result(tool.extension, record.refusal)
        elif record.replay is not None:  # an idempotency key's first result, nothing run again
            result = record.replay
        else:
            result = await self._run(ctx, tool, arguments, record.approve_order, lines)
        await self.governance.settle(record, result)
        await self.governance.record(record, result)
        _note_wire_failure(tool.name, result, lines)
        await _send_logs(ctx, lines)
        return result

    async def _run(
        self,
        ctx: ServerRequestContext[Any],
        tool: ToolDef[Any, Any],
        arguments: dict[str, Any],
        approve_order: Callable[[OrderForApproval], Awaitable[ApprovalOutcome]],
        lines: list[tuple[LoggingLevel, str]],
    ) -> CallToolResult | InputRequiredResult:
        """Run the tool with the wire's log lines of this call collected into ``lines``."""
        context = ToolContext(
            rails=self.rails,
            request=ctx,
            protocol_version=ctx.protocol_version,
            hub=self.hub,
            approve_order=approve_order,
            max_order_total=self.governance.max_order_total,
        )
        token = _CAPTURE.set(lines)
        try:
            with _DEBUG_WHILE_ASKED if _wants_debug(ctx) else contextlib.nullcontext():
                return await execute(tool, context, arguments, self.budget)
        finally:
            _CAPTURE.reset(token)


def _note_wire_failure(
    tool: str, result: CallToolResult | InputRequiredResult, lines: list[tuple[LoggingLevel, str]]
) -> None:
    """A call the wire failed ends with one warning line naming the wire method and the code."""
    structured: dict[str, Any] = (
        (result.structured_content or {}) if isinstance(result, CallToolResult) else {}
    )
    error: object = structured.get("error")
    if isinstance(error, dict) and "wire_method" in error:
        failed = cast("dict[str, Any]", error)
        lines.append(("warning", f"{tool}: {failed['wire_method']} failed with {failed['code']}"))


async def _set_level(ctx: ServerRequestContext[Any], params: SetLevelRequestParams) -> EmptyResult:
    cast("dict[str, Any]", ctx.lifespan_context)["log_level"] = params.level
    return EmptyResult()


def build_server(
    rails: Rails,
    *,
    tools: Sequence[ToolDef[Any, Any]] = TOOLS,
    hub: ResourceHub | None = None,
    controls: Controls | None = None,
    approval: ApprovalGate | None = None,
    audit: AuditLog | None = None,
    transport: str = "in-memory",
    result_token_budget: int = DEFAULT_TOKEN_BUDGET,
    ledger: Ledger | None = None,
) -> Server[Any]:
    """A lowlevel SDK ``Server`` with ``tools`` over ``rails``, ready for any transport.

    ``hub`` (made here when not given) adds the resources, templates, the ``get_started``
    prompt and resource subscriptions, and keeps each procurement's event history.
    ``controls`` (read-only, allow-list, spending limit), ``approval`` (the human-approval
    gate; ``None`` = approval off) and ``audit`` (one JSON line per tool call) govern what
    the agent may do; ``transport`` is what the audit log records. ``result_token_budget``
    bounds every tool result and resource read (see :mod:`rails_mcp.wire.budget`). ``ledger``
    (budgets and idempotency keys on the shared state store) governs placements; ``None``: neither.
    """
    hub = hub if hub is not None else ResourceHub(rails.client, suppliers=rails.suppliers, store=rails.store)
    governance = Governance(rails, controls or Controls(), approval, audit, transport, ledger)
    hub.readers.token_budget = result_token_budget
    handlers = _ToolHandlers(rails, hub, governance, tools, result_token_budget)
    _capture_wire_calls()
    server: Server[Any] = Server(
        "rails-mcp",
        title="Rails parts ordering",
        version=__version__,
        instructions=INSTRUCTIONS,
        website_url=WEBSITE_URL,
        icons=[ICON],
        lifespan=_lifespan,
        cache_hints=_CACHE_HINTS,
        on_list_tools=handlers.list_tools,
        on_call_tool=handlers.call_tool,
    )

    async def discover(ctx: ServerRequestContext[Any], params: RequestParams) -> DiscoverResult:
        return DiscoverResult(
            supported_versions=list(KNOWN_PROTOCOL_VERSIONS),
            capabilities=_capabilities_for(server, ctx.protocol_version),
            instructions=INSTRUCTIONS,
        )

    # The SDK's OpenTelemetry middleware, in ``server.middleware`` by default, spans each MCP
    # request; each wire call a tool makes is a child span (rails_mcp.telemetry).
    serve_metrics(server, rails.client.metrics)
    rails.client.metrics.budget_remaining = ledger.remaining if ledger is not None else None
    server.add_request_handler("logging/setLevel", SetLevelRequestParams, _set_level)
    server.add_request_handler("server/discover", RequestParams, discover)
    hub.register(server)
    advertise_apps(server)
    return server
