"""What users run: the MCP Inspector CLI (npm @modelcontextprotocol/inspector) against stdio.

The Inspector validates every result's structuredContent — error results included — against
the tool's published outputSchema and fails hard when it does not fit, so exit code 5 here
("the tool returned isError") also proves the error shape fits the schema.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.process_support import clean_env

pytestmark = pytest.mark.subprocess

INSPECTOR_DIR = Path(__file__).parent / "inspector"
BIN = INSPECTOR_DIR / "node_modules" / ".bin" / "mcp-inspector"


@pytest.fixture(scope="module")
def inspector() -> Path:
    """The pinned Inspector, installed from npm on first use (CI installs it up front)."""
    if not BIN.exists():
        npm = shutil.which("npm")
        assert npm, "the MCP Inspector test needs Node.js and npm on PATH"
        subprocess.run(
            [npm, "install", "--prefix", str(INSPECTOR_DIR), "--no-audit", "--no-fund", "--loglevel=error"],
            check=True,
            timeout=600,
        )
    return BIN


def run(inspector: Path, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(state, RAILS_TENANT="inspector")
    return subprocess.run(
        [str(inspector), "--cli", "-q", sys.executable, "-m", "rails_mcp", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_the_inspector_lists_thirteen_tools_with_no_schema_portability_errors(
    inspector: Path, tmp_path: Path
):
    proc = run(inspector, tmp_path, "--method", "tools/list", "--strict")
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = [t["name"] for t in json.loads(proc.stdout)["tools"]]
    assert len(names) == 13
    assert names[0] == "prepare_vehicle"
    assert names[-1] == "reconcile_invoice"


def test_an_inspector_tool_call_exits_0_with_the_job(inspector: Path, tmp_path: Path):
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
    inspector: Path, tmp_path: Path, args: str, code: str
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
