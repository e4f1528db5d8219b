"""The audit log: one JSON line per tool call, appended to ``$RAILS_STATE_DIR/audit.jsonl``.

Who ordered what, when, and whether a person approved it: time, the tenant and the repairer
the server acts for, tool, arguments, outcome (``ok`` or the error code), the procurement and
invoice ids touched, the approval outcome, the transport and the protocol era. The file is
only ever appended to (``O_APPEND``, one ``write`` per line) and kept 0600, so it survives
restarts and replicas sharing a state dir interleave whole lines. Nothing secret-shaped is
written: keys named like secrets and values that look like credentials are replaced by
``[redacted]``. A failing write never costs the tool's result; it is reported in the server
log instead.

A write to the wire is announced first: an ``intent`` line (``"kind": "intent"``, fsync'd, and
kept open in the state store) before the call reaches the wire, then the call's own line
carrying the same ``intent`` id. A process killed in between leaves the intent open; the next
start-up closes it with a ``recovery`` line saying whether the write landed.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import re
import threading
import uuid
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from pydantic import SecretStr

from rails_mcp.config import SECRET_FIELDS, ConfigError, Settings
from rails_mcp.state import STATE_FILE_NAME, StateStore, state_store_of
from rails_mcp.state.audit_table import TableWriter
from rails_mcp.wire.webhooks import parse_rfc3339

__all__ = [
    "AUDIT_FILE_NAME",
    "REDACTED",
    "AuditEntry",
    "AuditLog",
    "Principal",
    "TableWriter",
    "audit_from_settings",
    "export_lines",
    "redact",
    "since_epoch",
    "touched_ids",
]

log = logging.getLogger("rails_mcp.audit")

AUDIT_FILE_NAME = "audit.jsonl"
#: How much of the file's end start-up reads for outcome lines a killed process wrote.
_RECOVERY_TAIL_BYTES = 8 * 1024 * 1024
REDACTED = "[redacted]"

#: Keys whose values are never written, whatever they hold.
_SECRET_KEY = re.compile(
    r"(api_?key|secret|token|password|passwd|authori[sz]ation|credential|approval_?key|private_?key|"
    r"request_?state|cookie|session_?id)",
    re.IGNORECASE,
)
#: Values that look like credentials wherever they appear (api keys, webhook secrets, bearer tokens,
#: OAuth secrets, long hex or base64 runs such as keys or sealed states).
_SECRET_VALUE = re.compile(
    r"(\bpartly_[A-Za-z0-9_\-]{6,}|\bpwh_[A-Za-z0-9]{8,}|\bsecret_[A-Za-z0-9_\-]{3,}|\bac_[A-Za-z0-9_]{6,}"
    r"|Bearer\s+\S+|v1\.[A-Za-z0-9_\-]{24,}|\b[0-9a-fA-F]{40,}\b|[A-Za-z0-9+/_\-]{64,}={0,2})"
)
_MAX_TEXT = 2000
_MAX_DEPTH = 12


def redact(value: Any, known: Iterable[str] = ()) -> Any:
    """A JSON-safe copy of ``value`` with every secret-shaped key and value replaced."""
    return _redact(value, [k for k in known if k], 0)


def _redact(value: Any, known: list[str], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return "[too deep]"
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():  # pyright: ignore[reportUnknownVariableType]
            key = str(k)  # pyright: ignore[reportUnknownArgumentType]
            out[key] = REDACTED if _SECRET_KEY.search(key) else _redact(v, known, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_redact(v, known, depth + 1) for v in value]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, str):
        text = value
        for secret in known:
            text = text.replace(secret, REDACTED)
        text = _SECRET_VALUE.sub(REDACTED, text)
        return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"
    if value is None or isinstance(value, bool | int | float):
        return value
    return _redact(str(value), known, depth + 1)


#: Keys naming a procurement (0) or an invoice (1): by an id string (``True``), or by objects
#: with an ``id``, one or a list (``False``).
_ID_KEYS = {
    "procurement_id": (0, True),
    "procurement": (0, False),
    "procurements": (0, False),
    "invoice_id": (1, True),
    "invoice": (1, False),
    "invoices": (1, False),
}


def touched_ids(*documents: Any) -> tuple[list[str], list[str]]:
    """Procurement and invoice ids named in the arguments or the result, in first-seen order.

    Runs on every audited call, so it visits containers only (JSON documents: ``dict`` and
    ``list``, not the slower ABC checks) and looks at a key only when it is one of ``_ID_KEYS``.
    """
    found: _Found = ({}, {})
    for doc in documents:
        if type(doc) is dict or type(doc) is list:
            _walk_ids(doc, 0, found)
    return list(found[0]), list(found[1])


#: Procurement ids, invoice ids: dicts as insertion-ordered sets.
_Found = tuple[dict[str, None], dict[str, None]]


def _walk_ids(value: Any, depth: int, found: _Found) -> None:
    """Note the ids under every ``_ID_KEYS`` key of a JSON container, down to ``_MAX_DEPTH``."""
    if depth > _MAX_DEPTH:
        return
    if type(value) is list:
        for v in cast("list[Any]", value):
            if type(v) is dict or type(v) is list:
                _walk_ids(v, depth + 1, found)
        return
    for k, v in cast("dict[str, Any]", value).items():
        named = _ID_KEYS.get(k)
        if named is not None:
            _note_id(found[named[0]], named[1], v)
        if type(v) is dict or type(v) is list:
            _walk_ids(v, depth + 1, found)


def _note_id(ids: dict[str, None], direct: bool, value: Any) -> None:
    """An id itself (``direct``), or the ``id`` of an object or of each object in a list."""
    if direct:
        if type(value) is str:
            ids[value] = None
        return
    for item in cast("list[Any]", value) if type(value) is list else [value]:
        ident = cast("dict[str, Any]", item).get("id") if type(item) is dict else None
        if type(ident) is str:
            ids[ident] = None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking, as a verified access token says: ``sub`` (unique per issuer), and the
    name and email when the token carries them. Never taken from anything the client typed."""

    subject: str
    issuer: str | None = None
    client_id: str | None = None
    name: str | None = None
    email: str | None = None

    def fields(self) -> dict[str, str]:
        """What an audit line says of the principal (only what the token had)."""
        named = (
            ("sub", self.subject),
            ("iss", self.issuer),
            ("client_id", self.client_id),
            ("name", self.name),
            ("email", self.email),
        )
        return {key: value for key, value in named if value}

    def binding(self) -> str:
        """The identity an approval is bound to: the subject within its issuer."""
        return json.dumps([self.issuer, self.subject], separators=(",", ":"))

    def label(self) -> str:
        """The principal in a sentence: ``Ann <ann@example.com> (sub 42)``."""
        shown = " ".join(part for part in (self.name, f"<{self.email}>" if self.email else None) if part)
        return f"{shown} (sub {self.subject})" if shown else f"sub {self.subject}"


@dataclass(slots=True)
class AuditEntry:
    tool: str
    arguments: Mapping[str, Any]
    outcome: str
    transport: str
    protocol: str
    approval: str | None = None
    procurement_ids: list[str] = field(default_factory=list[str])
    invoice_ids: list[str] = field(default_factory=list[str])
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))
    #: ``call`` (one per tool call), ``intent`` (a write about to reach the wire) or ``recovery``.
    kind: str = "call"
    #: The intent this line announces or closes.
    intent: str | None = None
    #: What a recovery needs to ask the wire whether the write landed (intent lines only).
    order: Mapping[str, Any] | None = None
    #: Who asked, from the access token (OAuth over HTTP); absent where there is none.
    principal: Principal | None = None

    def body(
        self, known_secrets: Iterable[str], acting_for: Mapping[str, str | None] | None = None
    ) -> dict[str, Any]:
        """The line's JSON object; ``acting_for`` (the log's tenant and repairer) leads it."""
        body: dict[str, Any] = {
            "time": self.time,
            **(acting_for or {}),
            "tool": self.tool,
            "arguments": redact(self.arguments, known_secrets),
            "outcome": self.outcome,
            "procurement_ids": self.procurement_ids,
            "invoice_ids": self.invoice_ids,
            "approval": self.approval,
            "transport": self.transport,
            "protocol": self.protocol,
            "pid": os.getpid(),
            "kind": self.kind,
        }
        if self.intent is not None:
            body["intent"] = self.intent
        if self.order is not None:
            body["order"] = redact(self.order, known_secrets)
        if self.principal is not None:
            body["principal"] = redact(self.principal.fields(), known_secrets)
        return body


class AuditLog:
    """Append-only JSON lines. ``record`` never raises: a failed write is a server-log warning.

    Every line names whom the server acts for: ``tenant`` (the sandbox tenant, ``RAILS_TENANT``;
    null for the shared world or a real API) and ``repairer`` (the repairer credential's
    integration id, never its key), so lines from several deployments can be told apart.

    With a state store, every line also goes to its ``audit_log`` table (one trail for all
    replicas): queued and written in batches by :class:`TableWriter`, except intent lines,
    which are in the table before the call returns.
    """

    def __init__(
        self,
        path: Path | None,
        *,
        known_secrets: Iterable[str] = (),
        store: StateStore | None = None,
        tenant: str | None = None,
        repairer: str | None = None,
    ) -> None:
        self.path = path.expanduser() if path is not None else None
        self._known = [s for s in known_secrets if s]
        self.acting_for: dict[str, str | None] = {"tenant": tenant, "repairer": repairer}
        #: Where open intents are kept until their outcome is written (``None``: not kept).
        self.store = store
        #: The store's audit table, fed in the background (``None``: no store, or no log).
        self.table = TableWriter(store) if store is not None and path is not None else None
        self._lock = threading.Lock()
        self._fd: int | None = None
        self.failures = 0

    def _descriptor(self) -> int:
        """The log's descriptor, opened once (O_APPEND: each line lands whole at the end)."""
        if self._fd is None:
            assert self.path is not None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return self._fd

    def _close(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def close(self) -> None:
        """At shutdown: the queued lines into the table, then the file closed (a later line
        reopens it)."""
        if self.table is not None:
            self.table.close()
        self._close()

    def open_intent(self, entry: AuditEntry) -> str | None:
        """Announce a write before it reaches the wire: kept open in the store, then an fsync'd
        line, in the file and in the store's table.

        Returns the intent id to put on the call's own line (which closes it); ``None`` when
        there is no log. Never raises: a failure is a server-log warning, as for ``record``.
        """
        if self.path is None:
            return None
        entry.kind, entry.intent = "intent", uuid.uuid4().hex
        body = self._body(entry)
        store_took_it = False
        if self.store is not None and body is not None:
            try:
                self.store.open_intent(entry.intent, entry.tool, body)
                store_took_it = True
            except Exception as exc:  # sqlite3.Error and OSError alike: the call goes on
                log.warning(
                    "state store: could not keep the intent of %s open (%s)", entry.tool, type(exc).__name__
                )
        # The file's line is fsync'd either way; the table's is written at once only when the
        # store just answered (a store that failed is not waited on twice: the line is queued).
        self._append(entry, body, durable=True, table_now=store_took_it)
        return entry.intent

    def record(self, entry: AuditEntry) -> bool:
        """Append one line; False (and a warning in the server log) when it could not be written.

        A line carrying an ``intent`` closes it: the store forgets it once the line is written.
        """
        if self.path is None:
            return True
        written = self._append(entry, self._body(entry), durable=False)
        if written and entry.intent is not None:
            self.close_intent(entry.intent, entry.tool)
        return written

    def outcomes_written(self, intent_ids: Sequence[str]) -> set[str]:
        """Those of ``intent_ids`` whose outcome line is already in the file's last part.

        A process killed between writing a call's line and closing its intent in the store
        leaves the intent open with its outcome written; that line is among the file's last.
        """
        wanted = set(intent_ids)
        if self.path is None or not wanted:
            return set()
        try:
            with self.path.open("rb") as file:
                file.seek(max(0, file.seek(0, os.SEEK_END) - _RECOVERY_TAIL_BYTES))
                tail = file.read()
        except OSError:
            return set()
        found: set[str] = set()
        for raw in tail.splitlines():
            if b'"intent":' not in raw:
                continue
            with contextlib.suppress(ValueError):  # the tail's first line may be cut
                line: object = json.loads(raw)
                if isinstance(line, dict):
                    fields = cast("dict[str, Any]", line)
                    if fields.get("kind") != "intent" and fields.get("intent") in wanted:
                        found.add(str(fields["intent"]))
        return found

    def close_intent(self, intent_id: str, tool: str) -> None:
        """Forget an intent the file has the outcome of (never raises: a failure is a warning)."""
        if self.store is not None:
            try:
                self.store.close_intent(intent_id)
            except Exception as exc:
                log.warning("state store: could not close the intent of %s (%s)", tool, type(exc).__name__)

    def _body(self, entry: AuditEntry) -> dict[str, Any] | None:
        try:
            return entry.body(self._known, self.acting_for)
        except (ValueError, TypeError) as exc:
            self._failed(entry, exc)
            return None

    def _append(
        self, entry: AuditEntry, body: dict[str, Any] | None, *, durable: bool, table_now: bool = False
    ) -> bool:
        """The line to the file (fsync'd when ``durable``), then to the table: queued, or written
        at once when ``table_now``. A line the file could not take goes to neither."""
        if body is None:
            return False
        try:
            line = json.dumps(body, ensure_ascii=True, separators=(",", ":"))
        except (ValueError, TypeError) as exc:
            self._failed(entry, exc)
            return False
        try:
            data = (line + "\n").encode()
            with self._lock:
                fd = self._descriptor()
                os.write(fd, data)
                if durable:
                    os.fsync(fd)
        except (OSError, ValueError) as exc:
            self._close()  # the next record opens the file afresh (it may have been moved)
            self._failed(entry, exc)
            return False
        if self.table is not None:
            principal = cast("dict[str, Any]", body.get("principal") or {}).get("sub")
            pending = (entry.time, entry.tool, entry.kind, entry.outcome, principal, body.get("tenant"), line)
            (self.table.write_now if table_now else self.table.put)(pending)
        return True

    def _failed(self, entry: AuditEntry, exc: Exception) -> None:
        self.failures += 1
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        log.warning("audit log %s: could not record %s (%s)", self.path, entry.tool, reason)


def audit_from_settings(settings: Settings) -> AuditLog:
    """The log at ``RAILS_AUDIT_LOG`` (default ``$RAILS_STATE_DIR/audit.jsonl``), told every secret."""
    secrets = [
        value.get_secret_value()
        for name in SECRET_FIELDS
        if isinstance(value := getattr(settings, name, None), SecretStr)
    ]
    repairer = settings.repairer()
    secrets += [repairer.api_key, settings.supplier().api_key]
    audit = AuditLog(
        settings.audit_log_path(),
        known_secrets=secrets,
        store=state_store_of(settings),
        tenant=settings.tenant,
        repairer=repairer.integration_id,
    )
    _OPEN_LOGS.add(audit)
    return audit


#: The logs :func:`audit_from_settings` made, closed at a normal exit (their queued lines into
#: the table) by one hook; a log nobody holds any more is not kept alive for it.
_OPEN_LOGS: weakref.WeakSet[AuditLog] = weakref.WeakSet()


@atexit.register
def _close_open_logs() -> None:
    for audit in list(_OPEN_LOGS):
        audit.close()


def since_epoch(text: str) -> float:
    """An RFC 3339 time (``2026-12-01T09:00:00Z``, or with an offset) as epoch seconds."""
    moment = parse_rfc3339(text)
    if moment is None:
        raise ValueError(f"{text!r} is not an RFC 3339 time with an offset, such as 2026-12-01T09:00:00Z")
    return moment.timestamp()


def export_lines(
    settings: Settings, *, since: float | None = None, tool: str | None = None, limit: int | None = None
) -> Iterator[str]:
    """The audit lines every replica wrote to the deployment's state store, oldest first.

    A SQLite store that does not exist is an error, not an empty trail: a mistyped state dir
    would otherwise create one and print nothing."""
    if settings.state_url is None:
        path = settings.resolved_state_dir().expanduser() / STATE_FILE_NAME
        if not path.exists():
            raise ConfigError(
                f"no state store at {path}: nothing was recorded there; "
                "set RAILS_STATE_DIR (or --state-dir) to the server's, or RAILS_STATE_URL"
            )
    return state_store_of(settings).audit_lines(since=since, tool=tool, limit=limit)
