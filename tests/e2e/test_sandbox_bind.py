"""`rails-mcp sandbox` beyond loopback: refused without a token, and then every request needs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx2

from tests.support.process_support import clean_env, free_port, running
from tests.support.sandbox_support import JOB, REPAIRER, REPAIRER_INTEGRATION
from tests.support.secret_scan import scan_output

TOKEN = "sandbox-token-for-the-test-0123"


def test_the_sandbox_beyond_loopback_without_a_token_refuses_to_start(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "rails_mcp", "sandbox", "--host", "0.0.0.0", "--port", str(free_port())],
        env=clean_env(tmp_path),
        capture_output=True,
        timeout=60,
        check=False,
    )
    scan_output("rails-mcp sandbox --host 0.0.0.0", proc.stdout + proc.stderr)
    assert proc.returncode != 0
    assert b"RAILS_MCP_TOKEN" in proc.stderr
    assert b"Traceback" not in proc.stderr


def test_the_sandbox_beyond_loopback_with_a_token_wants_it_on_every_request_but_health(tmp_path: Path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["sandbox", "--host", "0.0.0.0", "--port", str(port)]
    body = {"integration_id": REPAIRER_INTEGRATION}
    with running(args, clean_env(tmp_path, RAILS_MCP_TOKEN=TOKEN), port=port, ready_path="/healthz"):
        health = httpx2.get(f"{base}/healthz")
        bare = httpx2.post(f"{base}/__webhooks/secret", json=body, headers=REPAIRER)
        wrong = httpx2.post(
            f"{base}/__webhooks/secret", json=body, headers={**REPAIRER, "X-Sandbox-Token": "nope"}
        )
        wire = httpx2.post(f"{base}/api/2026-01/repairer.jobs.get", json={"identity": JOB}, headers=REPAIRER)
        good = httpx2.post(
            f"{base}/__webhooks/secret", json=body, headers={**REPAIRER, "X-Sandbox-Token": TOKEN}
        )
    assert health.status_code == 200
    assert (bare.status_code, bare.json()) == (401, {"type": "unauthorized"})
    assert wrong.status_code == 401
    assert wire.status_code == 401
    assert TOKEN not in bare.text + wrong.text
    assert good.status_code == 200
