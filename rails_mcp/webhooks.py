"""Verify (and, for tests, sign) Rails webhook deliveries: the public receiver-side API.

A ten-line receiver::

    from rails_mcp.webhooks import SIGNATURE_HEADER, verify

    async def receive(request):  # any framework that gives you the raw body bytes
        raw = await request.body()
        result = verify(raw, request.headers.get(SIGNATURE_HEADER), secret="pwh_…")
        if not result.ok:
            return 401, result.reason  # bad_signature, timestamp_too_old, …
        if seen(result.event["id"]):  # at-least-once delivery: dedup on the event id
            return 200, "duplicate"
        handle(result.event)  # identifiers only: re-fetch the job/procurement

The implementation lives in :mod:`rails_mcp.wire.webhooks`, the same functions the embedded
sandbox signs its deliveries and verifies its reference sink with.
"""

from __future__ import annotations

from rails_mcp.wire import webhooks as _wire
from rails_mcp.wire.webhooks import *  # noqa: F403  (this module is the wire module's public face)

__all__: list[str] = []
__all__ += _wire.__all__
