"""One registry of error codes: every code the source can emit is in it and in guide://errors,
the README's table is generated from it, and an error with an unregistered code cannot be built."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from uuid import UUID

import httpx2
import pytest
import stamina
from pydantic import ValidationError

from rails_mcp.client import Credentials, RailsClient, RetryPolicy
from rails_mcp.errors import ToolError, WireContext, wire_error
from rails_mcp.errors.codes import readme_with_error_table
from rails_mcp.resources.guides import ERRORS_GUIDE
from rails_mcp.wire import errors as e
from rails_mcp.wire import models as m
from rails_mcp.wire.codes import CODES, ErrorCode

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "rails_mcp"
#: Calls whose first positional argument is an error code.
_CODE_FIRST = {"GuardRefusal", "approval_refusal"}


def _strings(node: ast.AST | None) -> list[str]:
    """The string constants of a literal: a string, or a set/list/tuple/frozenset(...) of them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Set | ast.List | ast.Tuple):
        return [s for item in node.elts for s in _strings(item)]
    if isinstance(node, ast.Call) and node.args:
        return _strings(node.args[0])
    return []


def _is_code(node: ast.AST) -> bool:
    """``x.code``, ``code`` or ``x.get("code")``: an expression holding an error code."""
    if isinstance(node, ast.Attribute):
        return node.attr == "code"
    if isinstance(node, ast.Name):
        return node.id == "code"
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and _strings(node.args[0] if node.args else None) == ["code"]
    )


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def codes_in(tree: ast.Module) -> set[str]:
    """Every string literal this module uses as an error code: ``code="..."``, ``{"code": "..."}``,
    ``GuardRefusal("...")``, ``approval_refusal("...")`` and comparisons of a code with literals or
    with a module-level set of them."""
    module_sets = {
        target.id: _strings(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            found.update(s for kw in node.keywords if kw.arg == "code" for s in _strings(kw.value))
            if _callee(node) in _CODE_FIRST and node.args:
                found.update(_strings(node.args[0]))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if _strings(key) == ["code"]:
                    found.update(_strings(value))
        elif isinstance(node, ast.Compare) and _is_code(node.left):
            for right in node.comparators:
                found.update(
                    module_sets.get(right.id, []) if isinstance(right, ast.Name) else _strings(right)
                )
    return found


def emitted_codes() -> dict[str, set[str]]:
    """Code → the modules of rails_mcp/ (the sandbox aside: it speaks only wire codes) that use it."""
    where: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "sandbox" in path.parts:
            continue
        for code in codes_in(ast.parse(path.read_text(encoding="utf-8"))):
            where.setdefault(code, set()).add(str(path.relative_to(ROOT)))
    return where


def test_the_walk_finds_codes_in_every_place_they_are_written():
    # The walk itself must bite: codes written as keywords, in dicts, as refusal arguments and
    # in comparisons with a module's own sets are all seen.
    tree = ast.parse(
        "SETS = frozenset({'from_a_set'})\n"
        "ToolError(code='as_keyword')\n"
        "update = {'code': 'in_a_dict'}\n"
        "GuardRefusal('guard_first', 'm', 'f')\n"
        "approval_refusal('approval_first')\n"
        "if error.code in SETS or error.code == 'compared' or d.get('code') != 'got': pass\n"
    )
    assert codes_in(tree) == {
        "from_a_set",
        "as_keyword",
        "in_a_dict",
        "guard_first",
        "approval_first",
        "compared",
        "got",
    }


def test_every_code_the_source_names_is_registered_and_explained_in_the_errors_guide():
    where = emitted_codes()
    # Bare strings still written by modules that predate the enum (tools, approval, repair).
    assert {"invalid_arguments", "placement_not_landed", "approval_expired", "part_already_ordered"} <= set(
        where
    )
    unregistered = {code: sorted(files) for code, files in where.items() if code not in set(ErrorCode)}
    assert not unregistered, f"codes missing from rails_mcp/wire/codes.py: {unregistered}"
    for code in ErrorCode:
        assert f"`{code}`" in ERRORS_GUIDE, code


def test_the_errors_guide_names_the_codes_it_used_to_leave_out():
    for code in ("read_only_mode", "tool_not_allowed", "over_spending_limit", "rate_limited"):
        assert f"| `{code}` |" in ERRORS_GUIDE
    assert sum(f"| `{c}` |" in ERRORS_GUIDE for c in ErrorCode if c.startswith("approval_")) == 5


def test_the_readme_error_table_is_generated_from_the_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_with_error_table(readme) == readme, (
        "README.md's error table is stale: run `python -m rails_mcp.errors.codes README.md`"
    )
    for code, info in CODES.items():
        assert f"| `{code}` |" in readme
        assert info.meaning in readme


def test_a_tool_error_with_an_unregistered_code_cannot_be_built():
    with pytest.raises(ValidationError, match="not in the error-code registry"):
        ToolError(code="made_up_code", message="m", fix="f", retryable=False)
    with pytest.raises(ValidationError, match="documented with retryable=False"):
        ToolError(code="not_found", message="m", fix="f", retryable=True)
    built = ToolError(code="not_found", message="m", fix="f", retryable=False)
    assert built.public()["code"] == "not_found"


def test_the_published_error_code_stays_a_plain_string():
    for path in sorted((ROOT / "tool_schemas").glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        error = schema["outputSchema"]["properties"]["error"]
        assert error["properties"]["code"]["type"] == "string", path.name
        assert "enum" not in error["properties"]["code"], path.name


def test_every_wire_class_takes_its_status_and_retryability_from_the_registry():
    classes = [c for c in vars(e).values() if isinstance(c, type) and issubclass(c, e.RailsAPIError)]
    coded = [c for c in classes if c not in {e.RailsAPIError, e.UnknownWireError}]
    assert {c.code for c in coded} == {c for c, info in CODES.items() if info.http_status}
    for cls in coded:
        assert cls.__doc__, cls.__name__
        assert cls.http_status == CODES[cls.code].http_status
        assert cls.retryable is CODES[cls.code].retryable
    for cls in (e.RailsTimeout, e.RailsConnectionError, e.MalformedResponse, e.RailsTransportError):
        assert cls.retryable is CODES[cls.code].retryable is True


# --- the wire's rate limit ----------------------------------------------------------------------


def _client(handler: httpx2.MockTransport) -> RailsClient:
    return RailsClient(
        base_url="https://rails.test",
        repairer=Credentials("partly_demo_repairer_3f8a1c0d9e2b4a67b1c2", str(UUID(int=1))),
        transport=handler,
        retry=RetryPolicy(attempts=3),
    )


@pytest.mark.anyio
@pytest.mark.parametrize("body", [{"type": "rate_limited"}, None], ids=["coded", "bare 429"])
async def test_a_rate_limited_read_is_retried_and_then_succeeds(body: object):
    answers = [httpx2.Response(429, json=body), httpx2.Response(200, json={"items": []})]
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return answers.pop(0)

    with stamina.set_testing(True, attempts=3, cap=True):
        async with _client(httpx2.MockTransport(handler)) as rails:
            listed = await rails.repairer.work_providers.list()
    assert listed.items == []
    assert len(seen) == 2


@pytest.mark.anyio
async def test_a_rate_limited_write_is_a_retryable_error_the_agent_is_told_to_retry():
    async with _client(
        httpx2.MockTransport(lambda _: httpx2.Response(429, json={"type": "rate_limited"}))
    ) as rails:
        with pytest.raises(e.RateLimited) as caught:
            await rails.repairer.jobs.insert(
                identity=m.ExternalIdentity(external="J-1"), repairer_site_id=UUID(int=1)
            )
    info = wire_error(caught.value, WireContext("open_repair_job"))
    assert (info.code, info.retryable, info.http_status) == ("rate_limited", True, 429)
    assert info.fix == "Retry the same call in a few seconds."


def test_an_unknown_wire_code_reaches_the_agent_as_a_registered_code_quoting_the_wire():
    exc = e.error_for_code("teapot_brewing", method="repairer.jobs.get", status=418)
    info = wire_error(exc, WireContext("get_repair_job"))
    assert info.code == "unknown_wire_error"
    assert '"teapot_brewing"' in info.message
    assert "HTTP 418" in info.message
    assert info.retryable is False
