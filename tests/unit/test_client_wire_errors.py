"""The wire client against a scripted transport: request shape, error mapping, retries."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from uuid import UUID

import anyio
import httpx2
import pytest
import stamina

from rails_mcp.client import Credentials, RailsClient, RetryPolicy
from rails_mcp.wire import errors as e
from rails_mcp.wire import models as m

pytestmark = pytest.mark.anyio

REPAIRER = Credentials("partly_demo_repairer_3f8a1c0d9e2b4a67b1c2", "0c000000-0000-4000-8000-000000000001")
SUPPLIER = Credentials("partly_demo_supplier_8b4e2f1a6c0d3e9f7a25", "0c000000-0000-4000-8000-000000000002")
JOB = m.ExternalIdentity(external="CCC-2026-04817")
PROCUREMENT = m.IdIdentity(id=UUID("10000000-0000-4000-8000-000000000001"))
JOB_BODY = {
    "id": "0d000000-0000-4000-8000-000000000001",
    "external_id": "CCC-2026-04817",
    "job_number": "J-4817",
    "claim_number": "AMI-CLM-771204",
    "repairer_site_id": "0b000000-0000-4000-8000-000000000001",
    "work_provider_id": "0a000000-0000-4000-8000-000000000020",
    "vehicle": {
        "chassis_number": "JTDBR32E730012345",
        "plate_number": "MJL472",
        "plate_state": "NZ",
    },
    "images": [],
}

Handler = Callable[[httpx2.Request], httpx2.Response]


@pytest.fixture(autouse=True)
def _no_backoff_sleeps() -> Iterator[None]:
    # Keep our own attempt bound (cap), drop only the waiting.
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


class Recorder:
    def __init__(self, *responses: httpx2.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        item = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(item, Exception):
            raise item
        return item


def client_for(
    handler: Handler, *, tenant: str | None = None, retry: RetryPolicy | None = None
) -> RailsClient:
    return RailsClient(
        base_url="https://rails.test",
        repairer=REPAIRER,
        supplier=SUPPLIER,
        tenant=tenant,
        transport=httpx2.MockTransport(handler),
        retry=retry or RetryPolicy(attempts=3),
    )


def ok(body: object) -> httpx2.Response:
    return httpx2.Response(200, json=body)


async def test_a_read_posts_json_to_the_dotted_method_path_with_both_auth_headers_and_the_tenant():
    rec = Recorder(ok(JOB_BODY))
    async with client_for(rec, tenant="quickstart-me") as rails:
        job = await rails.repairer.jobs.get(identity=JOB)
    request = rec.requests[0]
    assert request.method == "POST"
    assert request.url.path == "/api/2026-01/repairer.jobs.get"
    assert request.headers["authorization"] == f"Bearer {REPAIRER.api_key}"
    assert request.headers["partly-integration-id"] == REPAIRER.integration_id
    assert request.headers["x-partifact-tenant"] == "quickstart-me"
    assert json.loads(request.content) == {"identity": {"external": "CCC-2026-04817"}}
    assert job.external_id == "CCC-2026-04817"
    assert job.vehicle is not None
    assert job.vehicle.plate_number == "MJL472"


async def test_the_basket_uses_job_identity_while_jobs_get_uses_identity():
    rec = Recorder(ok({"offers": [], "suppliers": []}))
    async with client_for(rec) as rails:
        basket = await rails.repairer.jobs.baskets.latest.get(job_identity=JOB)
    assert rec.requests[0].url.path == "/api/2026-01/repairer.jobs.baskets.latest.get"
    assert json.loads(rec.requests[0].content) == {"job_identity": {"external": "CCC-2026-04817"}}
    assert basket.offers == []
    assert basket.suppliers == []


async def test_supplier_methods_carry_the_supplier_credential_not_the_repairer_one():
    body = {"type": "not_found"}
    rec = Recorder(httpx2.Response(404, json=body))
    async with client_for(rec) as rails:
        with pytest.raises(e.NotFound):
            await rails.supplier.procurements.confirm(identity=PROCUREMENT)
    assert rec.requests[0].headers["authorization"] == f"Bearer {SUPPLIER.api_key}"
    assert rec.requests[0].headers["partly-integration-id"] == SUPPLIER.integration_id


async def test_businesses_list_can_be_asked_as_the_supplier():
    rec = Recorder(ok({"items": [{"id": "0b000000-0000-4000-8000-000000000010", "name": "S1"}]}))
    async with client_for(rec) as rails:
        listed = await rails.businesses.list(credential="supplier")
    assert rec.requests[0].headers["authorization"] == f"Bearer {SUPPLIER.api_key}"
    assert listed.items[0].name == "S1"


async def test_install_is_the_one_call_that_sends_no_credentials():
    rec = Recorder(
        ok(
            {
                "api_key": "partly_" + "a" * 32,
                "integration_id": "b07982d2-b41d-428a-81cc-596f99d2604f",
            }
        )
    )
    async with client_for(rec) as rails:
        minted = await rails.integrations.insert(
            access_code="ac_demo_valid_15m",
            client_id="partly_client_demo",
            client_secret="secret_demo_8f3a",
        )
    assert "authorization" not in rec.requests[0].headers
    assert "partly-integration-id" not in rec.requests[0].headers
    assert minted.api_key.startswith("partly_")


async def test_a_supplier_call_without_a_supplier_credential_fails_before_the_wire():
    rec = Recorder(ok({}))
    rails = RailsClient(base_url="https://rails.test", repairer=REPAIRER, transport=httpx2.MockTransport(rec))
    async with rails:
        with pytest.raises(e.Unauthorized):
            await rails.supplier.procurements.get(identity=PROCUREMENT)
    assert rec.requests == []


@pytest.mark.parametrize(
    ("status", "body", "expected", "code"),
    [
        (400, {"type": "bad_request"}, e.BadRequest, "bad_request"),
        (401, {"type": "unauthorized"}, e.Unauthorized, "unauthorized"),
        (401, {"type": "invalid_access_code"}, e.InvalidAccessCode, "invalid_access_code"),
        (401, {"type": "invalid_client_secret"}, e.InvalidClientSecret, "invalid_client_secret"),
        (403, {"type": "forbidden"}, e.Forbidden, "forbidden"),
        (404, {"type": "not_found"}, e.NotFound, "not_found"),
        (404, {"type": "integration_not_found"}, e.IntegrationNotFound, "integration_not_found"),
        (
            400,
            {"type": "o_auth_not_supported_by_integration"},
            e.OAuthNotSupportedByIntegration,
            "o_auth_not_supported_by_integration",
        ),
        (422, {"type": "unprocessable"}, e.Unprocessable, "unprocessable"),
        (
            422,
            {"type": "work_provider_not_found"},
            e.WorkProviderNotFound,
            "work_provider_not_found",
        ),
        (418, {"type": "teapot"}, e.UnknownWireError, "teapot"),
    ],
)
async def test_every_wire_code_becomes_its_own_exception_class_with_its_status(
    status: int, body: dict[str, str], expected: type[e.RailsAPIError], code: str
):
    rec = Recorder(httpx2.Response(status, json=body))
    async with client_for(rec) as rails:
        with pytest.raises(expected) as caught:
            await rails.repairer.jobs.insert(identity=JOB, repairer_site_id=UUID(int=1))
    assert caught.value.wire_code == code
    assert caught.value.status == status
    assert caught.value.method == "repairer.jobs.insert"
    assert caught.value.retryable is False


async def test_bare_string_error_bodies_of_parts_insert_are_normalised_to_the_same_classes():
    rec = Recorder(httpx2.Response(404, json="not_found"))
    async with client_for(rec) as rails:
        with pytest.raises(e.NotFound) as caught:
            await rails.repairer.jobs.parts.insert(
                job_identity=JOB, parts=[m.PartInsertV1(description="Bonnet", quantity=1)]
            )
    assert caught.value.wire_code == "not_found"
    assert caught.value.status == 404


async def test_a_read_that_meets_503_twice_is_retried_and_succeeds_on_the_third_try():
    rec = Recorder(httpx2.Response(503), httpx2.Response(503), ok(JOB_BODY))
    async with client_for(rec) as rails:
        job = await rails.repairer.jobs.get(identity=JOB)
    assert len(rec.requests) == 3
    assert str(job.id) == JOB_BODY["id"]


async def test_read_retries_are_bounded_and_the_last_error_surfaces_as_retryable():
    rec = Recorder(httpx2.Response(502))
    async with client_for(rec) as rails:
        with pytest.raises(e.ServerError) as caught:
            await rails.repairer.procurements.list(job_identity=JOB)
    assert len(rec.requests) == 3
    assert caught.value.retryable is True
    assert caught.value.status == 502


async def test_a_read_is_not_retried_on_a_coded_client_error():
    rec = Recorder(httpx2.Response(404, json={"type": "not_found"}))
    async with client_for(rec) as rails:
        with pytest.raises(e.NotFound):
            await rails.repairer.jobs.get(identity=JOB)
    assert len(rec.requests) == 1


@pytest.mark.parametrize(
    "failure",
    [httpx2.Response(503), httpx2.ReadTimeout("slow"), httpx2.RemoteProtocolError("reset")],
    ids=["503", "read-timeout", "reset-after-send"],
)
async def test_a_placement_is_never_retried_by_the_client(failure: httpx2.Response | Exception):
    rec = Recorder(failure)
    selection = m.OfferSelectionV1(
        sellable_id=UUID("0f000000-0000-4000-8000-000000000007"),
        supplier_business_id=UUID("0b000000-0000-4000-8000-000000000010"),
        job_part_ids=[UUID("0e000000-0000-4000-8000-000000000004")],
        quantity=1,
    )
    async with client_for(rec) as rails:
        with pytest.raises(e.RailsError):
            await rails.repairer.procurements.insert(job_identity=JOB, offer_selections=[selection])
    assert len(rec.requests) == 1


async def test_a_confirmation_is_never_retried_by_the_client():
    rec = Recorder(httpx2.ReadTimeout("slow"))
    async with client_for(rec) as rails:
        with pytest.raises(e.RailsTimeout) as caught:
            await rails.supplier.procurements.confirm(identity=PROCUREMENT)
    assert len(rec.requests) == 1
    assert caught.value.request_sent is True


async def test_a_refused_connection_is_known_not_to_have_reached_the_server():
    rec = Recorder(httpx2.ConnectError("refused"))
    async with client_for(rec) as rails:
        with pytest.raises(e.RailsConnectionError) as caught:
            await rails.repairer.jobs.insert(identity=JOB, repairer_site_id=UUID(int=1))
    assert caught.value.request_sent is False
    assert caught.value.retryable is True


async def test_a_timeout_on_a_read_is_retried_then_reported_as_a_timeout():
    rec = Recorder(httpx2.ReadTimeout("slow"))
    async with client_for(rec) as rails:
        with pytest.raises(e.RailsTimeout):
            await rails.repairer.jobs.parts.list(job_identity=JOB)
    assert len(rec.requests) == 3


@pytest.mark.parametrize(
    "response",
    [
        httpx2.Response(200, content=b"{not json", headers={"content-type": "application/json"}),
        httpx2.Response(200, content=b"<html>ok</html>", headers={"content-type": "text/html"}),
        httpx2.Response(200, json={"id": "not-a-uuid"}),
    ],
    ids=["malformed-json", "html", "wrong-shape"],
)
async def test_an_answer_that_is_not_the_contract_is_a_malformed_response(
    response: httpx2.Response,
):
    rec = Recorder(response)
    async with client_for(rec, retry=RetryPolicy(attempts=1)) as rails:
        with pytest.raises(e.MalformedResponse) as caught:
            await rails.repairer.jobs.get(identity=JOB)
    assert caught.value.http_status == 200
    assert caught.value.method == "repairer.jobs.get"


async def test_a_5xx_with_an_html_body_is_a_retryable_server_error():
    rec = Recorder(httpx2.Response(500, content=b"<h1>oops</h1>", headers={"content-type": "text/html"}))
    async with client_for(rec) as rails:
        with pytest.raises(e.ServerError):
            await rails.businesses.list()
    assert len(rec.requests) == 3


async def test_no_credential_appears_in_a_repr_an_error_or_a_log_line(
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.DEBUG)
    rec = Recorder(
        httpx2.Response(503),
        httpx2.ConnectError("refused"),
        httpx2.Response(401, json={"type": "unauthorized"}),
    )
    async with client_for(rec) as rails:
        seen = [repr(rails), repr(REPAIRER), repr(SUPPLIER), str(REPAIRER)]
        for _ in range(2):
            with pytest.raises(e.RailsError) as caught:
                await rails.repairer.jobs.insert(identity=JOB, repairer_site_id=UUID(int=1))
            seen += [str(caught.value), repr(caught.value)]
    seen += [record.getMessage() for record in caplog.records]
    for text in seen:
        assert REPAIRER.api_key not in text
        assert SUPPLIER.api_key not in text
    assert "partly_demo_repairer" not in repr(REPAIRER) or "…" in repr(REPAIRER)


async def test_the_first_attempt_counts_against_the_retry_timeout():
    # Each attempt times out after 0.3 s; within a 0.5 s policy there is room for a second
    # attempt (started at 0.3 s) but not a third (it would start at 0.6 s).
    attempts: list[float] = []

    async def slow_timeout(request: httpx2.Request) -> httpx2.Response:
        attempts.append(time.monotonic())
        await anyio.sleep(0.3)
        raise httpx2.ReadTimeout("timed out", request=request)

    policy = RetryPolicy(attempts=10, timeout=0.5, wait_initial=0.01, wait_max=0.02)
    rails = RailsClient(
        base_url="https://rails.test",
        repairer=REPAIRER,
        transport=httpx2.MockTransport(slow_timeout),
        retry=policy,
    )
    with stamina.set_testing(False):
        async with rails:
            with pytest.raises(e.RailsTimeout):
                await rails.repairer.jobs.get(identity=JOB)
    assert len(attempts) == 2


async def test_an_answer_with_a_byte_order_mark_is_read_as_before():
    rec = Recorder(
        httpx2.Response(
            200,
            content=b"\xef\xbb\xbf" + json.dumps(JOB_BODY).encode(),
            headers={"content-type": "application/json"},
        )
    )
    async with client_for(rec) as rails:
        job = await rails.repairer.jobs.get(identity=JOB)
    assert job.claim_number == "AMI-CLM-771204"
