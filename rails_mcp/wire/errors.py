"""One exception tree for the Rails wire, shared by the client and the embedded sandbox.

The sandbox raises these to answer a call; the client raises them when it reads an answer.
One class per wire code, a table from code to class, ``retryable`` on the class (the way
httpx and anthropic-sdk-python model errors). Messages never carry credentials.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "HTTP_STATUS_BY_CODE",
    "BadRequest",
    "Forbidden",
    "IntegrationNotFound",
    "InvalidAccessCode",
    "InvalidClientSecret",
    "MalformedResponse",
    "MethodNotAllowed",
    "NoUsableAnswer",
    "NotFound",
    "OAuthNotSupportedByIntegration",
    "PayloadTooLarge",
    "RailsAPIError",
    "RailsConnectionError",
    "RailsError",
    "RailsTimeout",
    "RailsTransportError",
    "ServerError",
    "Unauthorized",
    "UnknownWireError",
    "Unprocessable",
    "UnsupportedMediaType",
    "WorkProviderNotFound",
    "error_class_for",
    "error_for_code",
]


class RailsError(Exception):
    """Root of everything rails-mcp raises about the wire."""

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, method: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.method = method


class NoUsableAnswer(RailsError):
    """No answer the contract allows came back: none at all, or one that breaks it. Worth
    another try; what is known of the exchange travels with the error."""

    retryable: ClassVar[bool] = True
    #: Our own code for what went wrong (set by each subclass).
    code: ClassVar[str]

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        request_sent: bool = True,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message, method=method)
        self.request_sent = request_sent
        #: The status of an answer that broke the contract; None when nothing came back.
        self.http_status = http_status


class RailsTransportError(NoUsableAnswer):
    """The call did not produce a readable answer (timeout, reset, refused connection).

    ``request_sent`` is False only when we know the request never left: a write with
    ``request_sent`` True may have landed and must be checked, never blindly retried.
    """

    code: ClassVar[str] = "transport_error"


class RailsTimeout(RailsTransportError):
    code: ClassVar[str] = "timeout"


class RailsConnectionError(RailsTransportError):
    code: ClassVar[str] = "connection_error"


class MalformedResponse(NoUsableAnswer):
    """The server answered (so ``request_sent``), but not with the JSON the contract promises."""

    code: ClassVar[str] = "malformed_response"


class RailsAPIError(RailsError):
    """A coded error body from the wire: ``{"type": code}`` (or a bare string, D24)."""

    code: ClassVar[str] = "unknown"
    http_status: ClassVar[int] = 500

    def __init__(
        self,
        message: str | None = None,
        *,
        method: str | None = None,
        status: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message or self.default_message(), method=method)
        self.status = status if status is not None else self.http_status
        #: Extra, human-facing explanation; never part of the wire body.
        self.detail = detail

    @classmethod
    def default_message(cls) -> str:
        return cls.code.replace("_", " ")

    @property
    def wire_code(self) -> str:
        return self.code


class BadRequest(RailsAPIError):
    code = "bad_request"
    http_status = 400


class Unauthorized(RailsAPIError):
    code = "unauthorized"
    http_status = 401


class InvalidAccessCode(RailsAPIError):
    code = "invalid_access_code"
    http_status = 401


class InvalidClientSecret(RailsAPIError):
    code = "invalid_client_secret"
    http_status = 401


class Forbidden(RailsAPIError):
    code = "forbidden"
    http_status = 403


class NotFound(RailsAPIError):
    code = "not_found"
    http_status = 404


class IntegrationNotFound(RailsAPIError):
    code = "integration_not_found"
    http_status = 404


class OAuthNotSupportedByIntegration(RailsAPIError):
    code = "o_auth_not_supported_by_integration"
    http_status = 400


class Unprocessable(RailsAPIError):
    code = "unprocessable"
    http_status = 422


class WorkProviderNotFound(RailsAPIError):
    code = "work_provider_not_found"
    http_status = 422


class MethodNotAllowed(RailsAPIError):
    """Sandbox HTTP edge: the wire is POST only."""

    code = "method_not_allowed"
    http_status = 405


class PayloadTooLarge(RailsAPIError):
    """Sandbox HTTP edge: request body over the documented limit."""

    code = "payload_too_large"
    http_status = 413


class UnsupportedMediaType(RailsAPIError):
    """Sandbox HTTP edge: the body is not declared as JSON."""

    code = "unsupported_media_type"
    http_status = 415


class ServerError(RailsAPIError):
    """A 5xx from the wire: the server failed, the same call may succeed later."""

    code = "server_error"
    http_status = 500
    retryable = True


class UnknownWireError(RailsAPIError):
    """A code this client does not know; kept verbatim in ``wire_code``."""

    def __init__(self, code: str, *, method: str | None = None, status: int) -> None:
        super().__init__(f"unknown wire error {code!r}", method=method, status=status)
        self._code = code

    @property
    def wire_code(self) -> str:
        return self._code


_CLASSES: tuple[type[RailsAPIError], ...] = (
    BadRequest,
    Unauthorized,
    InvalidAccessCode,
    InvalidClientSecret,
    Forbidden,
    NotFound,
    IntegrationNotFound,
    OAuthNotSupportedByIntegration,
    Unprocessable,
    WorkProviderNotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
    ServerError,
)

#: The table from wire code to exception class.
ERROR_CLASSES: dict[str, type[RailsAPIError]] = {cls.code: cls for cls in _CLASSES}

#: HTTP status per wire code (SPEC §1, plus the sandbox's HTTP-edge codes).
HTTP_STATUS_BY_CODE: dict[str, int] = {cls.code: cls.http_status for cls in _CLASSES}


def error_class_for(code: str) -> type[RailsAPIError] | None:
    return ERROR_CLASSES.get(code)


def error_for_code(code: str, *, method: str | None, status: int) -> RailsAPIError:
    """Build the exception for a wire code; unknown codes are kept, 5xx stay retryable."""
    cls = ERROR_CLASSES.get(code)
    if cls is not None:
        return cls(method=method, status=status)
    if status >= 500:
        return ServerError(f"server error {code!r}", method=method, status=status)
    return UnknownWireError(code, method=method, status=status)
