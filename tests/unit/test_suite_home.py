"""The suite itself must never write into a user's home: HOME is an empty directory of its own
(tests/support/home_guard.py), and a run that leaves anything there fails."""

from __future__ import annotations

import os
from pathlib import Path

from rails_mcp.config import Settings
from tests.conftest import HOME


def test_the_suite_runs_with_an_empty_home_of_its_own():
    assert Path.home() == HOME.home
    assert os.environ.get("XDG_DATA_HOME") is None


def test_the_default_state_directory_would_land_in_that_home_not_the_users():
    assert Settings().resolved_state_dir().is_relative_to(HOME.home)


def test_something_written_into_home_is_reported(tmp_path: Path):
    before = HOME.written()
    marker = HOME.home / ".home-guard-probe"
    marker.write_text("x")
    try:
        assert HOME.written() == sorted([*before, ".home-guard-probe"])
    finally:
        marker.unlink()
