"""Three ``rails-mcp serve`` replicas against one ``rails-mcp sandbox``, and a round-robin balancer.

Shared by tests/e2e/test_replicas*.py and bench/replicas.py. Each replica is its own process with
its own state dir; all they share is the wire (``RAILS_BASE_URL``) and ``RAILS_APPROVAL_KEY``,
which is exactly what a real deployment behind a load balancer shares (plus ``RAILS_STATE_URL``
when a test gives one). A test may kill, stop and restart a replica on its port. The balancer is an
httpx2 transport that sends each HTTP request to the next replica in turn and records which
replica served which JSON-RPC method, so a test can show a client's calls spread out.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

from tests.support.process_support import clean_env, free_port, running

__all__ = ["Cluster", "RoundRobin", "cluster"]


@dataclass
class Cluster:
    sandbox_port: int
    replica_ports: list[int]
    state_dirs: list[Path]
    approval_key: str
    tenant: str
    replica_envs: list[dict[str, str]] = field(default_factory=list[dict[str, str]], repr=False)
    _running: dict[int, tuple[ExitStack, subprocess.Popen[bytes]]] = field(
        default_factory=dict[int, tuple[ExitStack, subprocess.Popen[bytes]]], repr=False
    )

    @property
    def url(self) -> str:
        """What clients dial: the balancer's name (never resolved; RoundRobin rewrites it)."""
        return "http://balancer.invalid/mcp"

    def replica_url(self, index: int) -> str:
        """One replica's MCP endpoint, dialled directly (no balancer)."""
        return f"http://127.0.0.1:{self.replica_ports[index]}/mcp"

    def start(self, index: int) -> None:
        """Start replica ``index`` on its port with its environment; return once it answers."""
        port, stack = self.replica_ports[index], ExitStack()
        args = ["serve", "--transport", "streamable-http", "--port", str(port)]
        process = stack.enter_context(running(args, self.replica_envs[index], port=port))
        self._running[index] = (stack, process)

    def stop(self, index: int) -> None:
        """Stop replica ``index`` the polite way (SIGTERM), if it is running."""
        stack, _ = self._running.pop(index, (ExitStack(), None))
        stack.close()

    def kill(self, index: int) -> None:
        """``kill -9`` replica ``index``: no shutdown, no flush, as a crash or an OOM kill."""
        _, process = self._running[index]
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        self.stop(index)

    def restart_all(self) -> None:
        for index in range(len(self.replica_ports)):
            self.stop(index)
            self.start(index)

    def stop_all(self) -> None:
        for index in list(self._running):
            self.stop(index)


@contextmanager
def cluster(
    root: Path, *, replicas: int = 3, tenant: str = "replicas", **extra_env: str
) -> Iterator[Cluster]:
    """Start the shared wire and ``replicas`` MCP servers; stop them all afterwards."""
    key = secrets.token_hex(32)
    sandbox_port = free_port()
    with ExitStack() as stack:
        stack.enter_context(
            running(
                [
                    "sandbox",
                    "--port",
                    str(sandbox_port),
                    "--db",
                    str(root / "wire.sqlite3"),
                    "--no-idle-reset",
                ],
                clean_env(root / "sandbox"),
                port=sandbox_port,
                ready_path="/healthz",
            )
        )
        dirs = [root / f"replica-{i}" for i in range(replicas)]
        envs = [
            clean_env(
                state,
                RAILS_BASE_URL=f"http://127.0.0.1:{sandbox_port}",
                RAILS_APPROVAL_KEY=key,
                RAILS_TENANT=tenant,
                **extra_env,
            )
            for state in dirs
        ]
        started = Cluster(sandbox_port, [free_port() for _ in dirs], dirs, key, tenant, envs)
        stack.callback(started.stop_all)
        for index in range(replicas):
            started.start(index)
        yield started


@dataclass
class Served:
    replica: int
    http_method: str
    rpc_method: str | None
    tool: str | None
    round: str


@dataclass
class RoundRobin(httpx2.AsyncBaseTransport):
    """A load balancer without stickiness: request n goes to replica n mod len(ports)."""

    ports: list[int]
    served: list[Served] = field(default_factory=list[Served])
    _next: int = 0
    _inner: httpx2.AsyncHTTPTransport = field(default_factory=lambda: httpx2.AsyncHTTPTransport(retries=0))

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        index = self._next % len(self.ports)
        self._next += 1
        body = await request.aread()
        rpc, tool, round_ = _describe(body)
        headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"host"]
        forwarded = httpx2.Request(
            request.method,
            request.url.copy_with(scheme="http", host="127.0.0.1", port=self.ports[index]),
            headers=headers,
            content=body,
            extensions=request.extensions,
        )
        self.served.append(Served(index, request.method, rpc, tool, round_))
        return await self._inner.handle_async_request(forwarded)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def replicas_for(self, tool: str) -> list[int]:
        return [s.replica for s in self.served if s.tool == tool]


def _describe(body: bytes) -> tuple[str | None, str | None, str]:
    try:
        message = json.loads(body) if body else None
    except ValueError:
        return None, None, ""
    if not isinstance(message, dict):
        return None, None, ""
    method = message.get("method")
    raw = message.get("params")
    params: dict[str, Any] = raw if isinstance(raw, dict) else {}
    tool = params.get("name") if method == "tools/call" else None
    round_ = "answer" if params.get("requestState") else "first"
    return (method if isinstance(method, str) else None), (tool if isinstance(tool, str) else None), round_
