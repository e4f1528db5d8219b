"""One exception tree for the Rails wire, shared by the client and the embedded sandbox.

The sandbox raises these to answer a call; the client raises them when it reads an answer.
One class per code (the way httpx models its errors); each class takes its HTTP status and
``retryable`` from the code's entry in :mod:`rails_mcp.wire.codes`. Messages never carry
credentials.

    RailsError
    ├── NoUsableAnswer                 (retryable)
    │   ├── RailsTransportError        transport_error
    │   │   ├── RailsTimeout           timeout
    │   │   └── RailsConnectionError   connection_error
    │   └── MalformedResponse          malformed_response
    └── RailsAPIError                  a coded error body from the wire
        ├── BadRequest                 bad_request (400)
        ├── Unauthorized               unauthorized (401)
        ├── InvalidAccessCode          invalid_access_code (401)
        ├── InvalidClientSecret        invalid_client_secret (401)
        ├── Forbidden                  forbidden (403)
        ├── NotFound                   not_found (404)
        ├── IntegrationNotFound        integration_not_found (404)
        ├── OAuthNotSupportedByIntegration  o_auth_not_supported_by_integration (400)
        ├── Unprocessable              unprocessable (422)
        ├── WorkProviderNotFound       work_provider_not_found (422)
        ├── MethodNotAllowed           method_not_allowed (405)
        ├── PayloadTooLarge            payload_too_large (413)
        ├── UnsupportedMediaType       unsupported_media_type (415)
        ├── RateLimited                rate_limited (429, retryable)
        ├── ServerError                server_error (5xx, retryable)
        └── UnknownWireError           a code this client does not know, kept verbatim
"""

from __future__ import annotations

from typing import ClassVar

from rails_mcp.wire.codes import CODES, ErrorCode

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
    "RateLimited",
    "ServerError",
    "Unauthorized",
    "UnknownWireError",
    "Unprocessable",
    "UnsupportedMediaType",
    "WorkProviderNotFound",
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
    code: ClassVar[ErrorCode]

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

    code: ClassVar[ErrorCode] = ErrorCode.TRANSPORT_ERROR


class RailsTimeout(RailsTransportError):
    """No answer within the configured timeout."""

    code: ClassVar[ErrorCode] = ErrorCode.TIMEOUT


class RailsConnectionError(RailsTransportError):
    """The connection could not be made, or broke before an answer."""

    code: ClassVar[ErrorCode] = ErrorCode.CONNECTION_ERROR
    #: The address that refused the connection (set by the client), and how many in a row it refused.
    refused_at: str | None = None
    refused_in_a_row: int = 0


class MalformedResponse(NoUsableAnswer):
    """The server answered (so ``request_sent``), but not with the JSON the contract promises."""

    code: ClassVar[ErrorCode] = ErrorCode.MALFORMED_RESPONSE


class RailsAPIError(RailsError):
    """A coded error body from the wire: ``{"type": code}``, or a bare ``"code"`` string from
    ``repairer.jobs.parts.insert``. Each subclass names its code; status and ``retryable``
    follow from the code's registry entry."""

    code: ClassVar[ErrorCode] = ErrorCode.UNKNOWN_WIRE_ERROR
    http_status: ClassVar[int] = 500

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        info = CODES[cls.code]
        cls.retryable = info.retryable
        if info.http_status is not None:
            cls.http_status = info.http_status

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
        """The code as the wire spelled it."""
        return self.code


class BadRequest(RailsAPIError):
    """The body is not JSON or not the method's shape."""

    code = ErrorCode.BAD_REQUEST


class Unauthorized(RailsAPIError):
    """No credential, or one the wire does not accept."""

    code = ErrorCode.UNAUTHORIZED


class InvalidAccessCode(RailsAPIError):
    """An OAuth access code that is spent (single use per tenant) or wrong."""

    code = ErrorCode.INVALID_ACCESS_CODE


class InvalidClientSecret(RailsAPIError):
    """The OAuth client secret does not match the client id."""

    code = ErrorCode.INVALID_CLIENT_SECRET


class Forbidden(RailsAPIError):
    """The credential's scope (repairer or supplier) does not allow the method."""

    code = ErrorCode.FORBIDDEN


class NotFound(RailsAPIError):
    """No such record for this credential (a supplier sees only its own orders)."""

    code = ErrorCode.NOT_FOUND


class IntegrationNotFound(RailsAPIError):
    """The OAuth client id names no integration."""

    code = ErrorCode.INTEGRATION_NOT_FOUND


class OAuthNotSupportedByIntegration(RailsAPIError):
    """The integration exists but cannot be installed by OAuth."""

    code = ErrorCode.O_AUTH_NOT_SUPPORTED_BY_INTEGRATION


class Unprocessable(RailsAPIError):
    """A well-formed body that breaks a rule (a confirmed order is locked)."""

    code = ErrorCode.UNPROCESSABLE


class WorkProviderNotFound(RailsAPIError):
    """The job names a work provider the repairer does not work with."""

    code = ErrorCode.WORK_PROVIDER_NOT_FOUND


class MethodNotAllowed(RailsAPIError):
    """Sandbox HTTP edge: the wire is POST only."""

    code = ErrorCode.METHOD_NOT_ALLOWED


class PayloadTooLarge(RailsAPIError):
    """Sandbox HTTP edge: request body over the documented limit."""

    code = ErrorCode.PAYLOAD_TOO_LARGE


class UnsupportedMediaType(RailsAPIError):
    """Sandbox HTTP edge: the body is not declared as JSON."""

    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE


class RateLimited(RailsAPIError):
    """429: the wire asks the caller to slow down; the same call may succeed later."""

    code = ErrorCode.RATE_LIMITED


class ServerError(RailsAPIError):
    """A 5xx from the wire: the server failed, the same call may succeed later."""

    code = ErrorCode.SERVER_ERROR


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
    RateLimited,
    ServerError,
)

#: The table from wire code to exception class.
ERROR_CLASSES: dict[str, type[RailsAPIError]] = {cls.code: cls for cls in _CLASSES}

#: HTTP status per wire code (the documented statuses, plus the sandbox's HTTP-edge codes).
HTTP_STATUS_BY_CODE: dict[str, int] = {cls.code: cls.http_status for cls in _CLASSES}


def error_for_code(code: str, *, method: str | None, status: int) -> RailsAPIError:
    """Build the exception for a wire code; an unknown code is kept, and keeps what its status
    says: 429 and 5xx stay retryable."""
    cls = ERROR_CLASSES.get(code)
    if cls is not None:
        return cls(method=method, status=status)
    if status == RateLimited.http_status:
        return RateLimited(f"rate limited ({code!r})", method=method, status=status)
    if status >= 500:
        return ServerError(f"server error {code!r}", method=method, status=status)
    return UnknownWireError(code, method=method, status=status)
