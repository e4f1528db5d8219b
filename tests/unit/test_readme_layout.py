"""docs/layout.md (linked from the README) is the map of the code: it must name every module."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _layout() -> str:
    text = (ROOT / "docs" / "layout.md").read_text(encoding="utf-8")
    found = re.search(r"\A# Layout\n\n[^`]*?```\n(.*?)```", text, flags=re.S)
    assert found is not None, "docs/layout.md has no tree under its Layout title"
    return found.group(1)


def test_the_readme_links_the_layout_page():
    assert "(docs/layout.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_layout_page_names_every_module_of_the_package():
    layout = _layout()
    package = ROOT / "rails_mcp"
    names = {
        p.stem if p.is_file() else p.name
        for p in package.rglob("*")
        if (p.suffix == ".py" and p.stem not in {"__init__", "__main__"})
        or (p.is_dir() and p.name != "__pycache__")
    }
    missing = sorted(n for n in names if not re.search(rf"\b{re.escape(n)}\b", layout))
    assert missing == [], f"docs/layout.md does not name: {missing}"
