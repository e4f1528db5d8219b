"""What a person is shown when asked to approve an order, checked as the person reads it.

Used by the unit tests of the form and by the tests that drive hostile text through the
real tools: whatever a job reference, part name or supplier name contains, the message and
the form's own title and description must state the real supplier, total and lines first,
show each wire string as one quoted bounded line, and never let one pose as a form line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

#: Characters no wire string may bring raw into what the person reads (the only line break
#: allowed is the form's own ``\n`` between its lines).
RAW_HIDDEN = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069"
    "\ufeff\U000e0000-\U000e007f]"
)
#: A quoted wire string as the form writes it: a JSON string literal.
QUOTED = r'"(?:[^"\\]|\\.)*"'
OFFER_ROW = re.compile(rf"^(?:  )?\d+\. (?P<name>{QUOTED}) x\d+: \d+\.\d{{2}}$")
JOB_ROW = re.compile(rf"^Repair job: external (?P<ref>{QUOTED})\.?$")
#: The longest a quoted name or reference may be once decoded (the form's caps plus the ellipsis).
NAME_CAP = 60
REF_CAP = 80
MESSAGE_CAP = 6_000
LINE_CAP = 500


@dataclass(frozen=True)
class RealOrder:
    """What the server computed and the person must see first."""

    supplier: str
    total: str
    prices: tuple[str, ...]


@dataclass(frozen=True)
class Form:
    message: str
    title: str
    description: str

    @classmethod
    def of(cls, message: str, schema: dict[str, Any]) -> Form:
        decision = schema["properties"]["decision"]
        return cls(message, decision.get("title", ""), decision.get("description", ""))


def _decoded(literal: str) -> str:
    value = json.loads(literal)
    assert isinstance(value, str)
    return value


def _check_text(text: str, imitations: tuple[str, ...]) -> list[str]:
    """Lines of ``text``: nothing hidden, nothing blank, each bounded, no imitation on its own."""
    assert not RAW_HIDDEN.findall(text), f"raw hidden characters: {RAW_HIDDEN.findall(text)[:5]}"
    lines = text.split("\n")
    for line in lines:
        assert line.strip(), f"a blank line in {text[:200]!r}"
        assert len(line) <= LINE_CAP, f"an unbounded line of {len(line)} characters"
        for imitation in imitations:
            assert line.strip() != imitation.strip(), f"{imitation!r} stands as its own line"
    return lines


def check_form(form: Form, real: RealOrder, imitations: tuple[str, ...] = ()) -> None:
    """The person-facing text shows ``real`` first and every wire string only as quoted data."""
    assert len(form.message) <= MESSAGE_CAP
    assert len(form.description) <= MESSAGE_CAP
    lines = _check_text(form.message, imitations)
    assert lines[0] == "Approve this parts order?"
    assert lines[1].startswith(f"Supplier: {real.supplier}"), lines[1]
    assert lines[2].startswith(f"Total: {real.total} "), lines[2]
    assert lines[-1] == "Nothing is ordered unless you approve."
    assert sum(line.startswith("Total:") for line in lines) == 1
    assert form.message.count("Nothing is ordered unless you approve.") == 1
    _check_rows(lines, real)

    assert "\n" not in form.title
    _check_text(form.title, imitations)
    assert form.title.startswith(f"Approve {real.total} to {real.supplier}"), form.title
    described = _check_text(form.description, imitations)
    assert described[0].startswith(f"Supplier: {real.supplier}"), described[0]
    assert f"Total: {real.total}" in described[0]
    _check_rows(described, real)


def _check_rows(lines: list[str], real: RealOrder) -> None:
    """One quoted, bounded row per offer with the real prices; the job reference quoted."""
    rows = [OFFER_ROW.match(line) for line in lines]
    offers = [row for row in rows if row is not None]
    assert [line.rsplit(": ", 1)[1] for line in lines if OFFER_ROW.match(line)] == list(real.prices)
    for row in offers:
        assert len(_decoded(row["name"])) <= NAME_CAP
    jobs = [m for line in lines if (m := JOB_ROW.match(line)) is not None]
    assert len(jobs) == 1, lines
    assert len(_decoded(jobs[0]["ref"])) <= REF_CAP
    first_free_text = min(i for i, line in enumerate(lines) if OFFER_ROW.match(line) or JOB_ROW.match(line))
    assert any(line.startswith("Supplier:") for line in lines[:first_free_text])
    assert any("Total:" in line for line in lines[:first_free_text])
