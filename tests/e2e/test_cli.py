"""The command line as a newcomer meets it: demo, install, schemas, settings, mistakes, hints."""

from __future__ import annotations

import json
import os
import pty
import re
import stat
import subprocess
import time
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner
from mcp import Client

from rails_mcp.cli import main
from rails_mcp.config import Settings, env_name, flag_name, load_settings
from rails_mcp.runtime import open_rails
from rails_mcp.schemas import render_tool_schemas
from rails_mcp.server import build_server
from tests.support.process_support import clean_env, free_port, rails_mcp_command
from tests.support.secret_scan import scan_output

ROOT = Path(__file__).resolve().parents[2]
INSTALL = [
    "--access-code",
    "ac_demo_valid_15m",
    "--client-id",
    "partly_client_demo",
    "--client-secret",
    "secret_demo_8f3a",
]


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        rails_mcp_command(*args),
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    scan_output(f"rails-mcp {' '.join(args[:1])}", proc.stdout + proc.stderr)
    return proc


def assert_one_clean_error_line(stderr: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("rails-mcp: error: "), stderr
    assert "Traceback" not in stderr


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
    assert len(json.dumps(doc)) / 4 < 9000


@pytest.mark.subprocess
def test_the_demo_walks_the_quickstart_and_exits_0_on_the_reconciled_invoice(tmp_path: Path):
    proc = cli("demo", env=clean_env(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    out = proc.stdout
    assert "unconfirmable_supplier" in out
    # The one procurement listed after the refusal is the seeded PR-1, and the demo says so.
    assert "procurements after the refusal: 1, the same as before it (PR-1, seeded with the job)" in out
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

    monkeypatch.setenv("RAILS_CONFIG_DIR", str(config))
    settings = load_settings(state_dir=tmp_path, tenant="install")
    assert settings.repairer().source == "install"
    async with Client(build_server(open_rails(settings))) as client:
        result = await client.call_tool("list_businesses", {})
    assert not result.is_error
    assert key not in json.dumps(result.structured_content)


@pytest.mark.subprocess
def test_a_second_install_says_the_code_is_single_use_and_how_to_start_over(tmp_path: Path):
    env = clean_env(tmp_path, RAILS_TENANT="twice", RAILS_CONFIG_DIR=str(tmp_path / "config"))
    assert cli("install", *INSTALL, env=env).returncode == 0
    second = cli("install", *INSTALL, env=env)
    assert second.returncode == 2
    assert_one_clean_error_line(second.stderr)
    assert "invalid_access_code" in second.stderr
    assert "rails-mcp reset-tenant twice" in second.stderr
    assert "--tenant" in second.stderr

    assert cli("reset-tenant", "twice", env=env).returncode == 0
    again = cli("install", *INSTALL, env=env)
    assert again.returncode == 0, again.stderr


# --- one settings reader; flags generated from it -----------------------------------------

SERVER_SETTINGS = ("tenant", "order_approval", "max_order_total", "read_only", "tools", "audit_log", "db")


@pytest.mark.parametrize("command", [[], ["serve"]])
def test_serve_and_bare_rails_mcp_offer_a_flag_for_every_setting_naming_its_variable(command: list[str]):
    out = CliRunner().invoke(main, [*command, "--help"]).stdout
    flat = " ".join(out.split())
    for field in SERVER_SETTINGS:
        assert flag_name(field) in flat, field
        assert env_name(field) in flat, field
    assert ("--auth-token" in flat) == (command == ["serve"])


def test_the_settings_class_reads_the_new_controls_from_their_variables(monkeypatch: pytest.MonkeyPatch):
    for name, value in {
        "RAILS_ORDER_APPROVAL": "require",
        "RAILS_MAX_ORDER_TOTAL": "2500.50",
        "RAILS_READ_ONLY": "1",
        "RAILS_TOOLS": "get_repair_job, list_parts",
        "RAILS_AUDIT_LOG": "/var/log/rails/audit.jsonl",
        "RAILS_SANDBOX_DB": "/srv/rails/sandbox.sqlite3",
        "RAILS_STATE_DIR": "/srv/rails",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.order_approval == "require"
    assert str(settings.max_order_total) == "2500.50"
    assert settings.read_only is True
    assert settings.tools == ["get_repair_job", "list_parts"]
    assert settings.audit_log_path() == Path("/var/log/rails/audit.jsonl")
    assert settings.sandbox_db() == Path("/srv/rails/sandbox.sqlite3")
    monkeypatch.delenv("RAILS_AUDIT_LOG")
    assert Settings().audit_log_path() == Path("/srv/rails/audit.jsonl")


def test_a_flag_wins_over_its_variable_and_the_variable_is_read_when_no_flag_is_given(tmp_path: Path):
    runner = CliRunner(env={"RAILS_SANDBOX_DB": str(tmp_path / "from-env.sqlite3")})
    from_env = runner.invoke(main, ["reset-tenant", "t"])
    from_flag = runner.invoke(main, ["reset-tenant", "t", "--db", str(tmp_path / "from-flag.sqlite3")])
    assert from_env.exit_code == 0, from_env.output
    assert str(tmp_path / "from-env.sqlite3") in from_env.stdout
    assert from_flag.exit_code == 0, from_flag.output
    assert str(tmp_path / "from-flag.sqlite3") in from_flag.stdout


def test_nothing_but_the_settings_class_reads_the_environment():
    readers = re.compile(r"os\.environ|getenv|envvar\s*=|auto_envvar_prefix\s*=")
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "rails_mcp").rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if readers.search(line) and not line.lstrip().startswith(("#", '"', "``"))
    ]
    assert offenders == []


# --- every mistake: one line, exit 2 ------------------------------------------------------

MISTAKES = [
    pytest.param(["reset-tenant", "Bad Name!"], {}, "TENANT", id="bad-tenant-argument"),
    pytest.param(["serve", "--port", "99999"], {}, "--port", id="port-out-of-range"),
    pytest.param(["serve", "--port", "http"], {}, "--port", id="port-not-a-number"),
    pytest.param(["--tools", "get_repair_job,no_such_tool"], {}, "no_such_tool", id="unknown-tool"),
    pytest.param(["serve", "--order-approval", "sometimes"], {}, "--order-approval", id="bad-choice"),
    pytest.param(["serve", "--max-order-total", "-5"], {}, "--max-order-total", id="negative-limit"),
    pytest.param([], {"RAILS_TIMEOUT_SECONDS": "soon"}, "RAILS_TIMEOUT_SECONDS", id="bad-env-number"),
    pytest.param([], {"RAILS_READ_ONLY": "perhaps"}, "RAILS_READ_ONLY", id="bad-env-bool"),
    pytest.param(["serve"], {"RAILS_TENANT": "Not/A Tenant"}, "RAILS_TENANT", id="bad-env-tenant"),
    pytest.param(["demo", "--tenant", "UPPER"], {}, "--tenant", id="bad-demo-tenant"),
    pytest.param(
        ["install", "--access-code", "a", "--client-id", "b"], {}, "--client-secret", id="no-secret"
    ),
    pytest.param(["config", "cursor", "--env", "RAILS_NOPE=1"], {}, "RAILS_NOPE", id="unknown-setting"),
    pytest.param(["no-such-command"], {}, "no-such-command", id="unknown-command"),
]


@pytest.mark.parametrize(("args", "env", "named"), MISTAKES)
def test_every_cli_mistake_is_one_line_on_stderr_with_exit_code_2(
    args: list[str], env: dict[str, str], named: str, tmp_path: Path
):
    result = CliRunner(env={"RAILS_STATE_DIR": str(tmp_path), **env}).invoke(main, args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    assert_one_clean_error_line(result.stderr)
    assert named in result.stderr


@pytest.mark.subprocess
def test_a_real_process_reports_a_mistake_in_one_line_with_exit_code_2_and_no_secret(tmp_path: Path):
    bad_tenant = cli("reset-tenant", "Bad Name!", env=clean_env(tmp_path))
    half_pair = cli(env=clean_env(tmp_path, RAILS_API_KEY="partly_secret_value_123"))
    for proc in (bad_tenant, half_pair):
        assert proc.returncode == 2
        assert proc.stdout == ""
        assert_one_clean_error_line(proc.stderr)
    assert "RAILS_INTEGRATION_ID" in half_pair.stderr
    assert "partly_secret_value_123" not in half_pair.stderr


# --- what a person sees when starting it --------------------------------------------------


@pytest.mark.subprocess
def test_bare_rails_mcp_on_a_terminal_says_in_one_line_it_speaks_mcp_on_stdio_and_how_to_try_it(
    tmp_path: Path,
):
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        rails_mcp_command(),
        env=clean_env(tmp_path),
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(follower)
    try:
        os.write(leader, b"\x04")  # Ctrl-D: end of input on the terminal
        _, err = proc.communicate(timeout=60)
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = err.decode()
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "MCP on stdio" in lines[0]
    assert "rails-mcp demo" in lines[0]
    assert "rails-mcp config claude-desktop" in lines[0]


@pytest.mark.subprocess
def test_bare_rails_mcp_on_a_pipe_prints_nothing_to_stderr(tmp_path: Path):
    proc = cli(env=clean_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


@pytest.mark.subprocess
def test_serve_says_where_it_listens_in_one_human_line_and_logs_no_warning(tmp_path: Path):
    port = free_port()
    proc = subprocess.Popen(
        rails_mcp_command("serve", "--transport", "streamable-http", "--port", str(port)),
        env=clean_env(tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                httpx2.get(f"http://127.0.0.1:{port}/", timeout=1.0)
                break
            except httpx2.TransportError:
                time.sleep(0.1)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    text = err.decode()
    scan_output("rails-mcp serve stderr", text)
    assert f"MCP over streamable-http on http://127.0.0.1:{port}/mcp" in text
    assert "WARNING" not in text
    assert "Traceback" not in text


# --- snippets that start OUR server ---------------------------------------------------------


def test_no_readme_or_example_snippet_runs_bare_uvx_rails_mcp():
    """``uvx rails-mcp`` resolves an unrelated package index project; ``--from`` must name ours."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    bare = [
        m.group(0) for m in re.finditer(r"uvx\b[^\n`]*?\brails-mcp\b", readme) if "--from" not in m.group(0)
    ]
    assert bare == []
    example = json.loads((ROOT / "claude_desktop_config.example.json").read_text(encoding="utf-8"))
    for server in example["mcpServers"].values():
        command, args = server["command"], server.get("args", [])
        if Path(command).name == "uvx":
            assert "--from" in args
            assert args.index("--from") < args.index("rails-mcp")
        else:
            assert Path(command).is_absolute(), command


def test_the_readme_documents_every_setting_by_its_variable():
    """In the README or in a page under docs/ (the README links them)."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    readme = "\n".join(page.read_text(encoding="utf-8") for page in pages)
    missing = [env_name(field) for field in Settings.model_fields if f"`{env_name(field)}`" not in readme]
    assert missing == []
