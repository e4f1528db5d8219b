"""``rails-mcp config HOST``: the entry a host needs to start THIS installation, printed or merged."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from rails_mcp.cli import main
from rails_mcp.config import ConfigError
from rails_mcp.hostconfig import Locations, config_path, plan, write_entry
from tests.support.process_support import clean_env, rails_mcp_command
from tests.support.secret_scan import scan_output

SECRET = "partly_0123456789abcdef0123456789abcdef"
INTEGRATION = "0c000000-0000-4000-8000-000000000001"


def printed(*args: str) -> tuple[str, str]:
    result = CliRunner().invoke(main, ["config", *args])
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


@pytest.mark.subprocess
@pytest.mark.anyio
async def test_the_generated_claude_desktop_entry_starts_this_server_and_it_lists_13_tools(tmp_path: Path):
    out, _ = printed(
        "claude-desktop", "--env", "RAILS_TENANT=hostcfg", "--env", f"RAILS_STATE_DIR={tmp_path / 'state'}"
    )
    entry = json.loads(out)["mcpServers"]["rails"]
    assert Path(entry["command"]).is_absolute()
    assert entry["args"] == ["-m", "rails_mcp"]
    assert entry["env"] == {"RAILS_TENANT": "hostcfg", "RAILS_STATE_DIR": str(tmp_path / "state")}
    # As a host starts it: its own working directory, none of this shell's RAILS_* settings.
    params = StdioServerParameters(
        command=entry["command"], args=entry["args"], env=entry["env"], cwd=str(tmp_path)
    )
    async with Client(stdio_client(params)) as client:
        listed = await client.list_tools()
        job = await client.call_tool("get_repair_job", {"job": {"external": "CCC-2026-04817"}})
    assert len(listed.tools) == 13
    assert not job.is_error
    assert (tmp_path / "state" / "sandbox.sqlite3").exists()


def test_each_host_gets_its_own_shape_vscode_under_servers_with_a_stdio_type():
    desktop = json.loads(printed("claude-desktop")[0])
    cursor = json.loads(printed("cursor")[0])
    vscode = json.loads(printed("vscode")[0])
    assert set(desktop) == set(cursor) == {"mcpServers"}
    assert "type" not in desktop["mcpServers"]["rails"]
    assert vscode["servers"]["rails"]["type"] == "stdio"
    assert vscode["servers"]["rails"]["args"] == ["-m", "rails_mcp"]


def test_claude_code_gets_a_claude_mcp_add_line_that_runs_this_python():
    out, _ = printed("claude-code", "--env", "RAILS_TENANT=my-shop", "--name", "rails-shop")
    words = shlex.split(out)
    assert words[:3] == ["claude", "mcp", "add"]
    assert words[words.index("-e") + 1] == "RAILS_TENANT=my-shop"
    assert words[words.index("--scope") + 1] == "user"
    dashes = words.index("--")
    assert words[dashes - 1] == "rails-shop"
    assert Path(words[dashes + 1]).is_absolute()
    assert words[dashes + 2 :] == ["-m", "rails_mcp"]


def test_secrets_given_as_env_are_left_out_with_a_note_unless_asked(tmp_path: Path):
    args = ["cursor", "--env", f"RAILS_API_KEY={SECRET}", "--env", f"RAILS_INTEGRATION_ID={INTEGRATION}"]
    out, err = printed(*args, "--env", "RAILS_TENANT=shop")
    assert SECRET not in out + err
    assert json.loads(out)["mcpServers"]["rails"]["env"] == {"RAILS_TENANT": "shop"}
    assert "left out RAILS_API_KEY and RAILS_INTEGRATION_ID" in err
    assert "rails-mcp install" in err

    out, _ = printed(*args, "--include-secrets")
    assert json.loads(out)["mcpServers"]["rails"]["env"] == {
        "RAILS_API_KEY": SECRET,
        "RAILS_INTEGRATION_ID": INTEGRATION,
    }


def test_an_invalid_setting_for_the_entry_is_refused_naming_the_variable():
    result = CliRunner().invoke(main, ["config", "claude-desktop", "--env", "RAILS_ORDER_APPROVAL=maybe"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "RAILS_ORDER_APPROVAL" in result.stderr


def test_write_merges_the_entry_keeping_other_servers_and_keys_and_a_timestamped_backup(tmp_path: Path):
    where = Locations(home=tmp_path / "home", config_home=tmp_path / "config")
    path = config_path("claude-desktop", where)
    path.parent.mkdir(parents=True)
    original: dict[str, Any] = {
        "globalShortcut": "Ctrl+Space",
        "mcpServers": {"other": {"command": "/usr/bin/other-server"}},
    }
    path.write_text(json.dumps(original), encoding="utf-8")

    first = write_entry(
        plan("claude-desktop", name="rails", env_assignments=["RAILS_TENANT=a"], where=where),
        now=datetime(2026, 11, 23, 9, 0, 0),
    )
    second = write_entry(
        plan("claude-desktop", name="rails", env_assignments=["RAILS_TENANT=b"], where=where),
        now=datetime(2026, 11, 23, 9, 0, 1),
    )

    assert first is not None
    assert first == path.with_name("claude_desktop_config.json.20261123-090000.bak")
    assert json.loads(first.read_text(encoding="utf-8")) == original
    assert second is not None
    assert json.loads(second.read_text(encoding="utf-8"))["mcpServers"]["rails"]["env"] == {
        "RAILS_TENANT": "a"
    }
    merged = json.loads(path.read_text(encoding="utf-8"))
    assert merged["globalShortcut"] == "Ctrl+Space"
    assert merged["mcpServers"]["other"] == {"command": "/usr/bin/other-server"}
    assert merged["mcpServers"]["rails"]["env"] == {"RAILS_TENANT": "b"}


def test_write_refuses_a_file_it_cannot_read_as_json_and_leaves_it_unchanged(tmp_path: Path):
    path = tmp_path / "mcp.json"
    text = '// my servers\n{ "servers": {} }\n'
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="not plain JSON"):
        write_entry(plan("vscode", name="rails", path=path))
    assert path.read_text(encoding="utf-8") == text
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("host", "relative", "key"),
    [
        ("claude-desktop", "xdg/Claude/claude_desktop_config.json", "mcpServers"),
        ("claude-code", "home/.claude.json", "mcpServers"),
        ("cursor", "home/.cursor/mcp.json", "mcpServers"),
        ("vscode", "xdg/Code/User/mcp.json", "servers"),
    ],
)
def test_write_finds_each_hosts_documented_file_from_home_and_xdg_config_home(
    tmp_path: Path, host: str, relative: str, key: str
):
    env = clean_env(
        tmp_path / "state",
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),
        APPDATA=str(tmp_path / "appdata"),
    )
    proc = subprocess.run(
        rails_mcp_command("config", host, "--write", "--env", "RAILS_TENANT=my-shop"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    scan_output(f"rails-mcp config {host}", proc.stdout + proc.stderr)
    assert proc.returncode == 0, proc.stderr
    written = json.loads((tmp_path / relative).read_text(encoding="utf-8"))
    entry = written[key]["rails"]
    assert entry["command"] == str(Path(sys.executable).absolute())
    assert entry["env"] == {"RAILS_TENANT": "my-shop"}
    assert str(tmp_path / relative) in proc.stderr
