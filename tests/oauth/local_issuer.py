"""An issuer the fast tests control: its metadata and key set on a loopback port, and tokens
it signs with keys made here (the real authorization server is in ``server.mjs``)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

AUDIENCE = "https://mcp.example.com/mcp"


def new_key() -> tuple[str, ec.EllipticCurvePrivateKey]:
    return str(uuid.uuid4()), ec.generate_private_key(ec.SECP256R1())


@dataclass
class LocalIssuer:
    """Publishes ``published`` keys at ``/jwks`` and counts the fetches; signs with ``keys[0]``."""

    url: str = ""
    keys: list[tuple[str, ec.EllipticCurvePrivateKey]] = field(default_factory=lambda: [new_key()])
    #: The issuer its metadata names (another one plays a look-alike).
    metadata_issuer: str | None = None
    jwks_fetches: int = 0
    #: Seconds each key-set answer takes; ``down``: the issuer answers 503.
    delay: float = 0.0
    down: bool = False

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks"

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in self.keys:
            public = json.loads(ECAlgorithm.to_jwk(key.public_key()))
            keys.append({**public, "kid": kid, "alg": "ES256", "use": "sig"})
        return {"keys": keys}

    def rotate(self) -> str:
        """A new signing key, published first; the old ones stay published."""
        self.keys.insert(0, new_key())
        return self.keys[0][0]

    def token(
        self,
        *,
        audience: str | list[str] = AUDIENCE,
        scope: str = "rails:read",
        sub: str = "ann",
        ttl: float = 600,
        issuer: str | None = None,
        key: tuple[str, ec.EllipticCurvePrivateKey] | None = None,
        **claims: Any,
    ) -> str:
        kid, private = key or self.keys[0]
        now = time.time()
        body = {
            "iss": issuer or self.url,
            "aud": audience,
            "sub": sub,
            "client_id": f"{sub}-client",
            "scope": scope,
            "iat": int(now),
            "exp": int(now + ttl),
            **claims,
        }
        return jwt.encode(body, private, algorithm="ES256", headers={"kid": kid, "typ": "at+jwt"})


@contextmanager
def local_issuer() -> Iterator[LocalIssuer]:
    """A :class:`LocalIssuer` served on 127.0.0.1 for the duration."""
    issuer = LocalIssuer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if issuer.down:
                self.send_error(503)
                return
            if self.path == "/jwks":
                issuer.jwks_fetches += 1
                time.sleep(issuer.delay)
                self._json(issuer.jwks())
            elif self.path == "/.well-known/openid-configuration":
                self._json({"issuer": issuer.metadata_issuer or issuer.url, "jwks_uri": issuer.jwks_url})
            else:
                self.send_error(404)

        def _json(self, document: dict[str, Any]) -> None:
            data = json.dumps(document).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    issuer.url = f"http://127.0.0.1:{http.server_address[1]}"
    thread = threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        http.shutdown()
        http.server_close()
        thread.join(timeout=5)
