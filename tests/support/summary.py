"""Lines a test wants in the run's closing summary (printed by tests/conftest.py)."""

from __future__ import annotations

SUMMARY: list[str] = []


def add_summary(line: str) -> None:
    SUMMARY.append(line)
