"""``/llms.txt`` (the index of machine-readable surfaces) and ``/llms-full.txt`` (the reference).

Both are generated from the method table and the wire models, like ``/openapi.json``, so
the text an agent reads cannot drift from what the sandbox answers.
"""

from __future__ import annotations

import functools
from typing import Any

from rails_mcp.sandbox import seed
from rails_mcp.wire.methods import API_VERSION, METHODS, MethodSpec, method_path
from rails_mcp.wire.models import EXTENSION_BANNER

__all__ = ["llms_full_txt", "llms_txt"]

_TITLE = "Rails Sandbox (embedded, rails-mcp)"
_SUMMARY = (
    "A faithful local copy of the Rails Integrations API "
    f"{API_VERSION} for collision-repair parts procurement (RPC-over-POST), with three "
    "clearly-labelled proposed extensions, signed loopback webhooks and a seeded "
    "2019 Toyota Corolla job."
)

_SURFACES = (
    ("/openapi.json", "OpenAPI 3.1 of the 14 public methods, with the published type names."),
    ("/openapi.extensions.json", "OpenAPI 3.1 of the 3 proposed extensions (x-extension)."),
    ("/llms-full.txt", "This whole reference as one text file."),
    ("/healthz", "Liveness and the API version."),
    (
        "/__webhooks/subscribe",
        "POST {integration_id, url} with that integration's credentials: "
        "deliver its events to a loopback URL.",
    ),
    (
        "/__webhooks/secret",
        "POST {integration_id} with that integration's credentials: "
        "its webhook secret (loopback callers only).",
    ),
    ("/__webhooks/sink", "POST: reference receiver that verifies and records; GET: what it received."),
    (
        "/__webhooks/attempts",
        "GET with an integration's credentials: the delivery attempt log of its events.",
    ),
)


def _fields(spec: MethodSpec) -> str:
    schema: dict[str, Any] = spec.request.model_json_schema()
    properties: dict[str, Any] = schema.get("properties", {})
    if not properties:
        return "{} (an empty or absent body is the same request)"
    required = set(schema.get("required", []))
    return ", ".join(f"{name}{'' if name in required else '?'}" for name in properties)


def llms_txt() -> str:
    lines = [f"# {_TITLE}", "", f"> {_SUMMARY}", "", "## Machine-readable surfaces", ""]
    lines += [f"- [{path}]({path}): {text}" for path, text in _SURFACES]
    lines += ["", f"## Wire methods ({API_VERSION})", ""]
    lines += [
        f"- [{s.name}]({method_path(s.name)}): {s.summary}" for s in METHODS.values() if not s.extension
    ]
    lines += ["", "## Proposed extensions (NOT in 2026-01)", ""]
    lines += [
        f"- [{s.name}]({method_path(s.name)}): {s.summary} (x_extension: true)"
        for s in METHODS.values()
        if s.extension
    ]
    return "\n".join(lines) + "\n"


def _method_section(spec: MethodSpec) -> list[str]:
    auth = (
        "none (the only unauthenticated method)"
        if spec.scope == "none"
        else f"Authorization: Bearer <api_key> + Partly-Integration-ID; scope {spec.scope}"
    )
    error_shape = 'bare JSON strings, e.g. "not_found"' if spec.bare_string_errors else '{"type": "<code>"}'
    lines = [
        f"### {spec.name}",
        "",
        *([EXTENSION_BANNER, ""] if spec.extension else []),
        spec.summary,
        "",
        f"- POST {method_path(spec.name)}",
        f"- Auth: {auth}",
        f"- Request body: {_fields(spec)}",
        f"- Response: {spec.response.__name__}",
        f"- Errors: {', '.join(spec.errors)} as {error_shape}",
    ]
    if spec.name == "repairer.jobs.get":
        lines.append(
            '- identity: {"external": "..."} | {"id": "<uuid>"} | '
            '{"site_job_number": {"repairer_site_id": "<uuid>", "job_number": "J-4817"}} '
            "(the last is this sandbox's shape for the documented site + job number lookup)"
        )
    if spec.name == "uploads.prepare":
        lines.append(
            "- media_type and type are free text. PUT the file to upload_url (10 MiB max, "
            "else 413 payload_too_large); GET public_url returns it."
        )
    return [*lines, ""]


#: How every call is made and refused, for ``llms-full.txt``.
_CONVENTION = [
    "## Calling convention",
    "",
    f"Every call is POST <base>/api/{API_VERSION}/<dotted.method> with a JSON body. "
    "Authenticated calls carry `Authorization: Bearer <api_key>` and "
    "`Partly-Integration-ID: <integration_id>`. Optional `x-partifact-tenant: <[a-z0-9_-]+>` "
    "selects an isolated, identically seeded world.",
    "",
    'Identity wrappers are oneOf {"external": "..."} or {"id": "<uuid>"} (the key is '
    '`external`, not `external_id`). Errors are {"type": "<code>"} with an HTTP status '
    "(bad_request 400, unauthorized 401, invalid_access_code 401, invalid_client_secret 401, "
    "forbidden 403, not_found 404, integration_not_found 404, "
    "o_auth_not_supported_by_integration 400, unprocessable 422, work_provider_not_found 422), "
    'except repairer.jobs.parts.insert, whose errors are bare JSON strings such as "not_found". '
    "The basket carries no currency; currency_code first appears on procurements and invoices.",
    "",
]

#: The webhook surface: subscribing, events, envelope, signature, delivery.
_WEBHOOKS = [
    "## Webhooks",
    "",
    '- Subscribe: POST /__webhooks/subscribe {"integration_id", "url"}, sent with that '
    "integration's own Authorization: Bearer <api_key> and Partly-Integration-ID (else 401 "
    "unauthorized; another integration's id in the body is 403 forbidden). The URL's host "
    "must be localhost, 127.0.0.1 or [::1], in lower case, with no userinfo, fragment or "
    'whitespace (else 400 {"ok": false, "reason": "url_not_loopback"}); missing_field / '
    "bad_body otherwise.",
    "- Every /__webhooks/* route refuses (403 proxied_request) a request carrying Forwarded, "
    "X-Forwarded-* or X-Real-IP.",
    "- Events: repairer.jobs.insert -> `repairer.jobs` (change_action inserted|updated) to "
    "the repairer's integrations; repairer.procurements.insert -> `repairer.procurements` + "
    "`supplier.procurements` (status order_requested); supplier.procurements.confirm -> the "
    "same two with status order_confirmed (a repeat confirm changes nothing and fires nothing).",
    '- Envelope: {"id": "<uuid, dedup on it>", "type", "timestamp": "<RFC 3339, when '
    'sent>", "integration_id", "data": {ids..., "change_action" | "status"}}. '
    "Identifiers only: re-fetch the record.",
    "- Signature: header partly-hmac-sha256 = base64(HMAC-SHA256(webhook_secret, raw_body)). "
    "Reject a timestamp older than 5 minutes. Secrets are pwh_ + 32 hex; POST "
    '/__webhooks/secret {"integration_id"} returns one to a loopback caller holding that '
    "integration's credentials.",
    "- Delivery: at least once, after the call returned; failed deliveries are retried with "
    "exponential backoff (8 attempts by default); GET /__webhooks/attempts lists every "
    "attempt of the calling integration's events. Subscriptions and undelivered events are "
    "persisted per tenant.",
    "- Reference sink: POST /__webhooks/sink verifies and records; GET /__webhooks/sink lists "
    "deliveries with verified true/false and the reason.",
    "",
]


def _seeded_world() -> list[str]:
    """The seeded credentials and records an agent can try every method with."""
    return [
        "## Seeded world",
        "",
        f"- Repairer credential: api_key {seed.REPAIRER_API_KEY}, integration {seed.REPAIRER_INTEGRATION_ID}",
        f"- Supplier credential (Christchurch Toyota — Parts only): api_key {seed.SUPPLIER_API_KEY}, "
        f"integration {seed.SUPPLIER_INTEGRATION_ID}",
        f"- OAuth demo client: client_id {seed.DEMO_CLIENT_ID}, client_secret "
        f"{seed.DEMO_CLIENT_SECRET}, access_code {seed.DEMO_ACCESS_CODE} (single use per tenant)",
        f"- Job {seed.JOB_ID}, external {seed.JOB_EXTERNAL_ID}, job_number {seed.JOB_NUMBER}, "
        f"site {seed.REPAIRER_SITE}",
        f"- PR-1: procurement {seed.PR1_ID}, order_requested, supplier S1, offer 01",
        "- Basket: twelve offers; S1 (the only confirmable supplier) offers 01 (ordered on PR-1), "
        "07 Toyota Genuine Headlamp RH 631.00 and 0a Toyota Genuine Radiator Support 468.00: "
        "the Quickstart order, 1099.00 NZD.",
        "",
    ]


@functools.cache
def _full() -> str:
    lines = [f"# {_TITLE}", "", _SUMMARY, "", *_CONVENTION, *_seeded_world(), "## Wire methods", ""]
    for spec in METHODS.values():
        if not spec.extension:
            lines += _method_section(spec)
    lines += [
        "## Proposed extensions (NOT in 2026-01)",
        "",
        EXTENSION_BANNER,
        "",
        'Every extension response carries "x_extension": true; they are documented in '
        "/openapi.extensions.json, not in /openapi.json.",
        "",
    ]
    for spec in METHODS.values():
        if spec.extension:
            lines += _method_section(spec)
    lines += _WEBHOOKS
    return "\n".join(lines)


def llms_full_txt() -> str:
    return _full()
