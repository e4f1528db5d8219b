"""The sandbox as a Starlette ASGI app: HTTP edges, auth, tenants, and one error renderer.

Everything about the wire that is not a business rule lives here: which path is a method,
which status a refusal gets, how its body is spelled (``{"type": code}``, or a bare string
for ``repairer.jobs.parts.insert``, as the vendor's decision D24 has it), the two auth headers
and the tenant header. The rules themselves are tabled in ``rules.py``; storage is in ``store.py``.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
import sqlite3
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from rails_mcp.sandbox import uploads
from rails_mcp.sandbox.discrepancy import DiscrepancyRoute
from rails_mcp.sandbox.llms import llms_full_txt, llms_txt
from rails_mcp.sandbox.openapi import extensions_document, public_document
from rails_mcp.sandbox.outbox import DEFAULT_BACKOFF, Deliverer, enqueue, has_pending
from rails_mcp.sandbox.rules import RULES, Rule
from rails_mcp.sandbox.store import DEFAULT_TENANT, Store, is_valid_tenant
from rails_mcp.sandbox.webhooks import WebhookRoutes
from rails_mcp.sandbox.world import Call, World, authenticate
from rails_mcp.wire import errors as e
from rails_mcp.wire import limits
from rails_mcp.wire.methods import API_VERSION, METHODS, MethodSpec

__all__ = ["Sandbox", "create_app", "error_response"]

log = logging.getLogger(__name__)

_JSON = "application/json"
_JSON_SUFFIX = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+\+json")
#: ``last_active`` is refreshed at most this often, so reads almost never write.
_TOUCH_INTERVAL = 5.0


def _json_response(body: bytes | str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=_JSON, headers=headers)


def error_response(error: e.RailsAPIError, *, bare: bool, headers: dict[str, str] | None = None) -> Response:
    """The one place a refusal becomes HTTP: ``{"type": code}``, or a bare ``"code"``.

    The bare string is for the methods the vendor's decision D24 gives string errors.
    """
    body: object = error.wire_code if bare else {"type": error.wire_code}
    if headers is None and isinstance(error, e.MethodNotAllowed):
        headers = {"Allow": "POST"}
    return _json_response(json.dumps(body, separators=(",", ":")), error.status, headers)


#: What ``curl -d`` labels a body when no Content-Type is given. The body is parsed as JSON
#: either way, so a curl line that forgot ``-H Content-Type`` still gets the wire's answer.
_CURL_DEFAULT = "application/x-www-form-urlencoded"


def _is_json_media_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in {_JSON, _CURL_DEFAULT} or _JSON_SUFFIX.fullmatch(media) is not None


class Sandbox:
    """One sandbox: a store, its policies (idle reset, body cap), and the request pipeline."""

    def __init__(
        self,
        store: Store,
        *,
        idle_reset_seconds: float | None,
        max_body_bytes: int,
        clock: Callable[[], float],
        deliverer: Deliverer,
    ) -> None:
        self.store = store
        self.deliverer = deliverer
        self.idle_reset_seconds = idle_reset_seconds
        self.max_body_bytes = max_body_bytes
        self.clock = clock
        self._touch_interval = (
            _TOUCH_INTERVAL if idle_reset_seconds is None else min(_TOUCH_INTERVAL, idle_reset_seconds / 4)
        )
        self._touched: dict[str, float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI endpoint of ``/api/2026-01/{method}`` (every HTTP method lands here)."""
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        name = str(request.path_params.get("method", ""))
        spec, rule = METHODS.get(name), RULES.get(name)
        if spec is None or rule is None:
            return error_response(e.NotFound(), bare=False)
        try:
            return await self._answer(request, spec, rule)
        except e.RailsAPIError as error:
            return error_response(error, bare=spec.bare_string_errors)
        except Exception:
            log.exception("sandbox bug while answering %s", name)
            return error_response(e.ServerError(), bare=spec.bare_string_errors)

    async def _answer(self, request: Request, spec: MethodSpec, rule: Rule) -> Response:
        if request.method != "POST":
            raise e.MethodNotAllowed()
        tenant = self._tenant(request)
        now = self.clock()
        world = await self._world(tenant, now)
        # Credentials first: a caller without them learns nothing else, and no body is read.
        try:
            caller = authenticate(
                world,
                request.headers.get("authorization"),
                request.headers.get("partly-integration-id"),
                spec.scope,
            )
        except e.Forbidden:
            # A method whose documented error union has no ``forbidden`` (tier1.prepare:
            # ``unauthorized`` only) refuses a wrong-scope credential as ``unauthorized``.
            if "forbidden" in spec.errors:
                raise
            raise e.Unauthorized() from None
        content_type = request.headers.get("content-type")
        if content_type and not _is_json_media_type(content_type):
            raise e.UnsupportedMediaType()
        body = await self._read_body(request)
        if not body.strip() and not spec.request.model_fields:
            body = b"{}"  # "Empty request body" (the vendor's documents): an absent body is the empty request
        try:
            payload = spec.request.model_validate_json(body)
        except ValidationError:
            raise e.BadRequest(detail="the body is not a valid " + spec.request.__name__) from None
        call = Call(caller=caller, now=now, base_url=str(request.base_url), upload_key=self.store.upload_key)
        if rule.writes:

            def change(w: World) -> BaseModel:
                return rule.handle(w, call, payload)

            def outbox(conn: sqlite3.Connection, w: World) -> None:
                enqueued.append(enqueue(conn, tenant, w, call.events, now))

            enqueued: list[int] = []
            result = await anyio.to_thread.run_sync(self.store.transact, tenant, now, change, outbox)
            if any(enqueued):
                self.deliverer.kick()  # returns at once: delivery never delays this answer
        else:
            result = rule.handle(world, call, payload)
        return _json_response(result.model_dump_json())

    async def world_of(self, tenant: str) -> World:
        """The tenant's current world (seeded on first use), for the dev routes."""
        return await self._world(tenant, self.clock())

    @staticmethod
    def tenant_of(request: Request) -> str:
        return Sandbox._tenant(request)

    @staticmethod
    def _tenant(request: Request) -> str:
        header = request.headers.get("x-partifact-tenant")
        if header is None:
            return DEFAULT_TENANT
        if not is_valid_tenant(header):
            raise e.BadRequest(detail=f"x-partifact-tenant must be {limits.TENANT_RULE}")
        return header

    async def _read_body(self, request: Request) -> bytes:
        """The body, refused as soon as it exceeds the cap, whatever Content-Length claims."""
        limit = self.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise e.PayloadTooLarge()
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise e.PayloadTooLarge()
                chunks.append(chunk)
        except ClientDisconnect:  # nobody is left to answer; not a bug of ours
            raise e.BadRequest(detail="the client went away mid-body") from None
        return b"".join(chunks)

    async def _world(self, tenant: str, now: float) -> World:
        """The tenant's world for this call: seeded on first use, reset when idle too long."""
        store = self.store
        state = store.peek(tenant)
        idle = self.idle_reset_seconds
        if state is None or (idle is not None and now - state.last_active >= idle):
            await anyio.to_thread.run_sync(store.ensure_fresh, tenant, now, idle)
            state = store.peek(tenant)
            if state is None:  # pragma: no cover - ensure_fresh always leaves a row
                raise e.ServerError(detail="tenant vanished")
        elif (
            now - state.last_active >= self._touch_interval
            and now - self._touched.get(tenant, -math.inf) >= self._touch_interval
        ):
            if len(self._touched) > 4096:  # forget old tenants; worst case, one extra touch
                self._touched.clear()
            self._touched[tenant] = now
            await anyio.to_thread.run_sync(store.touch, tenant, now)
        return store.world(tenant, state.version)


@functools.cache
def _rendered_json(build: Callable[[], dict[str, Any]]) -> bytes:
    return json.dumps(build(), ensure_ascii=False, indent=2).encode()


@functools.cache
def _rendered_text(build: Callable[[], str]) -> bytes:
    return build().encode()


def _static_json(build: Callable[[], dict[str, Any]]) -> Callable[[Request], Awaitable[Response]]:
    """Rendered on first request, once per process: creating an app stays cheap."""

    async def endpoint(request: Request) -> Response:
        return _json_response(_rendered_json(build))

    return endpoint


def _static_text(build: Callable[[], str]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return Response(_rendered_text(build), media_type="text/plain; charset=utf-8")

    return endpoint


async def _healthz(request: Request) -> Response:
    return _json_response(json.dumps({"status": "ok", "api_version": API_VERSION}, separators=(",", ":")))


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (paths outside the API) in the wire's error shape."""
    if not isinstance(exc, HTTPException):
        return await _server_error(request, exc)
    error: e.RailsAPIError = {
        404: e.NotFound,
        405: e.MethodNotAllowed,
    }.get(exc.status_code, e.ServerError)()
    return error_response(error, bare=False, headers=dict(exc.headers or {}) or None)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error outside the API pipeline", exc_info=exc)
    return error_response(e.ServerError(), bare=False)


def _routes(
    sandbox: Sandbox, hooks: WebhookRoutes, upload_routes: uploads.UploadRoutes, dev: DiscrepancyRoute
) -> list[Route]:
    """Every path the sandbox answers: the API, its documents, the webhook, upload and dev routes."""
    return [
        Route(f"/api/{API_VERSION}/{{method:path}}", sandbox),
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/openapi.json", _static_json(public_document), methods=["GET"]),
        Route("/openapi.extensions.json", _static_json(extensions_document), methods=["GET"]),
        Route("/llms.txt", _static_text(llms_txt), methods=["GET"]),
        Route("/llms-full.txt", _static_text(llms_full_txt), methods=["GET"]),
        *hooks.routes(),
        *dev.routes(),
        Route("/uploads/{upload_id}", upload_routes.put, methods=["PUT"]),
        Route("/uploads/{upload_id}", upload_routes.get, methods=["GET"]),
    ]


def create_app(
    db_path: str | Path,
    *,
    idle_reset_seconds: float | None = 3600.0,
    max_body_bytes: int = 1_048_576,
    clock: Callable[[], float] = time.time,
    webhook_backoff: Sequence[float] = DEFAULT_BACKOFF,
    webhook_timeout: float = 5.0,
    max_upload_bytes: int = uploads.MAX_UPLOAD_BYTES,
) -> Starlette:
    """The embedded Rails sandbox as an ASGI app over the SQLite file ``db_path``.

    Works without lifespan events (the store opens here), so it can be driven in-process by
    ``httpx2.ASGITransport``. ``":memory:"`` keeps everything in memory, for one app only.
    ``idle_reset_seconds=None`` never resets an idle tenant; ``clock`` is injectable so
    tests can age a tenant without waiting. ``webhook_backoff`` is the wait after each failed
    delivery attempt (its length + 1 attempts in all); ``webhook_timeout`` bounds one POST.
    Webhook delivery runs on a daemon thread started by the first write that produces an
    event (or by the lifespan, or at once if undelivered events are waiting in the file).
    """
    store = Store(db_path)
    deliverer = Deliverer(store, backoff=webhook_backoff, timeout=webhook_timeout, clock=clock)
    sandbox = Sandbox(
        store,
        idle_reset_seconds=idle_reset_seconds,
        max_body_bytes=max_body_bytes,
        clock=clock,
        deliverer=deliverer,
    )
    hooks = WebhookRoutes(
        store, deliverer, tenant_of=Sandbox.tenant_of, world_of=sandbox.world_of, clock=clock
    )
    upload_routes = uploads.UploadRoutes(store, max_bytes=max_upload_bytes, clock=clock)
    dev = DiscrepancyRoute(store, tenant_of=Sandbox.tenant_of, world_of=sandbox.world_of, clock=clock)
    if has_pending(store):
        deliverer.kick()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncGenerator[None]:
        deliverer.kick()
        yield
        await anyio.to_thread.run_sync(deliverer.stop)
        store.close()

    app = Starlette(
        routes=_routes(sandbox, hooks, upload_routes, dev),
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox
    app.state.deliverer = deliverer
    return app
