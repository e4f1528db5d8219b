"""Start real rails-mcp processes on loopback, wait until they answer, always stop them.

Shared by the benchmarks and the subprocess tests, so there is one way to do it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx2


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


@contextmanager
def running(
    args: Sequence[str], env: dict[str, str], *, port: int, ready_path: str = "/", timeout: float = 30.0
) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m rails_mcp <args>`` until ``http://127.0.0.1:port<ready_path>`` answers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rails_mcp", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                _, err = proc.communicate()
                raise AssertionError(f"process exited {proc.returncode}: {err.decode()[-2000:]}")
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
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
