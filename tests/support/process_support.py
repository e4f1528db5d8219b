"""Start real rails-mcp processes on loopback, wait until they answer, always stop them.

Shared by the subprocess tests and the benchmarks (bench/ imports it from here), so there is
one way to do it. Everything a process prints is kept in a temporary file (a pipe nobody
reads could fill and stall the server) and passed through the suite's secret scan on stop.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx2

from tests.support.secret_scan import scan_output

__all__ = ["clean_env", "free_port", "rails_mcp_command", "running"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(state_dir: Path, **extra: str) -> dict[str, str]:
    """The environment a user would have: none of our variables unless given here."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAILS_")}
    env["RAILS_STATE_DIR"] = str(state_dir)
    env.update(extra)
    return env


def rails_mcp_command(*args: str) -> list[str]:
    """``rails-mcp <args>`` as this interpreter runs it (no reliance on PATH)."""
    return [sys.executable, "-m", "rails_mcp", *args]


@contextmanager
def running(
    args: Sequence[str],
    env: dict[str, str],
    *,
    port: int,
    ready_path: str = "/",
    timeout: float = 30.0,
    argv: Sequence[str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m rails_mcp <args>`` (or ``argv`` itself, for another server) until
    ``http://127.0.0.1:port<ready_path>`` answers."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        command = list(argv) if argv is not None else rails_mcp_command(*args)
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    err.seek(0)
                    tail = err.read().decode(errors="replace")[-2000:]
                    raise AssertionError(f"process exited {proc.returncode}: {tail}")
                try:
                    httpx2.get(f"http://127.0.0.1:{port}{ready_path}", timeout=1.0)
                    break
                except httpx2.TransportError:
                    if time.monotonic() > deadline:
                        raise AssertionError("server did not start in time") from None
                    time.sleep(0.1)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for name, stream in (("stdout", out), ("stderr", err)):
                stream.seek(0)
                scan_output(f"rails-mcp {' '.join(args[:1])} {name}", stream.read())
