"""Who a verified access token speaks for, and what it may call: read per request by the server.

The SDK's auth context (``get_access_token``) carries the request's verified token into the
handler, over streamable HTTP and SSE alike; without OAuth (stdio, a static token) there is
none, and everything here says so with ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken

from rails_mcp.audit import Principal

__all__ = ["access_token_of", "current_principal", "granted_scopes", "principal_of"]


def access_token_of(token: str, claims: Mapping[str, Any], audience: str, clock_skew: int = 0) -> AccessToken:
    """The SDK's ``AccessToken`` for verified ``claims`` (``scope`` or ``scp``; ``sub`` or the client).

    ``expires_at`` is when this server stops accepting it: ``exp`` plus the ``clock_skew`` the
    verifier allowed (the SDK checks ``expires_at`` again, without any).
    """
    client = claims.get("client_id") or claims.get("azp") or claims.get("sub") or "unknown"
    subject = claims.get("sub")
    return AccessToken(
        token=token,
        client_id=str(client),
        scopes=sorted(_scopes(claims)),
        expires_at=int(claims["exp"]) + clock_skew,
        resource=audience,
        subject=str(subject) if subject is not None else str(client),
        claims=dict(claims),
    )


def _scopes(claims: Mapping[str, Any]) -> set[str]:
    granted: set[str] = set()
    for name in ("scope", "scp"):
        value: object = claims.get(name)
        if isinstance(value, str):
            granted.update(value.split())
        elif isinstance(value, list):
            granted.update(str(item) for item in cast("list[Any]", value))
    return granted


def principal_of(token: AccessToken) -> Principal:
    """Who a verified token speaks for: its subject, issuer and client, and name and email if given."""
    claims = token.claims or {}

    def text(name: str) -> str | None:
        value = claims.get(name)
        return value if isinstance(value, str) and value else None

    return Principal(
        subject=token.subject or token.client_id,
        issuer=text("iss"),
        client_id=token.client_id,
        name=text("name"),
        email=text("email"),
    )


def current_principal() -> Principal | None:
    """The principal of the request being handled (None without an OAuth access token)."""
    token = get_access_token()
    return principal_of(token) if token is not None else None


def granted_scopes() -> frozenset[str] | None:
    """The scopes of the request's access token; None when the request carries none (no OAuth)."""
    token = get_access_token()
    return frozenset(token.scopes) if token is not None else None
