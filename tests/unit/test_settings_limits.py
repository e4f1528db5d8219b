"""Settings that bound money and connections: read strictly, refused with one clear line."""

from __future__ import annotations

from decimal import Decimal

import pytest
from click.testing import CliRunner

from rails_mcp.cli import main
from rails_mcp.config import ConfigError, Settings, load_settings


@pytest.mark.parametrize("value", ["1000", "2500.50", "0.01"])
def test_a_plain_decimal_order_limit_is_accepted(monkeypatch: pytest.MonkeyPatch, value: str):
    monkeypatch.setenv("RAILS_MAX_ORDER_TOTAL", value)
    assert load_settings().max_order_total == Decimal(value)


@pytest.mark.parametrize(
    "value", ["1_000", "１０００", "1e3", "Infinity", " 1000", "1,000", "+5", "0x10", "٣"]
)
def test_an_order_limit_that_is_not_a_plain_decimal_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, value: str
):
    monkeypatch.setenv("RAILS_MAX_ORDER_TOTAL", value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert "RAILS_MAX_ORDER_TOTAL" in message
    assert "plain decimal" in message
    assert "\n" not in message


def test_the_order_limit_flag_is_refused_in_one_line_naming_the_flag():
    result = CliRunner().invoke(main, ["serve", "--max-order-total", "1_000"])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "--max-order-total" in lines[0]
    assert "plain decimal" in lines[0]


def test_the_http_limits_have_safe_defaults_and_are_read_from_their_variables(
    monkeypatch: pytest.MonkeyPatch,
):
    defaults = Settings()
    assert defaults.http_header_timeout_seconds == 10
    assert defaults.http_body_timeout_seconds == 30
    assert defaults.http_session_idle_seconds == 600
    monkeypatch.setenv("RAILS_HTTP_HEADER_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("RAILS_HTTP_BODY_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("RAILS_HTTP_SESSION_IDLE_SECONDS", "60")
    settings = Settings()
    assert (
        settings.http_header_timeout_seconds,
        settings.http_body_timeout_seconds,
        settings.http_session_idle_seconds,
    ) == (2, 3, 60)


@pytest.mark.parametrize("variable", ["RAILS_HTTP_HEADER_TIMEOUT_SECONDS", "RAILS_HTTP_SESSION_IDLE_SECONDS"])
def test_a_zero_or_endless_http_limit_stops_start_up(monkeypatch: pytest.MonkeyPatch, variable: str):
    for bad in ("0", "inf"):
        monkeypatch.setenv(variable, bad)
        with pytest.raises(ConfigError, match=variable):
            load_settings()


@pytest.mark.parametrize("value", ["0", "65", "abc"])
def test_a_pool_size_out_of_range_stops_start_up_saying_what_works(
    monkeypatch: pytest.MonkeyPatch, value: str
):
    monkeypatch.setenv("RAILS_STATE_POOL_SIZE", value)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    message = str(refused.value)
    assert message.startswith("invalid configuration: RAILS_STATE_POOL_SIZE: ")
    assert "at least 1 and at most 64" in message
    assert "Input should" not in message
