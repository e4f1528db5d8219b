"""An async, typed client for the Rails Integrations API (2026-01), on httpx2.

Methods mirror the dotted wire names: ``rails.repairer.jobs.baskets.latest.get(...)`` is
``POST /api/2026-01/repairer.jobs.baskets.latest.get``. Every answer is parsed with the
shared models in :mod:`rails_mcp.wire.models`, tolerantly (values and keys a newer API adds
are kept or dropped, never a ``malformed_response``); every failure is one of the exceptions in
:mod:`rails_mcp.wire.errors`. Reads that are safe to repeat retry with bounded, jittered
backoff (stamina); writes never retry on their own, because a lost answer to a write may
mean it landed, and only the caller can check that.
"""

from __future__ import annotations

import json
import logging
import socket
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Literal, ParamSpec, Self, TypeVar, cast, overload

import httpx2
from pydantic import BaseModel, ValidationError

from rails_mcp.telemetry import Metrics, note_wire_retries, note_wire_status, wire_call
from rails_mcp.wire import models as m
from rails_mcp.wire.errors import (
    MalformedResponse,
    RailsConnectionError,
    RailsError,
    RailsTimeout,
    RailsTransportError,
    Unauthorized,
    error_for_code,
)
from rails_mcp.wire.methods import METHODS, method_path

__all__ = [
    "WIRE_DOWN_AFTER",
    "CredentialRole",
    "Credentials",
    "RailsClient",
    "RetryPolicy",
    "mask_secret",
    "shown_address",
    "unreachable",
]

log = logging.getLogger("rails_mcp.client")

T = TypeVar("T", bound=BaseModel)
P = ParamSpec("P")
CredentialRole = Literal["repairer", "supplier", "none"]

USER_AGENT = "rails-mcp/0.1"


def mask_secret(secret: str) -> str:
    """``partly_6bf4…caf3``: enough to tell two keys apart, never enough to use one."""
    if len(secret) <= 12:
        return "…" * (1 if secret else 0)
    return f"{secret[:7]}…{secret[-4:]}"


@dataclass(frozen=True, slots=True)
class Credentials:
    """An (api_key, integration_id) pair. The key never appears in a repr."""

    api_key: str = field(repr=False)
    integration_id: str

    def __repr__(self) -> str:
        return f"Credentials(api_key={mask_secret(self.api_key)!r}, integration_id={self.integration_id!r})"

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.api_key}",
            "Partly-Integration-ID": self.integration_id,
        }


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded backoff for reads: at most ``attempts`` tries within ``timeout`` seconds."""

    attempts: int = 3
    timeout: float = 30.0
    wait_initial: float = 0.2
    wait_max: float = 2.0


#: Connection attempts refused in a row after which the wire counts as down: no more retries.
WIRE_DOWN_AFTER = 3


def _is_retryable(exc: Exception) -> bool:
    if isinstance(exc, RailsConnectionError) and exc.refused_in_a_row >= WIRE_DOWN_AFTER:
        return False  # nothing listens there: retrying only delays the answer that says so
    return isinstance(exc, RailsError) and exc.retryable


def shown_address(base_url: str) -> str:
    """The base URL as an error may show it: configuration, but without userinfo, query or fragment."""
    parts = urllib.parse.urlsplit(base_url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return urllib.parse.urlunsplit((parts.scheme, host + port, parts.path, "", "")).rstrip("/")


def unreachable(address: str, timeout: float = 2.0) -> str | None:
    """Why no TCP connection opens to ``address`` (said once at start-up), or None when one does."""
    parts = urllib.parse.urlsplit(address)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


class RailsClient:
    """One connection pool to one Rails base URL, acting for a repairer and, optionally, a supplier.

    ``transport`` is the seam: pass ``httpx2.ASGITransport(app=sandbox_app)`` to talk to
    the embedded sandbox in-process, or ``httpx2.MockTransport`` in tests.
    """

    def __init__(
        self,
        *,
        base_url: str,
        repairer: Credentials | None = None,
        supplier: Credentials | None = None,
        tenant: str | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout: float | httpx2.Timeout = 15.0,
        retry: RetryPolicy | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        #: What the wire calls are timed into; the server counts its tool calls here too.
        self.metrics = metrics if metrics is not None else Metrics()
        self.repairer_credentials = repairer
        self.supplier_credentials = supplier
        self.tenant = tenant
        self.retry = retry or RetryPolicy()
        #: Where the wire is, as errors name it; and how many connections in a row it refused.
        self.address = shown_address(self.base_url)
        self._refused_in_a_row = 0
        headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
        if tenant:
            headers["x-partifact-tenant"] = tenant
        self._http = httpx2.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout,
            headers=headers,
            follow_redirects=False,
        )
        self.businesses = _Businesses(self)
        self.integrations = _Integrations(self)
        self.repairer = _Repairer(self)
        self.supplier = _Supplier(self)
        self.tier1 = _Tier1(self)
        self.uploads = _Uploads(self)

    def __repr__(self) -> str:
        return f"RailsClient(base_url={self.base_url!r}, tenant={self.tenant!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def dev_post(
        self, path: str, body: Mapping[str, Any], *, credential: CredentialRole | None = None
    ) -> httpx2.Response:
        """POST ``body`` to a sandbox dev route such as ``/__webhooks/subscribe``.

        Out of contract. An integration manages only its own webhook, so the request carries
        the credentials of the integration ``body["integration_id"]`` names when this client
        holds them (or those of ``credential`` when given). The tenant header applies too.
        Goes through this client's transport, so it reaches the embedded sandbox as well.
        """
        if credential is not None:
            headers = self._auth_headers(credential, path)
        else:
            named = body.get("integration_id")
            held = (c for c in (self.repairer_credentials, self.supplier_credentials) if c is not None)
            own = next((c for c in held if c.integration_id == named), None)
            headers = own.headers() if own is not None else {}
        return await self._http.post(path, json=dict(body), headers=headers)

    # --- the one place a wire call happens ------------------------------------------------

    async def call(
        self,
        method: str,
        body: BaseModel | Mapping[str, Any],
        response_type: type[T],
        *,
        credential: CredentialRole | None = None,
    ) -> T:
        """POST ``body`` to ``method`` and parse the answer as ``response_type``.

        ``credential`` defaults to what the method's scope needs (``any`` → repairer).
        Retries only methods the table marks ``retry_safe``. Traced and timed as one call.
        """
        with wire_call(method, self.metrics):
            return await self._call(method, body, response_type, credential)

    async def _call(
        self,
        method: str,
        body: BaseModel | Mapping[str, Any],
        response_type: type[T],
        credential: CredentialRole | None,
    ) -> T:
        spec = METHODS.get(method)
        retry_safe = spec.retry_safe if spec else False
        if credential is None:
            scope = spec.scope if spec else "repairer"
            credential = "none" if scope == "none" else "supplier" if scope == "supplier" else "repairer"
        payload = (
            body.model_dump_json(exclude_none=True).encode()
            if isinstance(body, BaseModel)
            else json.dumps(dict(body), ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
        )
        headers = self._auth_headers(credential, method)
        if not retry_safe:
            return await self._send_once(method, payload, headers, response_type)
        started = time.monotonic()
        try:  # most reads succeed first time: no retry machinery until one fails
            return await self._send_once(method, payload, headers, response_type)
        except RailsError as exc:
            if not exc.retryable:
                raise
            first = exc
        # stamina owns the backoff from here: its first attempt is the failure already seen
        # (re-raised, no second request), then it waits and retries within what is left of
        # the policy's time (the first attempt counts against it, as it always did).
        # Imported here, on the first failure: a server that never retries never loads it.
        import stamina

        left = self.retry.timeout - (time.monotonic() - started)
        if left <= 0:
            raise first
        async for attempt in stamina.retry_context(
            on=_is_retryable,
            attempts=self.retry.attempts,
            timeout=left,
            wait_initial=self.retry.wait_initial,
            wait_max=self.retry.wait_max,
        ):
            with attempt:
                if attempt.num == 1:
                    raise first
                note_wire_retries(attempt.num - 1)
                return await self._send_once(method, payload, headers, response_type)
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover

    def _auth_headers(self, credential: CredentialRole, method: str) -> dict[str, str]:
        if credential == "none":
            return {}
        creds = self.repairer_credentials if credential == "repairer" else self.supplier_credentials
        if creds is None:
            raise Unauthorized(f"no {credential} credential is configured", method=method)
        return creds.headers()

    async def _send_once(
        self,
        method: str,
        payload: bytes,
        headers: dict[str, str],
        response_type: type[T],
    ) -> T:
        started = time.perf_counter()
        try:
            response = await self._http.post(method_path(method), content=payload, headers=headers)
        except httpx2.RequestError as exc:  # TransportError, and DecodingError of a garbled body
            mapped = _map_transport_error(exc, method)
            if isinstance(exc, httpx2.ConnectError) and isinstance(mapped, RailsConnectionError):
                self._note_refusal(mapped)
            log.warning("rails %s failed: %s", method, mapped.code)
            raise mapped from None
        note_wire_status(response.status_code)
        self._refused_in_a_row = 0
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.debug("rails %s -> %s in %.1f ms", method, response.status_code, elapsed_ms)
        return _read_response(response, method, response_type)

    def _note_refusal(self, error: RailsConnectionError) -> None:
        """Name the address on a refused connection, and count the refusals in a row."""
        self._refused_in_a_row += 1
        error.refused_at = self.address
        error.refused_in_a_row = self._refused_in_a_row
        if self._refused_in_a_row == WIRE_DOWN_AFTER:
            log.warning(
                "nothing is listening at %s: %d connection attempts in a row were refused; "
                "check RAILS_BASE_URL",
                self.address,
                WIRE_DOWN_AFTER,
            )


# --- mapping foreign failures, in one place -----------------------------------------------


def _map_transport_error(exc: httpx2.RequestError, method: str) -> RailsTransportError:
    """httpx2 failures → our tree. ``request_sent`` is False only when it surely never left."""
    never_sent = isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout | httpx2.PoolTimeout)
    kind = type(exc).__name__
    if isinstance(exc, httpx2.TimeoutException):
        return RailsTimeout(f"{method} timed out ({kind})", method=method, request_sent=not never_sent)
    return RailsConnectionError(
        f"{method} failed in transport ({kind})", method=method, request_sent=not never_sent
    )


def _read_response(response: httpx2.Response, method: str, response_type: type[T]) -> T:
    status = response.status_code
    content_type = response.headers.get("content-type", "")
    if status >= 400:
        try:
            data: Any = json.loads(response.content) if response.content else None
        except ValueError:
            data = None
        code = _error_code(data)
        if code is None:
            code = "server_error" if status >= 500 else f"http_{status}"
        raise error_for_code(code, method=method, status=status)
    if "json" not in content_type:
        raise _not_json(method, status, content_type)
    try:
        return _parse(response.content, response_type)
    except ValidationError as exc:
        raise MalformedResponse(
            f"{method} answered {status} with a body that does not match "
            f"{response_type.__name__} ({exc.error_count()} problems)",
            method=method,
            http_status=status,
        ) from None
    except (ValueError, RecursionError):  # after ValidationError, which is a ValueError too
        raise _not_json(method, status, content_type) from None


def _parse(content: bytes, response_type: type[T]) -> T:
    """Parsed and validated in one pass (pydantic-core reads the bytes); JSON that only the
    standard library reads (a BOM, UTF-16) goes through ``json.loads``, accepted as it always was.
    Read tolerantly: a status value or a key the API added since 2026-01 is kept, not refused."""
    try:
        return response_type.model_validate_json(content or b"null", context=m.READ_TOLERANTLY)
    except ValidationError as exc:
        if not any(error["type"] == "json_invalid" for error in exc.errors(include_url=False)):
            raise
    return response_type.model_validate(json.loads(content), context=m.READ_TOLERANTLY)


def _not_json(method: str, status: int, content_type: str) -> MalformedResponse:
    return MalformedResponse(
        f"{method} answered {status} with a body that is not JSON ({content_type or 'no content type'})",
        method=method,
        http_status=status,
    )


def _error_code(data: Any) -> str | None:
    """``{"type": code}`` for most methods, a bare ``"code"`` string for parts.insert.

    The bare string is the vendor's decision D24 for that method; any method may send one.
    """
    if isinstance(data, str) and data:
        return data
    if isinstance(data, dict):
        code = cast("dict[str, Any]", data).get("type")
        if isinstance(code, str) and code:
            return code
    return None


# --- namespaces that mirror the dotted names -----------------------------------------------


class _Namespace:
    def __init__(self, client: RailsClient) -> None:
        self.client = client


N = TypeVar("N", bound=_Namespace)
V = TypeVar("V")


class _PerNamespace(Generic[V]):
    """A namespace attribute made from the namespace's client on first read, then kept."""

    __slots__ = ("name",)

    def __init__(self) -> None:
        self.name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, namespace: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, namespace: _Namespace, owner: type[Any]) -> V: ...
    def __get__(self, namespace: _Namespace | None, owner: type[Any]) -> Self | V:
        if namespace is None:
            return self
        value = self.make(namespace.client)
        vars(namespace)[self.name] = value  # later reads find it without this descriptor
        return value

    def make(self, client: RailsClient) -> V:
        raise NotImplementedError


class _Sub(_PerNamespace[N]):
    """A nested namespace (``rails.repairer.jobs``)."""

    __slots__ = ("kind",)

    def __init__(self, kind: type[N]) -> None:
        super().__init__()
        self.kind = kind

    def make(self, client: RailsClient) -> N:
        return self.kind(client)


class _Call(_PerNamespace[Callable[P, Awaitable[T]]], Generic[P, T]):
    """One wire method as a namespace attribute, declared once as (name, request, response):
    ``rails.repairer.jobs.get(identity=...)`` takes the request model's own keywords, builds
    the body and hands it to :meth:`RailsClient.call`, so the signature cannot drift from the
    model."""

    __slots__ = ("method", "request", "response")

    def __init__(self, method: str, request: Callable[P, BaseModel], response: type[T]) -> None:
        super().__init__()
        self.method = method
        self.request = request
        self.response = response

    def make(self, client: RailsClient) -> Callable[P, Awaitable[T]]:
        async def call(*args: P.args, **kwargs: P.kwargs) -> T:
            return await client.call(self.method, self.request(*args, **kwargs), self.response)

        call.__name__ = self.name
        call.__doc__ = f"``{self.method}``"
        return call


class _Businesses(_Namespace):
    async def list(self, *, credential: CredentialRole = "repairer") -> m.BusinessesListResponseV1:
        """``businesses.list``: the businesses of the credential's organization."""
        return await self.client.call(
            "businesses.list",
            m.BusinessesListRequestV1(),
            m.BusinessesListResponseV1,
            credential=credential,
        )


class _Integrations(_Namespace):
    #: Exchange an OAuth access code for an api_key.
    insert = _Call("integrations.insert", m.IntegrationsInstallRequestV1, m.IntegrationsInstallResponseV1)


class _BasketsLatest(_Namespace):
    get = _Call("repairer.jobs.baskets.latest.get", m.BasketsLatestGetRequestV1, m.BasketsLatestGetResponseV1)


class _Baskets(_Namespace):
    latest = _Sub(_BasketsLatest)


class _Parts(_Namespace):
    insert = _Call("repairer.jobs.parts.insert", m.JobsPartsInsertRequestV1, m.JobsPartsListResponseV1)
    list = _Call("repairer.jobs.parts.list", m.JobsPartsListRequestV1, m.JobsPartsListResponseV1)


class _Jobs(_Namespace):
    baskets = _Sub(_Baskets)
    parts = _Sub(_Parts)
    get = _Call("repairer.jobs.get", m.JobsGetRequestV1, m.JobV1)
    insert = _Call("repairer.jobs.insert", m.JobsInsertRequestV1, m.JobV1)


class _Invoices(_Namespace):
    #: Extension. Exactly one selector; the wire answers ``bad_request`` otherwise.
    list = _Call(
        "repairer.procurements.invoices.list",
        m.ProcurementsInvoicesListRequestV1,
        m.ProcurementsInvoicesListResponseV1,
    )
    #: Extension.
    get = _Call(
        "repairer.procurements.invoices.get",
        m.ProcurementsInvoicesGetRequestV1,
        m.ProcurementsInvoicesGetResponseV1,
    )


class _RepairerProcurements(_Namespace):
    invoices = _Sub(_Invoices)
    get = _Call("repairer.procurements.get", m.ProcurementsGetRequestV1, m.BuyerProcurementV1)
    list = _Call("repairer.procurements.list", m.ProcurementsListRequestV1, m.ProcurementsListResponseV1)
    #: Extension. Never retried: a lost answer must be checked with ``list``.
    insert = _Call(
        "repairer.procurements.insert", m.ProcurementsInsertRequestV1, m.ProcurementsInsertResponseV1
    )


class _WorkProviders(_Namespace):
    list = _Call("repairer.work-providers.list", m.WorkProvidersListRequestV1, m.WorkProvidersListResponseV1)


class _Repairer(_Namespace):
    jobs = _Sub(_Jobs)
    procurements = _Sub(_RepairerProcurements)
    #: ``repairer.work-providers`` (a hyphen is not a Python name).
    work_providers = _Sub(_WorkProviders)


class _SupplierProcurements(_Namespace):
    #: Needs the supplier credential. Never retried: re-read with ``get`` instead.
    confirm = _Call(
        "supplier.procurements.confirm", m.SupplierProcurementsConfirmRequestV1, m.SupplierProcurementV1
    )
    get = _Call("supplier.procurements.get", m.SupplierProcurementsGetRequestV1, m.SupplierProcurementV1)


class _Supplier(_Namespace):
    procurements = _Sub(_SupplierProcurements)


class _Tier1(_Namespace):
    prepare = _Call("tier1.prepare", m.Tier1PrepareRequestV1, m.Tier1PrepareResponseV1)


class _Uploads(_Namespace):
    prepare = _Call("uploads.prepare", m.UploadsPrepareRequestV1, m.UploadsPrepareResponseV1)
