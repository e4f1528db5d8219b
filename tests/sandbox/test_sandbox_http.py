"""The sandbox's HTTP edges: routing, auth, tenants, body limits, OpenAPI, no 500s."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rails_mcp.sandbox import create_app
from rails_mcp.sandbox.rules import RULES, Rule
from rails_mcp.wire.errors import HTTP_STATUS_BY_CODE
from rails_mcp.wire.methods import METHODS
from tests.support.sandbox_support import API, INSTALL, JOB, QUICKSTART_SELECTIONS, REPAIRER, SUPPLIER, call

pytestmark = pytest.mark.anyio

JOBS_GET = API + "repairer.jobs.get"
BODY = {"identity": JOB}


def assert_error(response: httpx2.Response, status: int, code: str) -> None:
    assert (response.status_code, response.json()) == (status, {"type": code})


# --- routing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        API + "repairer.jobs.list",
        API + "..%2F..%2Fetc%2Fpasswd",
        API + "repairer.jobs.get%2F..%2Fx",
        API + "repairer.jobs.get/",
        API,
        "/api/2025-01/repairer.jobs.get",
        "/nowhere",
    ],
)
async def test_an_unknown_method_or_path_is_a_typed_not_found(sandbox: httpx2.AsyncClient, path: str):
    response = await sandbox.post(path, json=BODY, headers=REPAIRER)
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("verb", ["GET", "PUT", "DELETE", "PATCH"])
async def test_a_non_post_on_a_method_is_method_not_allowed(sandbox: httpx2.AsyncClient, verb: str):
    response = await sandbox.request(verb, JOBS_GET, headers=REPAIRER)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"


async def test_a_non_get_on_health_is_method_not_allowed_in_the_wire_shape(
    sandbox: httpx2.AsyncClient,
):
    response = await sandbox.post("/healthz")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]


async def test_health_reports_ok_and_the_api_version(sandbox: httpx2.AsyncClient):
    response = await sandbox.get("/healthz")
    assert response.json() == {"status": "ok", "api_version": "2026-01"}


# --- bodies ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"[]", b'"x"', b"null", b'{"identity": {"external": "x"}, "extra": 1}'],
    ids=["empty", "truncated", "array", "string", "null", "unknown-key"],
)
async def test_a_body_that_is_not_the_request_shape_is_a_bad_request(
    sandbox: httpx2.AsyncClient, content: bytes
):
    response = await sandbox.post(
        JOBS_GET, content=content, headers={**REPAIRER, "Content-Type": "application/json"}
    )
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize(
    "identity",
    [{}, {"external": "CCC-2026-04817", "id": "0d000000-0000-4000-8000-000000000001"}],
    ids=["neither", "both"],
)
async def test_an_identity_needs_exactly_one_key(sandbox: httpx2.AsyncClient, identity: dict[str, str]):
    assert_error(await call(sandbox, "repairer.jobs.get", {"identity": identity}), 400, "bad_request")


async def test_external_id_instead_of_external_is_a_bad_request(sandbox: httpx2.AsyncClient):
    body = {"identity": {"external_id": "CCC-2026-04817"}}
    assert_error(await call(sandbox, "repairer.jobs.get", body), 400, "bad_request")


async def test_a_missing_content_type_is_accepted(sandbox: httpx2.AsyncClient):
    response = await sandbox.post(JOBS_GET, content=json.dumps(BODY).encode(), headers=REPAIRER)
    assert response.status_code == 200
    assert response.json()["external_id"] == "CCC-2026-04817"


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/vnd.rails+json", "APPLICATION/JSON"]
)
async def test_json_content_types_are_accepted(sandbox: httpx2.AsyncClient, content_type: str):
    response = await sandbox.post(
        JOBS_GET, content=json.dumps(BODY).encode(), headers={**REPAIRER, "Content-Type": content_type}
    )
    assert response.status_code == 200


async def test_curls_default_form_content_type_is_read_as_json_so_a_line_without_the_header_works(
    sandbox: httpx2.AsyncClient,
):
    headers = {**REPAIRER, "Content-Type": "application/x-www-form-urlencoded"}
    response = await sandbox.post(JOBS_GET, content=json.dumps(BODY).encode(), headers=headers)
    assert response.status_code == 200
    assert response.json()["external_id"] == "CCC-2026-04817"


async def test_without_credentials_the_answer_is_unauthorized_whatever_the_content_type(
    sandbox: httpx2.AsyncClient,
):
    response = await sandbox.post(JOBS_GET, content=b"{}", headers={"Content-Type": "text/plain"})
    assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "multipart/form-data; boundary=x", "application/jsonp"]
)
async def test_a_declared_non_json_content_type_is_unsupported(
    sandbox: httpx2.AsyncClient, content_type: str
):
    response = await sandbox.post(
        JOBS_GET, content=json.dumps(BODY).encode(), headers={**REPAIRER, "Content-Type": content_type}
    )
    assert_error(response, 415, "unsupported_media_type")


async def test_a_body_over_the_limit_is_refused_by_its_declared_length(tmp_path: Path):
    app = create_app(tmp_path / "s.db", max_body_bytes=100)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        body = {"identity": {"external": "x" * 150}}
        response = await client.post(JOBS_GET, json=body, headers=REPAIRER)
        assert_error(response, 413, "payload_too_large")
        small = await client.post(JOBS_GET, json=BODY, headers=REPAIRER)
        assert small.status_code == 200


async def test_a_streamed_body_over_the_limit_is_refused_without_a_length(tmp_path: Path):
    app = create_app(tmp_path / "s.db", max_body_bytes=100)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"identity": {"external": "'
        for _ in range(10):
            yield b"x" * 20
        yield b'"}}'

    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        response = await client.post(JOBS_GET, content=chunks(), headers=REPAIRER)
        assert "content-length" not in response.request.headers
        assert_error(response, 413, "payload_too_large")


async def test_parts_insert_refuses_an_oversized_body_as_a_bare_string(tmp_path: Path):
    app = create_app(tmp_path / "s.db", max_body_bytes=64)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        body = {"job_identity": JOB, "parts": [{"description": "x" * 100, "quantity": 1}]}
        response = await client.post(API + "repairer.jobs.parts.insert", json=body, headers=REPAIRER)
        assert (response.status_code, response.json()) == (413, "payload_too_large")


# --- auth ------------------------------------------------------------------------------------


async def test_a_call_without_headers_is_unauthorized(sandbox: httpx2.AsyncClient):
    assert_error(await sandbox.post(JOBS_GET, json=BODY), 401, "unauthorized")


@pytest.mark.parametrize(
    "auth",
    [
        {"Authorization": REPAIRER["Authorization"]},
        {"Partly-Integration-ID": REPAIRER["Partly-Integration-ID"]},
        {**REPAIRER, "Authorization": REPAIRER["Authorization"].removeprefix("Bearer ")},
        {**REPAIRER, "Authorization": "Basic " + REPAIRER["Authorization"].removeprefix("Bearer ")},
        {**REPAIRER, "Authorization": "Bearer partly_nope"},
        {**REPAIRER, "Partly-Integration-ID": SUPPLIER["Partly-Integration-ID"]},
        {**REPAIRER, "Partly-Integration-ID": "not-a-uuid"},
    ],
    ids=[
        "no-integration-id",
        "no-authorization",
        "no-bearer-prefix",
        "basic-scheme",
        "unknown-key",
        "mismatched-pair",
        "malformed-integration-id",
    ],
)
async def test_an_incomplete_or_unknown_credential_is_unauthorized(
    sandbox: httpx2.AsyncClient, auth: dict[str, str]
):
    assert_error(await call(sandbox, "repairer.jobs.get", BODY, auth=auth), 401, "unauthorized")


async def test_auth_is_checked_before_the_body(sandbox: httpx2.AsyncClient):
    response = await sandbox.post(JOBS_GET, content=b"{not json")
    assert_error(response, 401, "unauthorized")
    wrong_scope = await sandbox.post(JOBS_GET, content=b"{not json", headers=SUPPLIER)
    assert_error(wrong_scope, 403, "forbidden")


async def test_install_needs_no_credentials_and_ignores_stale_ones(sandbox: httpx2.AsyncClient):
    stale = {"Authorization": "Bearer partly_gone", "Partly-Integration-ID": "x"}
    response = await call(sandbox, "integrations.insert", INSTALL, auth=stale)
    assert response.status_code == 200


# --- tenants ---------------------------------------------------------------------------------


@pytest.mark.parametrize("tenant", ["", "Upper", "a b", "../x", "x" * 65, "ünï".encode()])
async def test_an_invalid_tenant_name_is_a_bad_request(sandbox: httpx2.AsyncClient, tenant: str | bytes):
    raw = tenant if isinstance(tenant, bytes) else tenant.encode()
    headers = {k.encode(): v.encode() for k, v in REPAIRER.items()} | {b"x-partifact-tenant": raw}
    response = await sandbox.post(JOBS_GET, json=BODY, headers=headers)
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize("tenant", ["a", "quickstart-root", "x_1-2", "9" * 64])
async def test_a_valid_tenant_name_selects_a_seeded_world(sandbox: httpx2.AsyncClient, tenant: str):
    response = await call(sandbox, "repairer.jobs.get", BODY, tenant=tenant)
    assert response.status_code == 200


# --- failures are never leaked ----------------------------------------------------------------


async def test_a_bug_in_a_rule_is_a_typed_server_error_without_a_traceback(
    sandbox: httpx2.AsyncClient, monkeypatch: pytest.MonkeyPatch
):
    def broken(*args: Any) -> Any:
        raise RuntimeError("secret internal detail")

    monkeypatch.setitem(RULES, "repairer.jobs.get", Rule(broken))
    monkeypatch.setitem(RULES, "repairer.jobs.parts.insert", Rule(broken, writes=True))
    response = await call(sandbox, "repairer.jobs.get", BODY)
    assert_error(response, 500, "server_error")
    assert "secret" not in response.text
    parts = await call(
        sandbox,
        "repairer.jobs.parts.insert",
        {"job_identity": JOB, "parts": [{"description": "Bonnet", "quantity": 1}]},
    )
    assert (parts.status_code, parts.json()) == (500, "server_error")


_json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
_json = st.recursive(
    _json_leaf,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["identity", "job_identity", "external", "id", "parts", "offer_selections", "x"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


def test_no_body_ever_produces_a_server_error(tmp_path: Path):
    app = create_app(tmp_path / "fuzz.db")

    async def post(method: str, body: object, auth: dict[str, str]) -> httpx2.Response:
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://sandbox"
        ) as client:
            return await client.post(API + method, json=body, headers=auth)

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        method=st.sampled_from(sorted(METHODS)),
        body=_json,
        auth=st.sampled_from([REPAIRER, SUPPLIER, {}]),
    )
    def check(method: str, body: object, auth: dict[str, str]) -> None:
        response = anyio.run(post, method, body, auth)
        assert response.status_code < 500, response.text
        payload = response.json()
        if response.status_code >= 400:
            code = payload if METHODS[method].bare_string_errors else payload["type"]
            assert HTTP_STATUS_BY_CODE[code] == response.status_code

    check()


# --- OpenAPI ---------------------------------------------------------------------------------


async def test_openapi_documents_exactly_the_fourteen_public_methods(sandbox: httpx2.AsyncClient):
    document = (await sandbox.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    public = {f"{API}{name}" for name, spec in METHODS.items() if not spec.extension}
    assert set(document["paths"]) == public
    assert len(public) == 14
    assert document["x-extensions"]["url"] == "/openapi.extensions.json"
    assert sorted(document["x-extensions"]["methods"]) == sorted(
        name for name, spec in METHODS.items() if spec.extension
    )


async def test_the_extensions_document_marks_each_of_the_three_operations(
    sandbox: httpx2.AsyncClient,
):
    document = (await sandbox.get("/openapi.extensions.json")).json()
    assert set(document["paths"]) == {
        API + "repairer.procurements.insert",
        API + "repairer.procurements.invoices.list",
        API + "repairer.procurements.invoices.get",
    }
    for item in document["paths"].values():
        assert item["post"]["x-extension"] is True
        ok = item["post"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        name = ok.rsplit("/", 1)[1]
        assert document["components"]["schemas"][name]["properties"]["x_extension"]["const"] is True


@pytest.mark.parametrize("path", ["/openapi.json", "/openapi.extensions.json"])
async def test_openapi_documents_each_methods_errors_and_security(sandbox: httpx2.AsyncClient, path: str):
    document = (await sandbox.get(path)).json()
    for route, item in document["paths"].items():
        spec = METHODS[route.removeprefix(API)]
        operation = item["post"]
        documented: set[str] = set()
        for status, response in operation["responses"].items():
            if status in ("200", "default"):
                continue
            schema = response["content"]["application/json"]["schema"]
            codes = schema["enum"] if spec.bare_string_errors else schema["properties"]["type"]["enum"]
            assert all(HTTP_STATUS_BY_CODE[c] == int(status) for c in codes)
            documented |= set(codes)
        assert documented == set(spec.errors)
        expected_security = [] if spec.scope == "none" else [{"bearerAuth": [], "integrationId": []}]
        assert operation["security"] == expected_security
    assert document["components"]["securitySchemes"]["integrationId"]["name"] == "Partly-Integration-ID"


async def test_the_documented_request_schemas_accept_the_quickstart_bodies_and_refuse_external_id(
    sandbox: httpx2.AsyncClient,
):
    public = (await sandbox.get("/openapi.json")).json()
    extensions = (await sandbox.get("/openapi.extensions.json")).json()

    def validator(document: dict[str, Any], method: str) -> jsonschema.Draft202012Validator:
        operation = document["paths"][API + method]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        ref = body.get("$ref")  # repairer.jobs.get's request is published inline
        schema = {**(body if ref is None else document["components"]["schemas"][ref.rsplit("/", 1)[1]])}
        schema["components"] = document["components"]
        jsonschema.Draft202012Validator.check_schema(schema)
        return jsonschema.Draft202012Validator(schema)

    validator(public, "integrations.insert").validate(INSTALL)
    jobs_get = validator(public, "repairer.jobs.get")
    jobs_get.validate({"identity": {"external": "CCC-2026-04817"}})
    assert not jobs_get.is_valid({"identity": {"external_id": "CCC-2026-04817"}})
    assert not jobs_get.is_valid(
        {"identity": {"external": "x", "id": "0d000000-0000-4000-8000-000000000001"}}
    )
    validator(extensions, "repairer.procurements.insert").validate(
        {"job_identity": JOB, "offer_selections": QUICKSTART_SELECTIONS}
    )
