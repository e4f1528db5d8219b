"""One way to page a list: ``limit`` and an opaque ``cursor`` in, ``next_cursor`` out.

The wire's list methods have no paging, so a list tool reads the wire's whole answer once per
call and cuts one window out of it. A cursor carries the window's start and an HMAC over the
tool's name and the arguments that chose the list, so a cursor that was altered, or made by
another tool or for another filter, is refused as ``invalid_cursor`` before anything is read.

The key is derived from the repairer credential the server calls the wire with: every replica
serving the same tenant holds it, so a cursor from one replica is honoured by the next, and a
cursor is worthless against another tenant's deployment. (A client without a credential gets
a key of this process only.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Self, TypeVar, cast

from mcp import MCPError
from mcp_types import INVALID_PARAMS, PaginatedRequestParams
from pydantic import BaseModel, Field, StrictInt

from rails_mcp.client import RailsClient
from rails_mcp.errors import RepairableInput, ToolError, ToolFailure
from rails_mcp.wire.codes import ErrorCode

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "PAGE_ALIASES",
    "NextCursor",
    "PageInput",
    "Window",
    "cursor_key",
    "paged_count",
    "single_page",
]

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
#: Keys agents send for the two paging arguments.
PAGE_ALIASES: Mapping[str, str] = {
    "page_size": "limit",
    "pageSize": "limit",
    "max_results": "limit",
    "next_cursor": "cursor",
    "nextCursor": "cursor",
    "page_token": "cursor",
    "pageToken": "cursor",
}
_PAGED_FIELDS = frozenset({"limit", "cursor"})
_MAC_BYTES = 16
_MAX_CURSOR = 64
_OFFSET = struct.Struct(">I")
_LABEL = b"rails-mcp/cursor/v1"
_PROCESS_KEY = secrets.token_bytes(32)


class PageInput(RepairableInput):
    """The two paging arguments, the same on every list tool (mixed into its input model)."""

    limit: Annotated[StrictInt, Field(ge=1, le=MAX_LIMIT, description="Page size.")] = DEFAULT_LIMIT
    cursor: Annotated[str | None, Field(description="A next_cursor.")] = None


class NextCursor(BaseModel):
    """The paging result field, the same on every list tool (mixed into its output model)."""

    #: Where a result holds the items its window counts, when they are not simply its one list:
    #: ``"orders"`` beside other lists, ``"suppliers[].offers"`` inside supplier blocks. A result
    #: cut to fit its budget continues after the last of these shown (:func:`paged_count`).
    paged_items: ClassVar[str | None] = None

    next_cursor: str | None = Field(
        default=None,
        description="Send as cursor, with the same other arguments, for the next page; absent on the last.",
    )

    def carry(self, cursor: str | None) -> Self:
        """Set ``next_cursor`` only when there is a next page (unset fields stay out of the result)."""
        if cursor is not None:
            self.next_cursor = cursor
        return self


def cursor_key(client: RailsClient) -> bytes:
    """The signing key: derived from the repairer credential, so replicas of one tenant share it."""
    creds = client.repairer_credentials
    if creds is None:
        return _PROCESS_KEY
    scope = "|".join([client.base_url, client.tenant or "", creds.integration_id])
    return hmac.new(creds.api_key.encode(), _LABEL + b"|" + scope.encode(), hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class Window:
    """One call's page: where it starts (checked from the cursor) and how long it is.

    Made before the wire is read, so a bad cursor costs no wire call."""

    tool: str
    start: int
    limit: int
    binding: bytes
    key: bytes

    @classmethod
    def of(cls, tool: str, args: PageInput, key: bytes) -> Window:
        """The window ``args`` ask for; ``invalid_cursor`` when the cursor is not this call's own."""
        chosen = args.model_dump(mode="json", exclude=set(_PAGED_FIELDS))
        binding = json.dumps([tool, chosen], sort_keys=True, separators=(",", ":")).encode()
        window = cls(tool=tool, start=0, limit=args.limit, binding=binding, key=key)
        if args.cursor is None:
            return window
        start = window.decode(args.cursor)
        if start is None:
            raise ToolFailure(_invalid_cursor(tool, args))
        return cls(tool=tool, start=start, limit=args.limit, binding=binding, key=key)

    def cut(self, items: Sequence[T]) -> tuple[list[T], str | None]:
        """This page of ``items`` and the cursor of the next (None: this is the last page)."""
        end = self.start + self.limit
        return list(items[self.start : end]), (self.encode(end) if end < len(items) else None)

    def summary(self, shown: int, total: int, noun: str) -> str:
        """How a result's sentence names its slice: "3 parts", or "1–50 of 1000 parts (more: …)"."""
        if shown == total:
            return f"{total} {noun}"
        first = self.start + 1 if shown else self.start
        more = " (more: call again with cursor=next_cursor)" if self.start + shown < total else ""
        return f"{first}–{self.start + shown} of {total} {noun}{more}"

    def encode(self, start: int) -> str:
        packed = _OFFSET.pack(start)
        return base64.urlsafe_b64encode(packed + self._mac(packed)).decode().rstrip("=")

    def decode(self, cursor: str) -> int | None:
        if len(cursor) > _MAX_CURSOR:  # an issued cursor is 27 characters
            return None
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            return None
        packed, mac = raw[: _OFFSET.size], raw[_OFFSET.size :]
        if len(packed) != _OFFSET.size or not hmac.compare_digest(mac, self._mac(packed)):
            return None
        return int(_OFFSET.unpack(packed)[0])

    def _mac(self, packed: bytes) -> bytes:
        return hmac.new(self.key, self.binding + b"|" + packed, hashlib.sha256).digest()[:_MAC_BYTES]


def _invalid_cursor(tool: str, args: PageInput) -> ToolError:
    first_page: dict[str, Any] = args.model_dump(mode="json", exclude=set(_PAGED_FIELDS), exclude_none=True)
    if args.limit != DEFAULT_LIMIT:
        first_page["limit"] = args.limit
    return ToolError(
        code=ErrorCode.INVALID_CURSOR,
        message=f"This cursor was not issued by {tool} for these arguments (it was altered, or it "
        "belongs to another tool or another filter); nothing was read.",
        fix=f"Call {tool} again without cursor (example_arguments) and follow its next_cursor.",
        retryable=False,
        field="cursor",
        example_arguments=first_page,
    )


def paged_count(result: Mapping[str, Any], path: str) -> int:
    """How many paged items ``result`` shows at ``path`` ("orders", "suppliers[].offers")."""
    nodes: list[Any] = [result]
    for step in path.split("."):
        key, many = step.removesuffix("[]"), step.endswith("[]")
        found = [cast("Mapping[str, Any]", n).get(key) for n in nodes if isinstance(n, Mapping)]
        lists = [cast("list[Any]", v) for v in found if isinstance(v, list)]
        nodes = [item for items in lists for item in items] if many else lists
    return sum(len(cast("list[Any]", n)) for n in nodes)


def single_page(method: str, params: PaginatedRequestParams | None) -> None:
    """A protocol list that is one fixed page issues no cursor, so any cursor sent is invalid."""
    if params is not None and params.cursor is not None:
        raise MCPError(INVALID_PARAMS, f"Invalid cursor: {method} is a single page; omit cursor.")
