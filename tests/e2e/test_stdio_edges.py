"""The stdio edges a host or a person at a terminal hits: EOF, a huge garbage line, a tty.

Each test starts ``rails-mcp`` (``python -m rails_mcp``) as a real process on the SDK's stdio
transport, the way Claude Desktop or a shell would.
"""

from __future__ import annotations

import json
import os
import pty
import queue
import subprocess
import termios
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest

from tests.support.process_support import clean_env, rails_mcp_command
from tests.support.secret_scan import scan_output

pytestmark = pytest.mark.subprocess

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "edge-test", "version": "0"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
TOOLS_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}

#: Generous: a hang is the failure being tested for, not a slow start (timings are in bench/).
PATIENCE = 60.0


def frame(message: dict[str, Any]) -> bytes:
    return (json.dumps(message) + "\n").encode()


class Lines:
    """The server's stdout, one decoded JSON-RPC message at a time, with a deadline."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._queue: queue.Queue[bytes] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[bytes]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(b"")

    def until_id(self, request_id: int) -> dict[str, Any]:
        deadline = time.monotonic() + PATIENCE
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no answer to request {request_id}; saw {self.seen}") from None
            assert line, f"stdout closed before the answer to request {request_id}; saw {self.seen}"
            message = json.loads(line)  # every line on stdout is one JSON-RPC message
            self.seen.append(message)
            if message.get("id") == request_id:
                return message


def test_rails_mcp_with_stdin_at_eof_exits_0_without_a_traceback(tmp_path: Path):
    proc = subprocess.run(
        rails_mcp_command(),
        env=clean_env(tmp_path),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=PATIENCE,
        check=False,
    )
    scan_output("rails-mcp </dev/null", proc.stdout + proc.stderr)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert proc.stdout == b""
    assert b"Traceback" not in proc.stderr


def test_a_5_mb_garbage_line_is_refused_or_dropped_and_the_next_request_is_still_answered(tmp_path: Path):
    proc = subprocess.Popen(
        rails_mcp_command(),
        env=clean_env(tmp_path, RAILS_TENANT="garbage"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        lines = Lines(proc.stdout)
        proc.stdin.write(frame(INITIALIZE))
        proc.stdin.flush()
        assert "result" in lines.until_id(1)
        proc.stdin.write(frame(INITIALIZED))
        proc.stdin.write(b"{not json " + b"\xff garbage " * (5 * 1024 * 1024 // 10) + b"\n")
        proc.stdin.write(frame(TOOLS_LIST))
        proc.stdin.flush()
        listed = lines.until_id(2)
        proc.stdin.close()
        returncode = proc.wait(timeout=PATIENCE)
        stderr = proc.stderr.read() if proc.stderr else b""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    scan_output("rails-mcp after a garbage line", stderr)
    assert len(listed["result"]["tools"]) == 13
    # Anything said about the garbage line is a JSON-RPC parse error, never a crash.
    others = [m for m in lines.seen if m.get("id") not in (1, 2)]
    assert all(m.get("error", {}).get("code") == -32700 for m in others), others
    assert returncode == 0, stderr.decode()[-2000:]
    assert b"Traceback" not in stderr


def test_on_a_terminal_the_tty_is_left_blocking_and_in_its_original_mode(tmp_path: Path):
    master, slave = pty.openpty()
    try:
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ECHO  # lflag: no echo, so the master reads only the server's output
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        before = termios.tcgetattr(slave)
        assert os.get_blocking(slave)
        proc = subprocess.Popen(
            rails_mcp_command(),
            env=clean_env(tmp_path, RAILS_TENANT="tty"),
            stdin=slave,
            stdout=slave,
            stderr=subprocess.PIPE,
        )
        try:
            os.write(master, frame(INITIALIZE))
            said = b""
            deadline = time.monotonic() + PATIENCE
            while b'"result"' not in said:
                assert time.monotonic() < deadline, f"no answer on the tty: {said[-500:]!r}"
                said += os.read(master, 65536)
            os.write(master, bytes([before[6][termios.VEOF][0]]))  # Ctrl-D: EOF on the terminal
            returncode = proc.wait(timeout=PATIENCE)
            stderr = proc.stderr.read() if proc.stderr else b""
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        scan_output("rails-mcp on a tty", said + stderr)
        assert returncode == 0, stderr.decode()[-2000:]
        assert os.get_blocking(slave), "the server left the terminal non-blocking"
        assert termios.tcgetattr(slave) == before, "the server left the terminal in another mode"
    finally:
        os.close(master)
        os.close(slave)
