"""OAuth settings: all or nothing, one way of guarding HTTP at a time, TLS off loopback.

Each inconsistency stops start-up with one line naming the variables, before anything runs.
"""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from rails_mcp.auth.tokens import resource_server_from_settings
from rails_mcp.cli import main
from rails_mcp.config import ConfigError, load_settings

PUBLIC = "https://mcp.example.com/mcp"
ISSUER = "https://login.example.com"


@pytest.fixture(autouse=True)
def no_rails_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("RAILS_")]:
        monkeypatch.delenv(name)


def refusal(monkeypatch: pytest.MonkeyPatch, **variables: str) -> str:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_without_an_issuer_oauth_is_off(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RAILS_PUBLIC_URL", PUBLIC)
    assert resource_server_from_settings(load_settings()) is None


def test_the_audience_defaults_to_the_public_url_and_the_issuer_is_kept_exactly(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("RAILS_AUTH_ISSUER", ISSUER)  # no trailing slash added: issuers compare exactly
    monkeypatch.setenv("RAILS_PUBLIC_URL", PUBLIC)
    server = resource_server_from_settings(load_settings())
    assert server is not None
    assert (server.issuer, server.audience, server.resource_url, server.jwks_url) == (
        ISSUER,
        PUBLIC,
        PUBLIC,
        None,
    )
    monkeypatch.setenv("RAILS_AUTH_AUDIENCE", "api://rails")
    monkeypatch.setenv("RAILS_AUTH_JWKS_URL", "https://login.example.com/keys")
    server = resource_server_from_settings(load_settings())
    assert server is not None
    assert (server.audience, server.jwks_url) == ("api://rails", "https://login.example.com/keys")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_an_http_issuer_is_allowed_on_loopback_only(monkeypatch: pytest.MonkeyPatch, host: str):
    monkeypatch.setenv("RAILS_AUTH_ISSUER", f"http://{host}:9000")
    monkeypatch.setenv("RAILS_PUBLIC_URL", PUBLIC)
    assert load_settings().auth_issuer == f"http://{host}:9000"


@pytest.mark.parametrize(
    ("variables", "said"),
    [
        (
            {"RAILS_AUTH_ISSUER": "http://login.example.com", "RAILS_PUBLIC_URL": PUBLIC},
            "RAILS_AUTH_ISSUER must be https",
        ),
        (
            {
                "RAILS_AUTH_ISSUER": ISSUER,
                "RAILS_PUBLIC_URL": PUBLIC,
                "RAILS_AUTH_JWKS_URL": "http://keys.example.com/j",
            },
            "RAILS_AUTH_JWKS_URL must be https",
        ),
        ({"RAILS_AUTH_ISSUER": ISSUER}, "RAILS_AUTH_ISSUER needs RAILS_PUBLIC_URL"),
        (
            {"RAILS_AUTH_ISSUER": ISSUER, "RAILS_PUBLIC_URL": PUBLIC, "RAILS_MCP_TOKEN": "t" * 32},
            "RAILS_MCP_TOKEN (one shared token), not both",
        ),
        ({"RAILS_AUTH_AUDIENCE": PUBLIC}, "RAILS_AUTH_AUDIENCE needs RAILS_AUTH_ISSUER"),
        (
            {"RAILS_AUTH_JWKS_URL": "https://login.example.com/keys"},
            "RAILS_AUTH_JWKS_URL needs RAILS_AUTH_ISSUER",
        ),
        (
            {"RAILS_AUTH_ISSUER": "login.example.com", "RAILS_PUBLIC_URL": PUBLIC},
            "RAILS_AUTH_ISSUER: must be an http(s) URL",
        ),
        (
            {"RAILS_AUTH_ISSUER": ISSUER, "RAILS_PUBLIC_URL": "mcp.example.com/mcp"},
            "RAILS_PUBLIC_URL: must be an http(s) URL",
        ),
    ],
)
def test_an_inconsistent_oauth_setting_stops_start_up_in_one_line(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], said: str
):
    assert said in refusal(monkeypatch, **variables)


def test_the_cli_refuses_it_in_one_line_without_a_traceback(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RAILS_AUTH_ISSUER", "http://login.example.com")
    monkeypatch.setenv("RAILS_PUBLIC_URL", PUBLIC)
    result = CliRunner().invoke(main, ["serve", "--transport", "streamable-http"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        "rails-mcp: error: invalid configuration: "
        "RAILS_AUTH_ISSUER must be https (http is allowed only on loopback)"
    ]
