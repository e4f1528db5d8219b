"""OAuth on the HTTP transports: the protected-resource metadata, ``401`` and ``403``.

The SDK's public resource-server parts do the work: ``BearerAuthBackend`` (with our
:class:`~rails_mcp.auth.tokens.JwtVerifier`), the auth context handlers read the token from,
``RequireAuthMiddleware`` (``401`` pointing at the metadata) and the RFC 9728 metadata route.
:class:`ScopeGate` adds the per-tool ``403 insufficient_scope`` (step-up authorization).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final, cast

from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.routes import build_resource_metadata_url, create_protected_resource_routes
from pydantic import AnyHttpUrl, ConfigDict, TypeAdapter
from starlette.applications import Starlette
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rails_mcp.auth.tokens import ResourceServer
from rails_mcp.tools import TOOLS
from rails_mcp.tools.declare import ALL_SCOPES, scope_of

__all__ = ["METADATA_PATH", "ScopeGate", "metadata_url", "oauth_app", "step_up_scopes"]

#: The root form of the protected-resource metadata (RFC 9728 also serves it path-suffixed).
METADATA_PATH: Final = "/.well-known/oauth-protected-resource"

#: URLs as the issuer and resource are written: an empty path stays empty (issuers compare exactly).
_URL = TypeAdapter(AnyHttpUrl, config=ConfigDict(url_preserve_empty_path=True))


def metadata_url(server: ResourceServer) -> str:
    """The protected-resource metadata URL a ``401`` points at (RFC 9728, path-suffixed)."""
    return str(build_resource_metadata_url(_URL.validate_python(server.resource_url)))


TOOL_SCOPES: Final = {tool.name: scope_of(tool) for tool in TOOLS}


def step_up_scopes(granted: Iterable[str], needed: str) -> str:
    """What to ask the issuer for: the scopes held plus the one needed (so none is lost)."""
    wanted = {*granted, needed}
    return " ".join(scope for scope in ALL_SCOPES if scope in wanted)


class ScopeGate:
    """``403 insufficient_scope`` for a ``tools/call`` the token's scopes do not cover.

    Reads the request body (up to ``max_body`` bytes) before the transport does and hands it
    on unchanged; a body it cannot read as JSON-RPC is the transport's to refuse.
    """

    def __init__(self, app: ASGIApp, metadata_url: str, max_body: int) -> None:
        self.app = app
        self.metadata_url = metadata_url
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if scope["type"] != "http" or scope["method"] != "POST" or not isinstance(user, AuthenticatedUser):
            await self.app(scope, receive, send)
            return
        messages, body = await self._read(receive)
        missing = _missing_scope(body, set(user.scopes)) if body is not None else None
        if missing is not None:
            tool, needed = missing
            await self._refuse(send, tool, needed, user.scopes)
            return
        pending = list(messages)

        async def replay() -> Message:
            return pending.pop(0) if pending else await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> tuple[list[Message], bytes | None]:
        """The body's messages as received, and the body (None when too big to inspect)."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages, None
            size += len(message.get("body", b""))
            if size > self.max_body:
                return messages, None
            if not message.get("more_body", False):
                return messages, b"".join(m.get("body", b"") for m in messages)

    async def _refuse(self, send: Send, tool: str, needed: str, granted: Iterable[str]) -> None:
        description = f"{tool} needs the scope {needed}"
        challenge = (
            f'Bearer error="insufficient_scope", scope="{step_up_scopes(granted, needed)}", '
            f'resource_metadata="{self.metadata_url}", error_description="{description}"'
        )
        body = json.dumps({"error": "insufficient_scope", "error_description": description}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", challenge.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _missing_scope(body: bytes, granted: set[str]) -> tuple[str, str] | None:
    """The first ``tools/call`` in a JSON-RPC body (one message or a batch) the scopes do not cover."""
    try:
        parsed: object = json.loads(body)
    except ValueError:
        return None
    items = cast("list[object]", parsed) if isinstance(parsed, list) else [parsed]
    for item in items:
        call = cast("dict[str, Any]", item) if isinstance(item, dict) else {}
        if call.get("method") != "tools/call":
            continue
        params: object = call.get("params")
        name: object = cast("dict[str, Any]", params).get("name") if isinstance(params, dict) else None
        needed = TOOL_SCOPES.get(name) if isinstance(name, str) else None
        if isinstance(name, str) and needed is not None and needed not in granted:
            return name, needed
    return None


def oauth_app(app: ASGIApp, server: ResourceServer, verifier: TokenVerifier, *, max_body: int) -> ASGIApp:
    """``app`` behind OAuth: metadata open at both well-known paths, everything else needs a token.

    The SDK's ``BearerAuthBackend`` verifies (the audience is checked by ``verifier``), its auth
    context lets handlers read the token, ``RequireAuthMiddleware`` answers ``401`` pointing at
    the metadata, and :class:`ScopeGate` answers ``403`` for a tool beyond the token's scopes.
    """
    routes = create_protected_resource_routes(
        resource_url=_URL.validate_python(server.resource_url),
        authorization_servers=[_URL.validate_python(server.issuer)],
        scopes_supported=list(ALL_SCOPES),
        resource_name="rails-mcp",
    )
    suffixed = routes[0]
    if suffixed.path != METADATA_PATH:
        routes.append(Route(METADATA_PATH, endpoint=suffixed.endpoint, methods=["GET", "OPTIONS"]))
    metadata = Starlette(routes=routes)
    paths = {route.path for route in routes}
    gate = ScopeGate(app, metadata_url(server), max_body)
    required = RequireAuthMiddleware(gate, [], _URL.validate_python(metadata_url(server)))
    guarded = AuthenticationMiddleware(AuthContextMiddleware(required), backend=BearerAuthBackend(verifier))

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await app(scope, receive, send)  # the transport's own start-up and shut-down
        elif scope["type"] == "http" and scope["path"] in paths:
            await metadata(scope, receive, send)
        else:
            await guarded(scope, receive, send)

    return dispatch
