"""The MCP HTTP server does not hold connections or sessions forever (real sockets, a real process)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx2
import pytest

from tests.e2e.test_transports import MCP_HEADERS, MCP_INIT
from tests.support.process_support import clean_env, free_port, running

pytestmark = pytest.mark.subprocess

#: What the tests configure; a connection must be gone well within HELD_AT_MOST.
TIMEOUTS = {
    "RAILS_HTTP_HEADER_TIMEOUT_SECONDS": "1",
    "RAILS_HTTP_BODY_TIMEOUT_SECONDS": "1.5",
    "RAILS_HTTP_SESSION_IDLE_SECONDS": "1",
}
HELD_AT_MOST = 4.0
#: How long a test waits before calling a connection "held" (the old server kept them > 120 s).
GIVE_UP = 10.0


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    chosen = free_port()
    env = clean_env(tmp_path_factory.mktemp("state"), **TIMEOUTS)
    with running(["serve", "--transport", "streamable-http", "--port", str(chosen)], env, port=chosen):
        yield chosen


def seconds_until_closed(port: int, *chunks: bytes, pause: float = 0.0) -> float:
    """Send ``chunks`` (``pause`` apart, while the server keeps the socket), then wait for EOF."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.monotonic()
        sock.settimeout(GIVE_UP)
        try:
            for chunk in chunks:
                sock.sendall(chunk)
                time.sleep(pause)
            while sock.recv(4096):
                pass
        except TimeoutError:
            return GIVE_UP
        except OSError:  # reset while sending or reading: closed all the same
            pass
        return time.monotonic() - started


def test_a_silent_socket_is_closed_within_the_header_timeout(port: int):
    assert seconds_until_closed(port) < HELD_AT_MOST


def test_a_partial_header_is_closed_within_the_header_timeout(port: int):
    assert seconds_until_closed(port, b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n") < HELD_AT_MOST


def test_a_header_dripped_a_byte_at_a_time_does_not_extend_the_deadline(port: int):
    drip = [bytes([b]) for b in b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100]
    assert seconds_until_closed(port, *drip, pause=0.2) < HELD_AT_MOST


def test_a_partial_body_is_closed_within_the_body_timeout(port: int):
    head = f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
    head += "Accept: application/json, text/event-stream\r\nContent-Length: 500\r\n\r\n"
    assert seconds_until_closed(port, head.encode() + b'{"jsonrpc":') < HELD_AT_MOST


@pytest.mark.parametrize("length", [b"abc", b"1_000", "１０".encode(), b"-1", b"1e3"])
def test_a_non_numeric_content_length_is_answered_400(port: int, length: bytes):
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(GIVE_UP)
        sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + length + b"\r\n\r\n{}")
        assert sock.recv(64).startswith(b"HTTP/1.1 400 ")


def test_a_prompt_client_is_served_and_an_idle_session_is_reaped(port: int):
    url = f"http://127.0.0.1:{port}/mcp"
    opened = httpx2.post(url, json=MCP_INIT, headers=MCP_HEADERS)
    assert opened.status_code == 200
    session = {
        **MCP_HEADERS,
        "mcp-session-id": opened.headers["mcp-session-id"],
        "mcp-protocol-version": "2025-11-25",
    }
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    assert httpx2.post(url, json=ping, headers=session).status_code == 200
    time.sleep(2.5)
    assert httpx2.post(url, json=ping, headers=session).status_code == 404
