"""Show that the import contracts bite: each forbidden import, planted in a copy, fails lint-imports.

Run by .ci/run among the cheap checks: ``python -m tests.support.contract_bites``. For each
case it copies ``rails_mcp/`` and ``pyproject.toml`` to a temporary directory, appends one
forbidden import to one module there, runs ``lint-imports`` against the copy and requires a
non-zero exit. An untouched copy must pass first, so a failure is the planted import's doing.
Exits 1 (and says which) when any planted import passes the contracts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: (module that must not, the import it must not make, the rule it breaks) — issue 7.
CASES = (
    ("rails_mcp.sandbox.world", "import rails_mcp.config", "the sandbox imports only rails_mcp.wire"),
    ("rails_mcp.sandbox.world", "import rails_mcp.client", "client and sandbox are independent"),
    ("rails_mcp.client", "import rails_mcp.sandbox", "client and sandbox are independent"),
    ("rails_mcp.guard", "import rails_mcp.client", "the guard imports no client"),
    ("rails_mcp.guard", "import httpx2", "the guard imports no HTTP library"),
    ("rails_mcp.guard", "import anyio", "the guard imports no async library"),
)


def module_file(root: Path, module: str) -> Path:
    base = root.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def copy_tree(into: Path) -> None:
    shutil.copytree(ROOT / "rails_mcp", into / "rails_mcp", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "pyproject.toml", into / "pyproject.toml")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the copy in ``root`` (its rails_mcp first on the import path)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    exe = shutil.which("lint-imports") or "lint-imports"
    return subprocess.run(
        [exe, "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def broken_lines(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if "BROKEN" in line or "is not allowed" in line]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        clean = Path(tmp) / "clean"
        copy_tree(clean)
        baseline = lint_imports(clean)
        if baseline.returncode != 0:
            print(baseline.stdout[-3000:] + baseline.stderr[-2000:])
            print("contract demo: the untouched copy already fails lint-imports; fix that first")
            return 1
        toothless: list[str] = []
        for number, (module, line, rule) in enumerate(CASES):
            root = Path(tmp) / f"case{number}"
            copy_tree(root)
            target = module_file(root, module)
            target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # planted\n", encoding="utf-8")
            result = lint_imports(root)
            bites = result.returncode != 0
            print(
                f"contract demo: {module} + `{line}` ({rule}): lint-imports exit {result.returncode}", end=""
            )
            print(" -> refused" if bites else " -> NOT refused")
            for broken in broken_lines(result.stdout)[:3]:
                print(f"    {broken}")
            if not bites:
                toothless.append(f"{module}: {line}")
        if toothless:
            print(
                "contract demo: FAILED, these forbidden imports pass the contracts: " + ", ".join(toothless)
            )
            return 1
        print(f"contract demo: all {len(CASES)} planted forbidden imports fail the import contracts")
        return 0


if __name__ == "__main__":
    sys.exit(main())
