"""Throughput and latency of the sandbox's hottest read, ``repairer.jobs.get``, over HTTP.

Starts ``python -m rails_mcp sandbox`` on a free loopback port with a temporary database,
warms it up, then drives it with N concurrent httpx2 clients for a bounded time and count,
and prints requests/second and p50/p99 latency. Only loopback traffic; it stops by itself.

    python bench/bench_sandbox.py [--clients 8] [--seconds 10] [--max-requests 200000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from tests.support.process_support import clean_env, free_port, running

HEADERS = {
    "Authorization": "Bearer partly_demo_repairer_3f8a1c0d9e2b4a67b1c2",
    "Partly-Integration-ID": "0c000000-0000-4000-8000-000000000001",
    "Content-Type": "application/json",
    "x-partifact-tenant": "bench",
}
BODY = b'{"identity":{"external":"CCC-2026-04817"}}'
PATH = "/api/2026-01/repairer.jobs.get"


async def drive(base: str, clients: int, seconds: float, max_requests: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        async with httpx2.AsyncClient(base_url=base, timeout=10) as client:
            while time.perf_counter() < stop_at and len(latencies) < max_requests:
                t0 = time.perf_counter()
                response = await client.post(PATH, content=BODY, headers=HEADERS)
                latencies.append(time.perf_counter() - t0)
                if response.status_code != 200:
                    errors += 1

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(clients):
            tg.start_soon(worker)
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{errors} requests failed")
    return latencies, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured duration")
    parser.add_argument("--max-requests", type=int, default=200_000, help="cap on requests")
    parser.add_argument("--warmup", type=int, default=300, help="requests before measuring")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        command = ["sandbox", "--port", str(port), "--db", str(Path(tmp) / "bench.sqlite3")]
        with running(command, clean_env(Path(tmp)), port=port, ready_path="/healthz"):
            anyio.run(drive, base, 1, 60.0, args.warmup)
            latencies, elapsed = anyio.run(drive, base, args.clients, args.seconds, args.max_requests)

    ms = sorted(x * 1000 for x in latencies)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"repairer.jobs.get via `rails-mcp sandbox`: {args.clients} clients, {elapsed:.1f} s")
    print(f"requests: {len(ms)}  throughput: {len(ms) / elapsed:.0f} req/s")
    print(f"latency: p50 {p50:.2f} ms  p99 {p99:.2f} ms  max {ms[-1]:.2f} ms")


if __name__ == "__main__":
    main()
