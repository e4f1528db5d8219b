"""The published output schemas, written in fewer words, still admit every error the server sends."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from rails_mcp.errors import Suggestion, ToolError
from rails_mcp.tools import TOOLS
from rails_mcp.tools.publish import published
from rails_mcp.wire.codes import ErrorCode

SUGGESTIONS: tuple[Any, ...] = (
    "list_parts",
    True,
    Suggestion(external="CCC-2026-04817"),
    Suggestion(vin="V" * 17),
)


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.name)
def test_every_kind_of_did_you_mean_fits_the_published_error_and_nothing_else_does(tool: Any):
    schema = published(tool).output_schema
    assert schema is not None
    validator = Draft202012Validator(schema)

    def result(did_you_mean: Any) -> dict[str, Any]:
        error = ToolError(
            code=ErrorCode.INVALID_ARGUMENTS, message="m", fix="f", retryable=False, did_you_mean=did_you_mean
        ).public()
        return {"is_extension": tool.extension, "error": error}

    for suggestion in SUGGESTIONS:
        assert validator.is_valid(result(suggestion)), suggestion
    wrong = result("x")
    wrong["error"]["did_you_mean"] = 7
    assert not validator.is_valid(wrong)
