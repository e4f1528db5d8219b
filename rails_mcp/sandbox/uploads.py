"""The storage behind ``uploads.prepare``: PUT the bytes to the signed URL, GET them back.

The URL's ``signature`` is an HMAC of the upload id under the database's own key, so the
prepare call stores nothing and any process serving the same file accepts the PUT. The
bytes are kept in SQLite, capped (10 MiB by default; larger is ``payload_too_large``).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from uuid import UUID

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from rails_mcp.sandbox.prepare import upload_signature
from rails_mcp.sandbox.store import Store

__all__ = ["MAX_UPLOAD_BYTES", "UploadRoutes"]

MAX_UPLOAD_BYTES = 10 * 1024 * 1024


def _error(code: str, status: int) -> Response:
    return Response(json.dumps({"type": code}), status_code=status, media_type="application/json")


def _upload_id(request: Request) -> str | None:
    raw = str(request.path_params.get("upload_id", ""))
    try:
        return str(UUID(raw))
    except ValueError:
        return None


class UploadRoutes:
    def __init__(self, store: Store, *, max_bytes: int, clock: Callable[[], float]) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.clock = clock

    async def put(self, request: Request) -> Response:
        """Store the body for a URL ``uploads.prepare`` signed; a repeat PUT replaces it."""
        upload_id = _upload_id(request)
        signature = request.query_params.get("signature", "")
        if upload_id is None or not hmac.compare_digest(
            signature.encode(), upload_signature(self.store.upload_key, upload_id).encode()
        ):
            return _error("forbidden", 403)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return _error("payload_too_large", 413)
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.max_bytes:
                    return _error("payload_too_large", 413)
                chunks.append(chunk)
        except ClientDisconnect:
            return _error("bad_request", 400)
        content = b"".join(chunks)
        content_type = request.headers.get("content-type") or "application/octet-stream"
        now = self.clock()

        await self.store.execute(
            "INSERT INTO uploads (id, content_type, content, stored_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET content_type = excluded.content_type, "
            "content = excluded.content, stored_at = excluded.stored_at",
            (upload_id, content_type[:200], content, now),
        )
        return Response(json.dumps({"id": upload_id, "size": size}), media_type="application/json")

    async def get(self, request: Request) -> Response:
        """The public URL: the stored bytes with the content type they were PUT with."""
        upload_id = _upload_id(request)
        row = (
            None
            if upload_id is None
            else self.store.read(
                lambda conn: conn.execute(
                    "SELECT content_type, content FROM uploads WHERE id = ?", (upload_id,)
                ).fetchone()
            )
        )
        if row is None:
            return _error("not_found", 404)
        return Response(bytes(row[1]), media_type=str(row[0]))
