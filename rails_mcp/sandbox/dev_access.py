"""Who is asking a dev route, and where a webhook may go: the sandbox's loopback rules in one place,
with the answers every dev route gives (``{"ok": false, "reason": ...}`` on a refusal)."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, cast
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from rails_mcp.sandbox.world import Credential, World, authenticate
from rails_mcp.wire.errors import RailsAPIError

__all__ = [
    "LOOPBACK_HOSTS",
    "PROXY_HEADERS",
    "Refused",
    "dev_caller",
    "is_loopback_client",
    "is_loopback_url",
    "is_proxied",
    "json_object",
    "read_body",
    "refuse",
    "reply",
    "unproxied",
]

#: The only hosts a webhook may go to, spelled exactly so (lower case, IPv6 in brackets).
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
#: Headers a reverse proxy adds: with one in front, the peer address says nothing about the caller.
PROXY_HEADERS = frozenset({"forwarded", "x-real-ip"})
_PORT_SUFFIX = re.compile(r"(:[0-9]{1,5})?")


def is_loopback_url(url: str) -> bool:
    """http(s) to localhost, 127.0.0.1 or [::1], spelled canonically, and nothing else (SSRF guard).

    No whitespace or control character anywhere, no userinfo, no fragment, a lower-case
    scheme and host: a URL that two parsers could read differently is not accepted.
    """
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return False
    try:
        parts = urlsplit(url)
        _ = parts.port  # a malformed port raises here
    except ValueError:
        return False
    netloc = parts.netloc
    host = netloc[: netloc.find("]") + 1] if netloc.startswith("[") else netloc.split(":", 1)[0]
    return (
        url.startswith(("http://", "https://"))  # urlsplit lower-cases the scheme it reports
        and host in LOOPBACK_HOSTS
        and _PORT_SUFFIX.fullmatch(netloc[len(host) :]) is not None
        and "#" not in url
    )


def is_loopback_client(host: str | None) -> bool:
    """The peer address is this machine's (only meaningful when no proxy forwarded the request)."""
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_proxied(request: Request) -> bool:
    """The request carries a header a reverse proxy adds."""
    return any(name in PROXY_HEADERS or name.startswith("x-forwarded-") for name in request.headers)


# --- the answers of a dev route -----------------------------------------------------------------


def reply(body: dict[str, Any], status: int = 200) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json"
    )


def refuse(reason: str, status: int = 400) -> Response:
    return reply({"ok": False, "reason": reason}, status)


class Refused(Exception):
    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def unproxied(
    endpoint: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Refuse (403) a request a reverse proxy forwarded: behind one, every caller looks local."""

    async def guarded(request: Request) -> Response:
        if is_proxied(request):
            return refuse("proxied_request", 403)
        return await endpoint(request)

    return guarded


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused (413) as soon as it grows past ``limit``."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise Refused("bad_body", 413)
    return raw


def json_object(raw: bytes) -> dict[str, Any] | None:
    """``raw`` as a JSON object with string keys, or None when it is anything else."""
    try:
        body: object = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    return {str(k): v for k, v in cast("dict[Any, Any]", body).items()}


async def dev_caller(
    request: Request, tenant_of: Callable[[Request], str], world_of: Callable[[str], Awaitable[World]]
) -> tuple[str, Credential]:
    """The tenant and the integration whose credentials the request carries (refused otherwise)."""
    try:
        tenant = tenant_of(request)
    except Exception:
        raise Refused("bad_tenant") from None
    world = await world_of(tenant)
    try:
        credential = authenticate(
            world, request.headers.get("authorization"), request.headers.get("partly-integration-id"), "any"
        )
    except RailsAPIError:
        raise Refused("unauthorized", 401) from None
    if credential is None:  # pragma: no cover - scope "any" always names a credential
        raise Refused("unauthorized", 401)
    return tenant, credential
