"""What tools/list promises hosts and agents, and the protocol features around the tools.

Output schemas describe every nested object and array and admit the one error model; every
input property says what it is; the listing stays within its token budget; logging honours
``logging/setLevel``; an invalid cursor is refused; ``server/discover`` names every version.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, cast

import pytest
from jsonschema import Draft202012Validator
from mcp import Client, MCPDeprecationWarning, MCPError
from mcp_types import INVALID_PARAMS, LoggingMessageNotificationParams, PaginatedRequestParams
from pydantic import ValidationError

from rails_mcp.errors import ToolError
from rails_mcp.server import build_server
from rails_mcp.tools import TOOLS, Rails, compact_schema
from rails_mcp.tools.publish import SPENDING_LIMITED
from tests.support.mcp_support import JOB, QUICKSTART, TOOL_NAMES, mcp_session, settings_for

pytestmark = pytest.mark.anyio

MODEL_VISIBLE_BUDGET = 2850  # place_procurement's idempotency_key: +33
TOOLS_LIST_BUDGET = 9000


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str):
        return cast("dict[str, Any]", schema["$defs"][ref.rsplit("/", 1)[-1]])
    return node


def opaque_nodes(schema: dict[str, Any], node: Any = None, path: str = "$") -> list[str]:
    """Paths of objects without properties and arrays without items (all branches, all $defs)."""
    node = schema if node is None else node
    found: list[str] = []
    if isinstance(node, list):
        for i, item in enumerate(cast("list[Any]", node)):
            found += opaque_nodes(schema, item, f"{path}[{i}]")
        return found
    if not isinstance(node, dict):
        return found
    items = cast("dict[str, Any]", node)
    kinds = items.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "object" in kinds and "properties" not in items:
        found.append(path)
    if "array" in kinds and "items" not in items:
        found.append(path)
    for key, value in items.items():
        found += opaque_nodes(schema, value, f"{path}.{key}")
    return found


def undescribed_inputs(node: dict[str, Any], path: str, in_union: bool = False) -> list[str]:
    """Input properties without a description. The keys of a described union (an identity's
    ``external``/``id``, an identifier's ``vin``/``vrm``: branches, or one object taking exactly
    one of its keys) are what that description names, so they count as described."""
    missing: list[str] = []
    for name, prop in cast("dict[str, Any]", node.get("properties", {})).items():
        if "description" not in prop and not in_union:
            missing.append(f"{path}.{name}")
        union = "description" in prop
        missing += undescribed_inputs(
            prop, f"{path}.{name}", in_union=union and prop.get("maxProperties") == 1
        )
        for branch in prop.get("anyOf", []):
            missing += undescribed_inputs(branch, f"{path}.{name}", in_union=union)
        if "items" in prop:
            items = prop["items"]
            one_of_keys = union and items.get("maxProperties") == 1
            missing += undescribed_inputs(items, f"{path}.{name}[]", in_union=one_of_keys)
            for branch in items.get("anyOf", []):
                missing += undescribed_inputs(branch, f"{path}.{name}[]", in_union=union)
    return missing


async def _listed(tmp_path: Path) -> list[dict[str, Any]]:
    async with mcp_session(tmp_path) as s:
        return [t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in s.tools.values()]


async def test_every_output_schema_describes_each_nested_object_and_array(tmp_path: Path):
    for tool in await _listed(tmp_path):
        schema = tool["outputSchema"]
        assert schema["type"] == "object"
        assert "anyOf" not in schema
        assert schema["required"] == ["is_extension"]
        assert opaque_nodes(schema) == [], tool["name"]


async def test_every_output_schema_admits_the_error_with_all_eleven_fields(tmp_path: Path):
    """And the spending limit and budget, where an order total can be refused over them."""
    fields = set(ToolError.model_fields) - {"spending_limit", "budget"}
    assert len(fields) == 11
    for tool in await _listed(tmp_path):
        schema = tool["outputSchema"]
        error = _resolve(schema, schema["properties"]["error"])
        limited = {"spending_limit", "budget"} if tool["name"] in SPENDING_LIMITED else set()
        assert set(error["properties"]) == fields | limited, tool["name"]
        assert error["required"] == ["code", "message", "fix", "retryable"]
        example = error["properties"]["example_arguments"]
        assert set(example["properties"]) == set(tool["inputSchema"]["properties"]), tool["name"]


async def test_every_tool_that_returns_next_tool_declares_it(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        out = await s.ok("recommend_basket", {"job": JOB})
        assert "next_tool" in s.tools["recommend_basket"].output_schema["properties"]  # type: ignore[index]
    assert out["next_tool"] == "place_procurement"
    for tool in await _listed(tmp_path):
        declared = set(tool["outputSchema"]["properties"])
        name = tool["name"]
        if name not in {"get_repair_job", "list_parts", "list_procurements"}:
            assert "next_tool" in declared, name


async def test_every_input_property_says_what_it_is(tmp_path: Path):
    for tool in await _listed(tmp_path):
        assert undescribed_inputs(tool["inputSchema"], tool["name"]) == []


async def test_tools_list_stays_within_the_model_visible_and_whole_token_budgets(tmp_path: Path):
    listed = await _listed(tmp_path)
    visible = [
        {"name": t["name"], "description": t["description"], "inputSchema": t["inputSchema"]} for t in listed
    ]
    visible_tokens = len(json.dumps(visible)) / 4
    whole_tokens = len(json.dumps(listed)) / 4
    print(
        f"model-visible {visible_tokens:.0f} tokens (budget {MODEL_VISIBLE_BUDGET}); "
        f"whole tools/list {whole_tokens:.0f} tokens (budget {TOOLS_LIST_BUDGET})"
    )
    assert [t["name"] for t in listed] == list(TOOL_NAMES)
    assert visible_tokens <= MODEL_VISIBLE_BUDGET
    assert whole_tokens < TOOLS_LIST_BUDGET


async def test_the_published_input_schema_is_the_one_the_input_model_generates(tmp_path: Path):
    listed = {t["name"]: t for t in await _listed(tmp_path)}
    for tool in TOOLS:
        assert listed[tool.name]["inputSchema"] == compact_schema(tool.input_model)


async def test_an_invalid_pagination_cursor_is_refused_with_invalid_params(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        with pytest.raises(MCPError) as refused:
            await s.client.session.list_tools(params=PaginatedRequestParams(cursor="not-a-cursor"))
    assert refused.value.code == INVALID_PARAMS


async def test_server_discover_lists_both_protocol_eras_and_server_info_has_a_website_and_icon(
    tmp_path: Path,
):
    server = build_server(Rails(settings_rails(tmp_path)))
    async with Client(server) as client:
        discovered = client.session.discover_result
        assert discovered is not None
        assert {"2025-11-25", "2026-07-28"} <= set(discovered.supported_versions)
    info = server.server_info
    assert info.website_url
    assert info.icons
    assert info.icons[0].src.startswith("data:image/svg+xml")


async def test_every_advertised_capability_has_content_behind_it(tmp_path: Path):
    async with Client(build_server(Rails(settings_rails(tmp_path))), mode="legacy") as client:
        caps = client.session.initialize_result.capabilities  # type: ignore[union-attr]
        assert caps.tools is not None
        assert (await client.list_tools()).tools
        assert caps.logging is not None  # logging/setLevel is served (tests below)
        if caps.prompts is not None:
            assert (await client.list_prompts()).prompts
        if caps.resources is not None:
            listed = await client.list_resources()
            templates = await client.list_resource_templates()
            assert listed.resources or templates.resource_templates


def settings_rails(tmp_path: Path) -> Any:
    from rails_mcp.runtime import open_client

    return open_client(settings_for(tmp_path))


async def _log_lines(
    tmp_path: Path, level: str, calls: list[tuple[str, dict[str, Any]]]
) -> list[LoggingMessageNotificationParams]:
    seen: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        seen.append(params)

    server = build_server(Rails(settings_rails(tmp_path)))
    async with Client(server, mode="legacy", logging_callback=on_log) as client:
        with warnings.catch_warnings():  # deprecated at 2026-07-28; current on this 2025-11-25 session
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await client.session.set_logging_level(level)  # type: ignore[arg-type]
        for name, arguments in calls:
            await client.call_tool(name, arguments)
    return seen


async def test_at_debug_a_client_sees_each_wire_call_of_a_tool(tmp_path: Path):
    seen = await _log_lines(tmp_path, "debug", [("get_repair_job", {"job": JOB})])
    assert any(p.level == "debug" and "repairer.jobs.get" in json.dumps(p.data) for p in seen), seen
    assert "partly_" not in json.dumps([p.data for p in seen])


async def test_at_warning_a_client_sees_wire_errors_and_no_wire_calls(tmp_path: Path):
    calls = [("get_repair_job", {"job": JOB}), ("get_repair_job", {"job": {"external": "NOPE-404"}})]
    seen = await _log_lines(tmp_path, "warning", calls)
    assert seen, "a wire error must be logged at warning"
    assert all(p.level == "warning" for p in seen)
    assert any("not_found" in json.dumps(p.data) for p in seen)


async def test_a_client_that_never_sets_a_level_gets_no_log_messages(tmp_path: Path):
    seen: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        seen.append(params)

    async with Client(
        build_server(Rails(settings_rails(tmp_path))), mode="legacy", logging_callback=on_log
    ) as c:
        await c.call_tool("get_repair_job", {"job": {"external": "NOPE-404"}})
    assert seen == []


# --- the human-approval seam -------------------------------------------------------------------


async def test_an_order_placed_with_approval_off_says_approval_off(tmp_path: Path):
    async with mcp_session(tmp_path) as s:
        out = await s.ok("place_procurement", QUICKSTART)
    assert out["placed"] is True
    assert out["approval"] == "off"


@pytest.mark.parametrize("tool", ["get_repair_job", "prepare_vehicle"])
def test_a_union_of_one_key_objects_is_published_as_one_object_taking_exactly_one_key(tool: str):
    """The job identity and the vehicle identifier: one object, the same values valid as the model's."""
    spec = next(t for t in TOOLS if t.name == tool)
    schema = compact_schema(spec.input_model)
    if tool == "get_repair_job":
        node, wrap = schema["properties"]["job"], (lambda v: {"job": v})
        good, other = {"external": "CCC-2026-04817"}, {"id": "0c000000-0000-4000-8000-000000000001"}
    else:
        node, wrap = schema["properties"]["identifiers"]["items"], (lambda v: {"identifiers": [v]})
        good, other = {"vin": "JTDBR32E730012345"}, {"vrm": "MJL472"}
    assert "anyOf" not in node
    assert (node["minProperties"], node["maxProperties"], node["additionalProperties"]) == (1, 1, False)
    validator = Draft202012Validator(schema)
    for value in (good, other, {}, {**good, **other}, {**good, "extra": "x"}):
        published = validator.is_valid(wrap(value))
        try:
            spec.input_model.model_validate(wrap(value))
            accepted = True
        except ValidationError:
            accepted = False
        assert published == accepted, value
    assert validator.is_valid(wrap(good))
    assert not validator.is_valid(wrap({}))
