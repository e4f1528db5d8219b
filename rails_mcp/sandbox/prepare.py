"""The two ``prepare`` rules: vehicle identifiers to warm up, and upload URLs to sign.

Neither stores anything in the world; an upload URL is checked statelessly by its signature.
"""

from __future__ import annotations

import hmac
import re
from uuid import uuid4

from rails_mcp.sandbox.world import Call, World
from rails_mcp.wire import errors as e
from rails_mcp.wire import models as m

__all__ = ["tier1_prepare", "upload_signature", "uploads_prepare"]

_VIN = re.compile(r"[A-HJ-NPR-Z0-9]{17}")
_VIN_CHAR = re.compile(r"[A-HJ-NPR-Z0-9]")
_VRM = re.compile(r"[A-Z0-9]{1,8}")


def _vin_problem(raw: str) -> str | None:
    vin = raw.strip().upper()
    if _VIN.fullmatch(vin):
        return None
    if len(vin) != 17:
        return f"a VIN has exactly 17 characters; this one has {len(vin)}"
    bad = sorted({c for c in vin if not _VIN_CHAR.fullmatch(c)})
    if set(bad) <= {"I", "O", "Q"}:
        return f"a VIN never contains the letters I, O or Q; found {', '.join(bad)}"
    return f"a VIN contains only letters and digits; found {' '.join(repr(c) for c in bad)}"


def _vrm_problem(raw: str) -> str | None:
    vrm = re.sub(r"[\s-]", "", raw).upper()
    if _VRM.fullmatch(vrm):
        return None
    if not vrm:
        return "a registration plate needs at least one letter or digit"
    if len(vrm) > 8:
        return f"a registration plate has at most 8 letters and digits; this one has {len(vrm)}"
    bad = sorted({c for c in vrm if not c.isascii() or not c.isalnum()})
    return f"a registration plate contains only letters A-Z and digits; found {' '.join(bad)}"


def tier1_prepare(world: World, call: Call, req: m.Tier1PrepareRequestV1) -> m.Tier1PrepareResponseV1:
    """Validate the identifiers; nothing is stored (the warm-up is fire-and-forget)."""
    invalid: list[m.InvalidIdentifierV1] = []
    for ident in req.identifiers:
        if isinstance(ident, m.VinIdentifier):
            problem, echo = _vin_problem(ident.vin), {"vin": ident.vin}
        else:
            problem, echo = _vrm_problem(ident.vrm), {"vrm": ident.vrm}
        if problem is not None:
            invalid.append(m.InvalidIdentifierV1(identifier=echo, reason=problem))
    return m.Tier1PrepareResponseV1(invalid_identifiers=invalid)


def upload_signature(upload_key: bytes, upload_id: str) -> str:
    """The ``signature`` of an upload URL: binds the URL to its id, checkable statelessly."""
    return hmac.new(upload_key, upload_id.encode(), "sha256").hexdigest()[:32]


def uploads_prepare(world: World, call: Call, req: m.UploadsPrepareRequestV1) -> m.UploadsPrepareResponseV1:
    """A pre-signed URL on this sandbox; ``PUT`` the bytes there, read them at ``public_url``.

    ``media_type`` and ``type`` are free text, as the documents state no enumeration
    (``"image"`` and ``"image/jpeg"`` are both fine); only a file name with a path in it is
    ``unprocessable``.
    """
    name = req.file_name
    if "/" in name or "\\" in name or ".." in name or any(ord(c) < 32 for c in name):
        raise e.Unprocessable(detail="file_name must be a plain file name")
    if not req.media_type.strip() or not req.type.strip():
        raise e.Unprocessable(detail="media_type and type cannot be blank")
    upload_id = str(uuid4())
    public_url = f"{call.base_url}uploads/{upload_id}"
    return m.UploadsPrepareResponseV1(
        upload_url=f"{public_url}?signature={upload_signature(call.upload_key, upload_id)}",
        public_url=public_url,
    )
