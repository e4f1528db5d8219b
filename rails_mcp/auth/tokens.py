"""Verifying JWT access tokens: the issuer's keys (fetched off the event loop, cached,
refetched for a rotated key) and the checks on each token (signature, issuer, audience, expiry).

PyJWT, not joserfc: the SDK already depends on it (one JOSE library in the process, not two),
and its ``PyJWKClient`` fetches and caches a key set and can refetch it on demand.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, cast
from urllib.parse import urlsplit

import anyio.to_thread
import httpx2
import jwt
from mcp.server.auth.provider import AccessToken, TokenVerifier

from rails_mcp.auth.identity import access_token_of
from rails_mcp.config import Settings

__all__ = [
    "Cooldown",
    "JwtVerifier",
    "ResourceServer",
    "SigningKeys",
    "discover_jwks_url",
    "resource_server_from_settings",
]

log = logging.getLogger("rails_mcp.auth")

#: Signature algorithms accepted: asymmetric only (a shared-secret HS256 token could be forged
#: by anyone holding the secret, and ``none`` is no signature at all).
ALGORITHMS: Final = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
#: Clock difference tolerated between the issuer and this server, on ``exp``, ``nbf`` and ``iat``.
CLOCK_SKEW_SECONDS: Final = 5
#: How long a fetched key set is used before it is fetched again.
JWKS_LIFESPAN_SECONDS: Final = 300.0
#: At most one refetch for an unknown key (or a failed discovery) this often.
REFETCH_COOLDOWN_SECONDS: Final = 30.0
FETCH_TIMEOUT_SECONDS: Final = 10.0


@dataclass(frozen=True, slots=True)
class ResourceServer:
    """This server as OAuth sees it: who issues its tokens, the audience they name, its URL."""

    issuer: str
    audience: str
    resource_url: str
    jwks_url: str | None = None


def resource_server_from_settings(settings: Settings) -> ResourceServer | None:
    """The resource server ``RAILS_AUTH_ISSUER`` configures, or None when OAuth is off."""
    audience = settings.oauth_audience
    if settings.auth_issuer is None or audience is None or settings.public_url is None:
        return None
    return ResourceServer(settings.auth_issuer, audience, settings.public_url, settings.auth_jwks_url)


# --- keys ----------------------------------------------------------------------------------------


def discover_jwks_url(issuer: str, timeout: float = FETCH_TIMEOUT_SECONDS) -> str:
    """The issuer's ``jwks_uri``, from its OpenID or OAuth metadata (blocking: a worker thread's job).

    The metadata must name the same issuer (RFC 8414 §3.3), so a look-alike cannot lend its keys.
    """
    base = issuer.rstrip("/")
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    candidates = [
        f"{base}/.well-known/openid-configuration",
        f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{path}",
    ]
    for url in candidates:
        try:
            response = httpx2.get(url, timeout=timeout, follow_redirects=False)
            document: object = response.json() if response.status_code == 200 else None
        except (httpx2.HTTPError, ValueError):
            continue
        if not isinstance(document, dict):
            continue
        found = cast("dict[str, Any]", document)
        if found.get("issuer") == issuer and isinstance(found.get("jwks_uri"), str):
            return str(found["jwks_uri"])
    raise LookupError(f"no metadata naming issuer {issuer} and its jwks_uri")


class Cooldown:
    """Says yes at most once per ``seconds`` (the first time at once)."""

    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self.seconds, self.clock = seconds, clock
        self._last = -float("inf")

    def ready(self) -> bool:
        now = self.clock()
        if now - self._last < self.seconds:
            return False
        self._last = now
        return True


class SigningKeys:
    """The issuer's public keys by ``kid``: fetched once, cached, refetched for a new key.

    ``cached`` never blocks (the event loop may call it); ``fetch`` may reach the network and
    runs in a worker thread. A key not in the set refetches it at most once per ``cooldown``
    seconds, however many tokens name unknown keys, and concurrent callers share one fetch.
    When the issuer cannot be reached, the keys fetched before stay in use.
    """

    def __init__(
        self,
        issuer: str,
        jwks_url: str | None = None,
        *,
        lifespan: float = JWKS_LIFESPAN_SECONDS,
        cooldown: float = REFETCH_COOLDOWN_SECONDS,
        timeout: float = FETCH_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.lifespan, self.timeout = lifespan, timeout
        self._client: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()
        self._refetch = Cooldown(cooldown, clock)
        self._discovery = Cooldown(cooldown, clock)

    def cached(self, kid: str | None) -> jwt.PyJWK | None:
        """The key from the cached set, without any I/O (None: not cached, or not in it)."""
        cache = self._client.jwk_set_cache if self._client is not None else None
        found = cache.get() if cache is not None else None
        return _match(found, kid) if found is not None else None

    def fetch(self, kid: str | None) -> jwt.PyJWK | None:
        """The key, fetching the set when it is stale or lacks the key (blocking)."""
        with self._lock:
            try:
                client = self._jwks_client()
                if client is None:
                    return None
                fresh = client.jwk_set_cache is None or client.jwk_set_cache.get() is None
                key = _match(self._key_set(client, refresh=False), kid)
                if key is None and not fresh and self._refetch.ready():
                    key = _match(self._key_set(client, refresh=True), kid)
            except (jwt.PyJWKClientError, jwt.PyJWKSetError) as exc:
                log.warning("could not fetch the issuer's signing keys: %s", type(exc).__name__)
                return None
            return key

    def _key_set(self, client: jwt.PyJWKClient, *, refresh: bool) -> jwt.PyJWKSet:
        try:
            return client.get_jwk_set(refresh)
        except jwt.PyJWKClientConnectionError:
            kept = client.jwk_set_cache.jwk_set_with_timestamp if client.jwk_set_cache else None
            if kept is None:
                raise
            log.warning("could not refresh the issuer's signing keys; using those fetched before")
            return kept.get_jwk_set()

    def _jwks_client(self) -> jwt.PyJWKClient | None:
        """The key-set client, once the key set's URL is known (discovered at first need)."""
        if self._client is None:
            url = self.jwks_url
            if url is None:
                if not self._discovery.ready():
                    return None
                try:
                    url = discover_jwks_url(self.issuer, self.timeout)
                except LookupError as exc:
                    log.warning("OAuth: %s", exc)
                    return None
            self._client = jwt.PyJWKClient(
                url, lifespan=self.lifespan, timeout=self.timeout, cooldown_duration=0
            )
        return self._client


def _match(keys: jwt.PyJWKSet, kid: str | None) -> jwt.PyJWK | None:
    """The signing key named ``kid``; without a ``kid``, the set's only signing key."""
    signing = [key for key in keys.keys if key.public_key_use in ("sig", None)]
    if kid is None:
        return signing[0] if len(signing) == 1 else None
    return next((key for key in signing if key.key_id == kid), None)


# --- tokens --------------------------------------------------------------------------------------


class JwtVerifier(TokenVerifier):
    """The SDK's ``TokenVerifier`` for JWT access tokens: signature, issuer, audience, expiry.

    Any failure is ``None`` (the SDK answers ``401``); why is logged at info, never the token.
    """

    def __init__(self, server: ResourceServer, keys: SigningKeys | None = None) -> None:
        self.server = server
        self.keys = keys if keys is not None else SigningKeys(server.issuer, server.jwks_url)

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            log.info("access token refused: not a JWT")
            return None
        kid = header.get("kid")
        kid = kid if isinstance(kid, str) else None
        key = self.keys.cached(kid)
        if key is None:
            key = await anyio.to_thread.run_sync(self.keys.fetch, kid)
        if key is None:
            log.info("access token refused: signed by a key the issuer does not publish")
            return None
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=self.server.audience,
                issuer=self.server.issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            log.info("access token refused: %s", type(exc).__name__)
            return None
        return access_token_of(token, claims, self.server.audience, CLOCK_SKEW_SECONDS)
