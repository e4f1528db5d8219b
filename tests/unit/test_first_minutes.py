"""What a newcomer meets in the first ten minutes, each seen when tried by hand: a busy port, a
state dir that cannot be written, a wrong RAILS_BASE_URL, a tenant reset under an installed
credential, a mistyped setting. Each answer names the cause and the setting that fixes it."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
import stamina
from click.testing import CliRunner
from mcp import Client

from rails_mcp.cli import main
from rails_mcp.config import ConfigError, load_settings
from rails_mcp.hosting import open_server
from rails_mcp.runtime import open_rails
from rails_mcp.server import build_server
from tests.support.mcp_support import isolate_environment
from tests.support.process_support import free_port

JOB = {"job": {"external": "CCC-2026-04817"}}
INSTALL = ["--access-code", "ac_demo_valid_15m", "--client-id", "partly_client_demo"]
SECRET = "secret_demo_8f3a"


@pytest.fixture(autouse=True)
def _own_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("RAILS_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port another process (here: this one) already listens on."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        yield held.getsockname()[1]


def _one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("rails-mcp: error: "), output
    return lines[0]


# --- ports and state dirs: one line, exit 2, before any banner ------------------------------------


def test_serve_on_a_busy_port_says_so_in_one_line_naming_port_and_prints_no_banner(busy_port: int):
    result = CliRunner().invoke(main, ["serve", "--transport", "streamable-http", "--port", str(busy_port)])
    assert result.exit_code == 2
    line = _one_error_line(result.output)
    assert f"port {busy_port}" in line
    assert "--port" in line
    assert "Errno" not in line
    assert "MCP over" not in result.output  # the banner is said only once the port is bound


def test_a_command_group_without_its_subcommand_shows_its_help_laid_out_exit_2():
    result = CliRunner().invoke(main, ["audit"], prog_name="rails-mcp")
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert lines[0] == "Usage: rails-mcp audit [OPTIONS] COMMAND [ARGS]..."
    assert any(line.strip().startswith("export") for line in lines)  # one command a line


def test_the_sandbox_on_a_busy_port_says_so_in_one_line_too(busy_port: int):
    result = CliRunner().invoke(main, ["sandbox", "--port", str(busy_port)])
    assert result.exit_code == 2
    assert "--port" in _one_error_line(result.output)
    assert "Rails sandbox on" not in result.output


def test_the_sandbox_with_a_state_dir_it_cannot_create_says_what_serve_says(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    state = str(blocker / "state")
    sandbox = CliRunner().invoke(main, ["sandbox", "--state-dir", state, "--port", str(free_port())])
    served = CliRunner().invoke(main, ["serve", "--transport", "streamable-http", "--state-dir", state])
    assert sandbox.exit_code == served.exit_code == 2
    said = _one_error_line(sandbox.output)
    assert said == _one_error_line(served.output)
    assert "RAILS_STATE_DIR" in said
    assert "unexpected" not in said


# --- settings in words ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("RAILS_APPROVAL_KEY", "too-short", "at least 32 characters"),
        ("RAILS_MCP_TOKEN", "short", "at least 16 characters"),
        ("RAILS_BASE_URL", "localhost:8787", "http://127.0.0.1:8787"),
        ("RAILS_BASE_URL", "not a url", "full http:// or https:// URL"),
        ("RAILS_TIMEOUT_SECONDS", "abc", "more than 0 and at most 300"),
        ("RAILS_RESULT_TOKEN_BUDGET", "999999", "at most 25000"),
        ("RAILS_INTEGRATION_ID", "nope", "0c000000-0000-4000-8000-000000000001"),
        ("RAILS_READ_ONLY", "perhaps", "1, true, yes or on"),
        ("RAILS_LOG_LEVEL", "loud", "'debug', 'info', 'warning', 'error'"),
    ],
)
def test_a_bad_setting_is_named_with_what_is_wrong_and_a_value_that_works(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, said: str
):
    monkeypatch.setenv(variable, value)
    if variable == "RAILS_INTEGRATION_ID":
        monkeypatch.setenv("RAILS_API_KEY", "partly_any_key_of_the_test")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    message = str(refused.value)
    assert message.startswith(f"invalid configuration: {variable}: ")
    assert said in message
    for internal in ("items after validation", "relative URL without a base", "Input should", "pattern"):
        assert internal not in message
    assert value not in message or variable == "RAILS_RESULT_TOKEN_BUDGET"  # never echoes a key


# --- a RAILS_BASE_URL that nothing listens on ----------------------------------------------------------


def test_a_dead_wire_is_named_by_address_and_called_down_after_repeated_refusals(
    caplog: pytest.LogCaptureFixture,
):
    port = free_port()  # nothing listens there
    settings = load_settings(base_url=f"http://someone:hunter2@127.0.0.1:{port}/rails?token=abc")
    address = f"http://127.0.0.1:{port}/rails"

    async def three_calls() -> list[dict[str, str]]:
        rails = open_rails(settings)
        async with Client(build_server(rails)) as client:
            errors: list[dict[str, str]] = []
            for _ in range(3):
                result = await client.call_tool("get_repair_job", JOB)
                assert result.is_error
                assert result.structured_content is not None
                errors.append(result.structured_content["error"])
        await rails.client.aclose()
        return errors

    with stamina.set_testing(True, attempts=3, cap=True), caplog.at_level(logging.WARNING):
        first, _, third = anyio.run(three_calls)
    for error in (first, third):
        assert error["code"] == "connection_error"
        assert address in error["message"]
        assert "hunter2" not in str(error)
        assert "token=abc" not in str(error)
        assert "RAILS_BASE_URL" in error["fix"]
    assert "Nothing is listening at" in third["message"]
    assert "retrying will not help" in third["fix"]
    # Once down, a call tries once: no stamina retry warnings for it.
    retries = [r for r in caplog.records if r.name == "stamina"]
    assert len(retries) <= 2, [r.getMessage() for r in retries]


def test_serving_a_dead_wire_warns_at_start_up_naming_the_address(caplog: pytest.LogCaptureFixture):
    port = free_port()
    settings = load_settings(base_url=f"http://someone:hunter2@127.0.0.1:{port}")
    with caplog.at_level(logging.WARNING):
        open_server(settings, transport="stdio")
    warned = [r.getMessage() for r in caplog.records if r.name == "rails_mcp.hosting"]
    assert any(f"http://127.0.0.1:{port}" in w and "RAILS_BASE_URL" in w for w in warned), warned
    assert not any("hunter2" in w for w in warned)


# --- a tenant reset under an installed credential -------------------------------------------------------


def test_resetting_a_tenant_install_stored_a_credential_for_warns_and_the_refusal_names_the_cause(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("RAILS_CLIENT_SECRET", SECRET)
    runner = CliRunner()
    installed = runner.invoke(main, ["install", "--tenant", "shop", *INSTALL])
    assert installed.exit_code == 0, installed.output
    reset = runner.invoke(main, ["reset-tenant", "shop"])
    assert reset.exit_code == 0, reset.output
    assert "refused (unauthorized)" in reset.output
    assert "rails-mcp install --tenant shop" in reset.output

    async def one_call() -> dict[str, str]:
        rails = open_rails(load_settings(tenant="shop"))
        async with Client(build_server(rails)) as client:
            result = await client.call_tool("get_repair_job", JOB)
        await rails.client.aclose()
        assert result.is_error
        assert result.structured_content is not None
        return result.structured_content["error"]

    error = anyio.run(one_call)
    assert error["code"] == "unauthorized"
    assert "reset-tenant" in error["fix"]
    assert "rails-mcp install" in error["fix"]


def test_resetting_a_tenant_with_no_installed_credential_says_nothing_more():
    reset = CliRunner().invoke(main, ["reset-tenant", "plain"])
    assert reset.exit_code == 0
    assert reset.output.strip().splitlines() == [reset.output.strip()]
    assert "unauthorized" not in reset.output
