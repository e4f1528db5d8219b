"""Who is asking a dev route, and where a webhook may go: the sandbox's loopback rules in one place."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from starlette.requests import Request

__all__ = ["LOOPBACK_HOSTS", "PROXY_HEADERS", "is_loopback_client", "is_loopback_url", "is_proxied"]

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
