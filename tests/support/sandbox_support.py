"""Constants of the seeded world and small helpers for the sandbox tests."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2

from rails_mcp.sandbox import create_app

API = "/api/2026-01/"

REPAIRER = {
    "Authorization": "Bearer partly_demo_repairer_3f8a1c0d9e2b4a67b1c2",
    "Partly-Integration-ID": "0c000000-0000-4000-8000-000000000001",
}
SUPPLIER = {
    "Authorization": "Bearer partly_demo_supplier_8b4e2f1a6c0d3e9f7a25",
    "Partly-Integration-ID": "0c000000-0000-4000-8000-000000000002",
}
INSTALL = {
    "access_code": "ac_demo_valid_15m",
    "client_id": "partly_client_demo",
    "client_secret": "secret_demo_8f3a",
}

JOB_ID = "0d000000-0000-4000-8000-000000000001"
JOB_EXTERNAL = "CCC-2026-04817"
JOB = {"external": JOB_EXTERNAL}
SITE = "0b000000-0000-4000-8000-000000000001"
S1 = "0b000000-0000-4000-8000-000000000010"
S2 = "0b000000-0000-4000-8000-000000000011"
S3 = "0b000000-0000-4000-8000-000000000012"
AMI = "0a000000-0000-4000-8000-000000000020"
PR1 = "10000000-0000-4000-8000-000000000001"
MISSING = "99999999-0000-4000-8000-000000000099"


def part(n: int) -> str:
    return f"0e000000-0000-4000-8000-{n:012x}"


def offer(n: int) -> str:
    return f"0f000000-0000-4000-8000-{n:012x}"


def selection(n: int, supplier: str, part_n: int, quantity: int = 1) -> dict[str, Any]:
    return {
        "sellable_id": offer(n),
        "supplier_business_id": supplier,
        "job_part_ids": [part(part_n)],
        "quantity": quantity,
    }


#: The Quickstart's step 5 selection: RH headlamp (631.00) + radiator support (468.00).
QUICKSTART_SELECTIONS = [selection(0x07, S1, 4), selection(0x0A, S1, 6)]


def headers(base: dict[str, str] | None, tenant: str | None) -> dict[str, str]:
    out = dict(base or {})
    if tenant is not None:
        out["x-partifact-tenant"] = tenant
    return out


async def call(
    client: httpx2.AsyncClient,
    method: str,
    body: Any,
    *,
    auth: dict[str, str] | None = REPAIRER,
    tenant: str | None = "t",
) -> httpx2.Response:
    """POST one wire method as JSON, as the Quickstart's curl lines do."""
    return await client.post(API + method, json=body, headers=headers(auth, tenant))


async def place_quickstart(client: httpx2.AsyncClient, tenant: str | None = "t") -> str:
    response = await call(
        client,
        "repairer.procurements.insert",
        {"job_identity": JOB, "offer_selections": QUICKSTART_SELECTIONS},
        tenant=tenant,
    )
    assert response.status_code == 200, response.text
    return response.json()["procurement"]["id"]


def asgi_client(db: Path | str, **kwargs: Any) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=create_app(db, **kwargs)), base_url="http://sandbox"
    )


def walk_keys(value: Any) -> list[str]:
    """Every object key anywhere in a JSON value."""
    if isinstance(value, dict):
        keys = list(value)
        for child in value.values():
            keys += walk_keys(child)
        return keys
    if isinstance(value, list):
        return [k for child in value for k in walk_keys(child)]
    return []


# --- a real loopback webhook receiver: an http.server on 127.0.0.1 in a thread ---------------

REPAIRER_INTEGRATION = REPAIRER["Partly-Integration-ID"]
SUPPLIER_INTEGRATION = SUPPLIER["Partly-Integration-ID"]
REPAIRER_WEBHOOK_SECRET = "pwh_3f8a1c0d9e2b4a67b1c2d4e6f8a0b2c4"
SUPPLIER_WEBHOOK_SECRET = "pwh_8b4e2f1a6c0d3e9f7a25c4d6e8f0a2b4"


@dataclass
class Delivery:
    raw: bytes
    headers: dict[str, str]

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.raw)


@dataclass
class Receiver:
    """Records every POST; dedups on the envelope id as a real consumer would."""

    port: int
    deliveries: list[Delivery] = field(default_factory=list[Delivery])
    #: Set to make every request wait until it is set (a slow receiver).
    gate: threading.Event | None = None
    status: int = 200
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def unique(self) -> dict[str, Delivery]:
        """The receiver's dedup: the first delivery of each event id."""
        with self._lock:
            out: dict[str, Delivery] = {}
            for d in self.deliveries:
                out.setdefault(d.event["id"], d)
            return out

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                if receiver.gate is not None:
                    receiver.gate.wait(30)
                with receiver._lock:
                    receiver.deliveries.append(Delivery(raw, {k.lower(): v for k, v in self.headers.items()}))
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes; the caller asserts the result."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
