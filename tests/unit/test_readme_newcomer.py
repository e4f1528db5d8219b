"""The README's first screen is enough: clone, the two commands, a host entry, the Inspector's
tools/list, in that order, within the first 60 lines; and what the tests cost, said up front."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRST_SCREEN = 60

INSTALL_AND_DEMO = 'python3 -m venv .venv && .venv/bin/pip install -e ".[dev]" && .venv/bin/rails-mcp demo'
TESTS = ".venv/bin/python -m pytest\n"
FAST_SUBSET = '.venv/bin/python -m pytest -q --ignore=tests/e2e -m "not subprocess"'


def _first_screen() -> str:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(lines[:FIRST_SCREEN])


def test_the_newcomer_path_is_on_the_first_screen_in_order():
    screen = _first_screen()
    steps = [
        "git clone",
        INSTALL_AND_DEMO,
        TESTS,
        "rails-mcp config claude-desktop",
        "--method tools/list",
    ]
    where = [screen.find(step) for step in steps]
    missing = [step for step, at in zip(steps, where, strict=True) if at < 0]
    assert missing == [], f"not in README's first {FIRST_SCREEN} lines: {missing}"
    assert where == sorted(where), f"out of order: {dict(zip(steps, where, strict=True))}"


def test_the_first_lines_say_what_rails_is_before_any_command():
    screen = _first_screen()
    said = re.search(r"\*\*Rails\*\* is [^.]*API[^.]*\.", screen)
    assert said is not None
    assert said.start() < screen.index("```")


def test_the_cost_of_the_tests_and_the_fast_subset_are_said_next_to_the_command():
    screen = _first_screen()
    assert re.search(r"about \d+\s+minutes", screen)
    assert "750 MB" in screen
    assert FAST_SUBSET in screen
    markers = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"][
        "ini_options"
    ]["markers"]
    assert any(m.startswith("subprocess:") for m in markers)  # the subset's marker exists


def test_the_inspector_note_on_variables_sits_by_the_inspector_command():
    screen = _first_screen()
    note = screen.find("-e KEY=VALUE")
    command = screen.find("npx -y @modelcontextprotocol/inspector")
    assert note >= 0
    assert command >= 0
    assert abs(command - note) < 400


def test_the_first_screen_never_starts_the_server_by_its_package_index_name():
    screen = _first_screen()
    assert not re.search(r"\buvx\s+rails-mcp\b", screen)
    assert not re.search(r"\bpip install rails-mcp\b", screen)
