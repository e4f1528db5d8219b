"""An async, typed client for the Rails Integrations API (2026-01), on httpx2.

Methods mirror the dotted wire names: ``rails.repairer.jobs.baskets.latest.get(...)`` is
``POST /api/2026-01/repairer.jobs.baskets.latest.get``. Every answer is parsed with the
shared models in :mod:`rails_mcp.wire.models`; every failure is one of the exceptions in
:mod:`rails_mcp.wire.errors`. Reads that are safe to repeat retry with bounded, jittered
backoff (stamina); writes never retry on their own, because a lost answer to a write may
mean it landed, and only the caller can check that.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, cast
from uuid import UUID

import httpx2
import stamina
from pydantic import BaseModel, ValidationError

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

__all__ = ["CredentialRole", "Credentials", "RailsClient", "RetryPolicy", "mask_secret"]

log = logging.getLogger("rails_mcp.client")

T = TypeVar("T", bound=BaseModel)
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


def _is_retryable(exc: Exception) -> bool:
    return isinstance(exc, RailsError) and exc.retryable


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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.repairer_credentials = repairer
        self.supplier_credentials = supplier
        self.tenant = tenant
        self.retry = retry or RetryPolicy()
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

    async def dev_post(self, path: str, body: Mapping[str, Any]) -> httpx2.Response:
        """POST ``body`` to a sandbox dev route such as ``/__webhooks/subscribe`` (SPEC §2a).

        Out of contract and unauthenticated (no credential is sent); the tenant header still
        applies. Goes through this client's transport, so it reaches the embedded sandbox too.
        """
        return await self._http.post(path, json=dict(body))

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
        Retries only methods the table marks ``retry_safe``.
        """
        spec = METHODS.get(method)
        retry_safe = spec.retry_safe if spec else False
        if credential is None:
            scope = spec.scope if spec else "repairer"
            credential = "none" if scope == "none" else "supplier" if scope == "supplier" else "repairer"
        payload = (
            body.model_dump(mode="json", exclude_none=True) if isinstance(body, BaseModel) else dict(body)
        )
        headers = self._auth_headers(credential, method)
        if not retry_safe:
            return await self._send_once(method, payload, headers, response_type)
        async for attempt in stamina.retry_context(
            on=_is_retryable,
            attempts=self.retry.attempts,
            timeout=self.retry.timeout,
            wait_initial=self.retry.wait_initial,
            wait_max=self.retry.wait_max,
        ):
            with attempt:
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
        payload: dict[str, Any],
        headers: dict[str, str],
        response_type: type[T],
    ) -> T:
        started = time.perf_counter()
        try:
            response = await self._http.post(method_path(method), json=payload, headers=headers)
        except httpx2.RequestError as exc:  # TransportError, and DecodingError of a garbled body
            mapped = _map_transport_error(exc, method)
            log.warning("rails %s failed: %s", method, mapped.code)
            raise mapped from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.debug("rails %s -> %s in %.1f ms", method, response.status_code, elapsed_ms)
        return _read_response(response, method, response_type)


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
    try:
        data: Any = json.loads(response.content) if response.content else None
    except ValueError:
        data = _NOT_JSON
    if status >= 400:
        code = _error_code(data)
        if code is None:
            code = "server_error" if status >= 500 else f"http_{status}"
        raise error_for_code(code, method=method, status=status)
    if data is _NOT_JSON or "json" not in content_type:
        raise MalformedResponse(
            f"{method} answered {status} with a body that is not JSON ({content_type or 'no content type'})",
            method=method,
            http_status=status,
        )
    try:
        return response_type.model_validate(data)
    except ValidationError as exc:
        raise MalformedResponse(
            f"{method} answered {status} with a body that does not match "
            f"{response_type.__name__} ({exc.error_count()} problems)",
            method=method,
            http_status=status,
        ) from None


_NOT_JSON = object()


def _error_code(data: Any) -> str | None:
    """``{"type": code}`` for most methods, a bare ``"code"`` string for parts.insert (D24)."""
    if isinstance(data, str) and data:
        return data
    if isinstance(data, dict):
        code = cast("dict[str, Any]", data).get("type")
        if isinstance(code, str) and code:
            return code
    return None


# --- namespaces that mirror the dotted names -----------------------------------------------


class _Namespace:
    __slots__ = ("_c",)

    def __init__(self, client: RailsClient) -> None:
        self._c = client


class _Businesses(_Namespace):
    async def list(self, *, credential: CredentialRole = "repairer") -> m.BusinessesListResponseV1:
        """``businesses.list``: the businesses of the credential's organization."""
        return await self._c.call(
            "businesses.list",
            m.BusinessesListRequestV1(),
            m.BusinessesListResponseV1,
            credential=credential,
        )


class _Integrations(_Namespace):
    async def insert(
        self, *, access_code: str, client_id: str, client_secret: str
    ) -> m.IntegrationsInstallResponseV1:
        """``integrations.insert``: exchange an OAuth access code for an api_key."""
        return await self._c.call(
            "integrations.insert",
            m.IntegrationsInstallRequestV1(
                access_code=access_code, client_id=client_id, client_secret=client_secret
            ),
            m.IntegrationsInstallResponseV1,
        )


class _BasketsLatest(_Namespace):
    async def get(self, *, job_identity: m.Identity) -> m.BasketsLatestGetResponseV1:
        return await self._c.call(
            "repairer.jobs.baskets.latest.get",
            m.BasketsLatestGetRequestV1(job_identity=job_identity),
            m.BasketsLatestGetResponseV1,
        )


class _Baskets(_Namespace):
    __slots__ = ("latest",)

    def __init__(self, client: RailsClient) -> None:
        super().__init__(client)
        self.latest = _BasketsLatest(client)


class _Parts(_Namespace):
    async def insert(
        self, *, job_identity: m.Identity, parts: Sequence[m.PartInsertV1]
    ) -> m.JobsPartsListResponseV1:
        return await self._c.call(
            "repairer.jobs.parts.insert",
            m.JobsPartsInsertRequestV1(job_identity=job_identity, parts=list(parts)),
            m.JobsPartsListResponseV1,
        )

    async def list(self, *, job_identity: m.Identity) -> m.JobsPartsListResponseV1:
        return await self._c.call(
            "repairer.jobs.parts.list",
            m.JobsPartsListRequestV1(job_identity=job_identity),
            m.JobsPartsListResponseV1,
        )


class _Jobs(_Namespace):
    __slots__ = ("baskets", "parts")

    def __init__(self, client: RailsClient) -> None:
        super().__init__(client)
        self.baskets = _Baskets(client)
        self.parts = _Parts(client)

    async def get(self, *, identity: m.Identity) -> m.JobV1:
        return await self._c.call("repairer.jobs.get", m.JobsGetRequestV1(identity=identity), m.JobV1)

    async def insert(
        self,
        *,
        identity: m.Identity,
        repairer_site_id: UUID,
        work_provider_id: UUID | None = None,
        vehicle: m.VehicleV1 | None = None,
        claim_number: str | None = None,
        job_number: str | None = None,
    ) -> m.JobV1:
        return await self._c.call(
            "repairer.jobs.insert",
            m.JobsInsertRequestV1(
                identity=identity,
                repairer_site_id=repairer_site_id,
                work_provider_id=work_provider_id,
                vehicle=vehicle,
                claim_number=claim_number,
                job_number=job_number,
            ),
            m.JobV1,
        )


class _Invoices(_Namespace):
    async def list(
        self,
        *,
        procurement_identity: m.IdIdentity | None = None,
        job_identity: m.Identity | None = None,
    ) -> m.ProcurementsInvoicesListResponseV1:
        """Extension. Exactly one selector; the wire answers ``bad_request`` otherwise."""
        return await self._c.call(
            "repairer.procurements.invoices.list",
            m.ProcurementsInvoicesListRequestV1(
                procurement_identity=procurement_identity, job_identity=job_identity
            ),
            m.ProcurementsInvoicesListResponseV1,
        )

    async def get(self, *, identity: m.IdIdentity) -> m.ProcurementsInvoicesGetResponseV1:
        """Extension."""
        return await self._c.call(
            "repairer.procurements.invoices.get",
            m.ProcurementsInvoicesGetRequestV1(identity=identity),
            m.ProcurementsInvoicesGetResponseV1,
        )


class _RepairerProcurements(_Namespace):
    __slots__ = ("invoices",)

    def __init__(self, client: RailsClient) -> None:
        super().__init__(client)
        self.invoices = _Invoices(client)

    async def get(self, *, identity: m.IdIdentity) -> m.BuyerProcurementV1:
        return await self._c.call(
            "repairer.procurements.get",
            m.ProcurementsGetRequestV1(identity=identity),
            m.BuyerProcurementV1,
        )

    async def list(self, *, job_identity: m.Identity) -> m.ProcurementsListResponseV1:
        return await self._c.call(
            "repairer.procurements.list",
            m.ProcurementsListRequestV1(job_identity=job_identity),
            m.ProcurementsListResponseV1,
        )

    async def insert(
        self, *, job_identity: m.Identity, offer_selections: Sequence[m.OfferSelectionV1]
    ) -> m.ProcurementsInsertResponseV1:
        """Extension. Never retried: a lost answer must be checked with ``list``."""
        return await self._c.call(
            "repairer.procurements.insert",
            m.ProcurementsInsertRequestV1(job_identity=job_identity, offer_selections=list(offer_selections)),
            m.ProcurementsInsertResponseV1,
        )


class _WorkProviders(_Namespace):
    async def list(self) -> m.WorkProvidersListResponseV1:
        return await self._c.call(
            "repairer.work-providers.list",
            m.WorkProvidersListRequestV1(),
            m.WorkProvidersListResponseV1,
        )


class _Repairer(_Namespace):
    __slots__ = ("jobs", "procurements", "work_providers")

    def __init__(self, client: RailsClient) -> None:
        super().__init__(client)
        self.jobs = _Jobs(client)
        self.procurements = _RepairerProcurements(client)
        #: ``repairer.work-providers`` (a hyphen is not a Python name).
        self.work_providers = _WorkProviders(client)


class _SupplierProcurements(_Namespace):
    async def confirm(self, *, identity: m.IdIdentity) -> m.SupplierProcurementV1:
        """Needs the supplier credential. Never retried: re-read with ``get`` instead."""
        return await self._c.call(
            "supplier.procurements.confirm",
            m.SupplierProcurementsConfirmRequestV1(identity=identity),
            m.SupplierProcurementV1,
        )

    async def get(self, *, identity: m.IdIdentity) -> m.SupplierProcurementV1:
        return await self._c.call(
            "supplier.procurements.get",
            m.SupplierProcurementsGetRequestV1(identity=identity),
            m.SupplierProcurementV1,
        )


class _Supplier(_Namespace):
    __slots__ = ("procurements",)

    def __init__(self, client: RailsClient) -> None:
        super().__init__(client)
        self.procurements = _SupplierProcurements(client)


class _Tier1(_Namespace):
    async def prepare(self, *, identifiers: Sequence[m.VehicleIdentifier]) -> m.Tier1PrepareResponseV1:
        return await self._c.call(
            "tier1.prepare",
            m.Tier1PrepareRequestV1(identifiers=list(identifiers)),
            m.Tier1PrepareResponseV1,
        )


class _Uploads(_Namespace):
    async def prepare(self, *, file_name: str, media_type: str, type: str) -> m.UploadsPrepareResponseV1:
        return await self._c.call(
            "uploads.prepare",
            m.UploadsPrepareRequestV1(file_name=file_name, media_type=media_type, type=type),
            m.UploadsPrepareResponseV1,
        )
