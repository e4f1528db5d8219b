"""Fifty MCP clients at once on streamable HTTP, twenty calls each: no call may fail."""

from __future__ import annotations

import pytest

from bench.bench_http_load import run

pytestmark = pytest.mark.subprocess


def test_fifty_concurrent_clients_times_twenty_calls_on_streamable_http_see_zero_errors():
    result = run(clients=50, calls=20)
    assert result.errors == []
    assert len(result.latencies) == 1000
