"""The whole suite's secret scan: no result, log record or process output may carry a secret.

Where the tests see what a user would see — every tool result through the checked
``Session`` (tests/support/mcp_support.py), every real process's stdout/stderr
(tests/support/process_support.py and the stdio tests), and every log record emitted while the suite
runs (a root logging handler installed by tests/conftest.py) — the text is passed to
:func:`scan_text`. A single hit fails the run; conftest prints the summary line.
"""

from __future__ import annotations

import logging
import re

from mcp_types import CallToolResult

from rails_mcp.config import DEMO_REPAIRER, DEMO_SUPPLIER

__all__ = ["SCAN", "SecretScan", "scan_output", "scan_result", "scan_text"]

#: The configured demo keys and the OAuth client secrets of the seeded world.
SECRETS = (
    DEMO_REPAIRER[0],
    DEMO_SUPPLIER[0],
    "secret_demo_8f3a",
    "secret_legacy_0000",
)
#: A key minted by integrations.insert: "partly_" + 32 hex. No result or log may carry one.
MINTED_KEY = re.compile(r"partly_[0-9a-f]{32}")


def find_secrets(text: str) -> list[str]:
    """What in ``text`` is a secret, named by its first seven characters only."""
    found = [f"contains {secret[:7]}…" for secret in SECRETS if secret in text]
    if MINTED_KEY.search(text):
        found.append("contains a minted api_key")
    return found


class SecretScan(logging.Handler):
    """Counts what was scanned and remembers every hit; also a logging handler for log records."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.results = 0
        self.outputs = 0
        self.lines = 0
        self.hits: list[str] = []

    def scan(self, where: str, text: str) -> None:
        self.hits.extend(f"{where}: {hit}" for hit in find_secrets(text))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines += 1
        try:
            text = self.format(record)
        except Exception:
            text = str(record.msg)
        self.scan(f"log {record.name}", text)


SCAN = SecretScan()


def scan_text(where: str, text: str) -> None:
    SCAN.scan(where, text)


def scan_result(tool: str, result: CallToolResult) -> None:
    """Scan one tool result exactly as the client received it (content and structuredContent)."""
    SCAN.results += 1
    SCAN.scan(f"result of {tool}", result.model_dump_json())


def scan_output(what: str, output: bytes | str) -> None:
    """Scan a real process's stdout or stderr."""
    SCAN.outputs += 1
    text = output.decode(errors="replace") if isinstance(output, bytes) else output
    SCAN.scan(f"output of {what}", text)
