"""``rails-mcp schemas --check`` as CI runs it: it passes on the committed tree, and fails in one
line when a published schema, or a model any tool's output uses, drifts from the files."""

from __future__ import annotations

import ast
import inspect
import shutil
import subprocess
from pathlib import Path

import pytest

import rails_mcp
from rails_mcp.resources import ProcurementEvent
from tests.support.process_support import clean_env, rails_mcp_command

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(rails_mcp.__file__).resolve().parent


def check(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        rails_mcp_command("schemas", "--check", *args),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def clone(tmp_path: Path) -> Path:
    """A copy of the package and its published schemas, as a fresh checkout holds them."""
    tree = tmp_path / "clone"
    shutil.copytree(PACKAGE, tree / "rails_mcp", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tool_schemas", tree / "tool_schemas")
    return tree


def add_field(source: str, class_name: str) -> str:
    """``source`` with one more integer field on ``class_name`` (after its docstring)."""
    lines = source.splitlines(keepends=True)
    [node] = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ClassDef) and n.name == class_name]
    first = node.body[0]
    has_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    at = first.end_lineno if has_doc and first.end_lineno is not None else first.lineno - 1
    indent = " " * first.col_offset
    return "".join([*lines[:at], f"{indent}drifted_count: int = 0\n", *lines[at:]])


@pytest.mark.subprocess
def test_the_check_passes_on_the_committed_tree(tmp_path: Path):
    proc = check(ROOT, clean_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "13 tool schemas match"


@pytest.mark.subprocess
def test_an_edited_schema_file_fails_the_check_in_one_line_naming_it(tmp_path: Path):
    out = tmp_path / "tool_schemas"
    shutil.copytree(ROOT / "tool_schemas", out)
    edited = out / "track_procurement.json"
    edited.write_text(edited.read_text(encoding="utf-8").replace('"type": "string"', '"type": "integer"', 1))
    proc = check(ROOT, clean_env(tmp_path), "--out", str(out))
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert "track_procurement.json" in line
    assert "rails-mcp schemas" in line


@pytest.mark.subprocess
def test_a_changed_output_model_outside_tools_fails_the_check(tmp_path: Path):
    """track_procurement's output carries a model of rails_mcp.resources: changing it must be
    caught, though no file of tools/, errors/ or wire/ changed."""
    tree = clone(tmp_path)
    module = tree / Path(inspect.getfile(ProcurementEvent)).resolve().relative_to(PACKAGE.parent)
    module.write_text(add_field(module.read_text(encoding="utf-8"), "ProcurementEvent"), encoding="utf-8")
    proc = check(tree, clean_env(tmp_path, PYTHONPATH=str(tree)))
    assert proc.returncode == 1, proc.stdout
    [line] = proc.stderr.strip().splitlines()
    assert "published_tools.json" in line
    assert "rails-mcp schemas" in line

    env = clean_env(tmp_path, PYTHONPATH=str(tree))
    written = subprocess.run(
        rails_mcp_command("schemas"), cwd=tree, env=env, capture_output=True, check=False
    )
    assert written.returncode == 0, written.stderr
    assert "drifted_count" in (tree / "tool_schemas" / "track_procurement.json").read_text(encoding="utf-8")
    assert check(tree, env).returncode == 0
