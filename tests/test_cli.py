"""The command line as a newcomer meets it: demo, install, schemas."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from rails_mcp.config import load_settings
from rails_mcp.runtime import open_rails
from rails_mcp.schemas import render_tool_schemas
from rails_mcp.server import build_server
from tests.process_support import clean_env

ROOT = Path(__file__).resolve().parent.parent
INSTALL = [
    "--access-code",
    "ac_demo_valid_15m",
    "--client-id",
    "partly_client_demo",
    "--client-secret",
    "secret_demo_8f3a",
]


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rails_mcp", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.anyio
async def test_tool_schemas_on_disk_match_the_live_server():
    rendered = await render_tool_schemas()
    on_disk = {p.stem: p.read_text(encoding="utf-8") for p in (ROOT / "tool_schemas").glob("*.json")}
    assert sorted(on_disk) == sorted(rendered), "run `rails-mcp schemas`"
    for name, text in rendered.items():
        assert on_disk[name] == text, f"tool_schemas/{name}.json drifted: run `rails-mcp schemas`"


@pytest.mark.anyio
async def test_tools_list_stays_within_its_token_budget():
    rendered = await render_tool_schemas()
    doc = [json.loads(t) for t in rendered.values()]
    assert len(json.dumps(doc)) / 4 <= 6000


@pytest.mark.subprocess
def test_the_demo_walks_the_quickstart_and_exits_0_on_the_reconciled_invoice(tmp_path: Path):
    proc = cli("demo", env=clean_env(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    out = proc.stdout
    assert "unconfirmable_supplier" in out
    assert "replaying error.example_arguments" in out
    assert "order_confirmed" in out
    assert "Loop closed: reconciled invoice 1099.00 NZD" in out


@pytest.mark.subprocess
@pytest.mark.anyio
async def test_install_stores_the_minted_key_0600_prints_it_masked_and_the_server_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    config = tmp_path / "config"
    env = clean_env(tmp_path, RAILS_TENANT="install", RAILS_CONFIG_DIR=str(config))
    first = cli("install", *INSTALL, env=env)
    assert first.returncode == 0, first.stderr
    stored = config / "credentials.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    [entry] = json.loads(stored.read_text())
    key = entry["api_key"]
    assert re.fullmatch(r"partly_[0-9a-f]{32}", key)
    assert key not in first.stdout + first.stderr
    assert key[:7] + "…" + key[-4:] in first.stdout

    second = cli("install", *INSTALL, env=env)
    assert second.returncode != 0
    assert "invalid_access_code" in second.stderr

    monkeypatch.setenv("RAILS_CONFIG_DIR", str(config))
    settings = load_settings(state_dir=tmp_path, tenant="install")
    assert settings.repairer().source == "install"
    async with Client(build_server(open_rails(settings))) as client:
        result = await client.call_tool("list_businesses", {})
    assert not result.is_error
    assert key not in json.dumps(result.structured_content)
