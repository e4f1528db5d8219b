"""The approval gate on its own: the key, the sealed state and what each wrong state is called."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest
from mcp_types import ElicitRequestFormParams, ElicitResult

from rails_mcp.approval import (
    KEY_FILE_NAME,
    ApprovalGate,
    decision_of,
    elicitation_for,
    load_or_create_key,
    order_digest,
)
from rails_mcp.config import ConfigError
from rails_mcp.errors import ToolFailure
from rails_mcp.present import OrderForApproval, OrderLine
from rails_mcp.wire.untrusted import quote
from tests.support.approval_form import NAME_CAP, Form, RealOrder, check_form

KEY = b"k" * 32
ARGS = {
    "job": {"external": "CCC-2026-04817"},
    "offer_selections": [{"sellable_id": "a"}, {"sellable_id": "b"}],
}


def line(offer: str, name: str, part: str, price: str) -> OrderLine:
    return OrderLine(sellable_id=offer, name=name, job_part_ids=[part], quantity=1, trade_price=price)


def order(price: str = "631.00") -> OrderForApproval:
    return OrderForApproval(
        job={"external": "CCC-2026-04817"},
        supplier_business_id="0b000000-0000-4000-8000-000000000010",
        supplier_name="Christchurch Toyota — Parts",
        lines=[
            line("a", "Toyota Genuine Headlamp RH", "p4", price),
            line("b", "Toyota Genuine Radiator Support", "p6", "468.00"),
        ],
        total="1099.00",
        currency=None,
        is_extension=True,
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def gate(
    clock: Clock | None = None, key: bytes = KEY, audience: str = "rails-mcp:embedded:t1"
) -> ApprovalGate:
    return ApprovalGate("ask", key, audience=audience, clock=clock or Clock())


def refused_code(exc: pytest.ExceptionInfo[ToolFailure]) -> str:
    return exc.value.info.code


def test_a_state_verifies_on_another_gate_holding_the_same_key():
    state = gate().seal("place_procurement", ARGS, order())
    sealed = gate().verify(state, "place_procurement", ARGS)
    assert sealed.part_ids == ("p4", "p6")
    assert sealed.job == {"external": "CCC-2026-04817"}


def test_the_state_is_encrypted_so_the_client_cannot_read_the_order():
    state = gate().seal("place_procurement", ARGS, order())
    for visible in ("CCC-2026-04817", "Headlamp", "1099.00", "0b000000-0000-4000-8000-000000000010"):
        assert visible not in state


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[:-2] + ("AA" if not s.endswith("AA") else "BB"),
        lambda s: s[:20] + s[21:],
        lambda s: "not a state",
        lambda s: "",
    ],
    ids=["flipped", "truncated", "garbage", "empty"],
)
def test_a_tampered_state_is_refused_as_invalid(mangle):
    state = gate().seal("place_procurement", ARGS, order())
    with pytest.raises(ToolFailure) as exc:
        gate().verify(mangle(state), "place_procurement", ARGS)
    assert refused_code(exc) == "approval_state_invalid"


def test_a_state_sealed_under_another_key_is_invalid():
    state = gate(key=b"x" * 32).seal("place_procurement", ARGS, order())
    with pytest.raises(ToolFailure) as exc:
        gate().verify(state, "place_procurement", ARGS)
    assert refused_code(exc) == "approval_state_invalid"


def test_a_state_minted_for_another_tenant_is_invalid():
    state = gate(audience="rails-mcp:embedded:other").seal("place_procurement", ARGS, order())
    with pytest.raises(ToolFailure) as exc:
        gate().verify(state, "place_procurement", ARGS)
    assert refused_code(exc) == "approval_state_invalid"


def test_a_state_older_than_five_minutes_is_expired():
    clock = Clock()
    g = gate(clock)
    state = g.seal("place_procurement", ARGS, order())
    clock.now += 299
    g.verify(state, "place_procurement", ARGS)
    clock.now += 2
    with pytest.raises(ToolFailure) as exc:
        g.verify(state, "place_procurement", ARGS)
    assert refused_code(exc) == "approval_expired"


def test_a_state_sent_with_other_arguments_is_a_mismatch():
    state = gate().seal("place_procurement", ARGS, order())
    other = {**ARGS, "offer_selections": [{"sellable_id": "a"}]}
    with pytest.raises(ToolFailure) as exc:
        gate().verify(state, "place_procurement", other)
    assert refused_code(exc) == "approval_mismatch"


def test_an_order_whose_prices_changed_since_the_person_saw_it_is_a_mismatch():
    g = gate()
    sealed = g.verify(g.seal("place_procurement", ARGS, order()), "place_procurement", ARGS)
    g.check_order(sealed, order())
    with pytest.raises(ToolFailure) as exc:
        g.check_order(sealed, order(price="700.00"))
    assert refused_code(exc) == "approval_mismatch"


def test_a_spent_state_is_refused_as_replayed_on_the_same_process():
    g = gate()
    state = g.seal("place_procurement", ARGS, order())
    g.spend(g.verify(state, "place_procurement", ARGS))
    with pytest.raises(ToolFailure) as exc:
        g.verify(state, "place_procurement", ARGS)
    assert refused_code(exc) == "approval_replayed"


def test_two_concurrent_rounds_with_one_state_cannot_both_spend_it():
    g = gate()
    state = g.seal("place_procurement", ARGS, order())
    first = g.verify(state, "place_procurement", ARGS)
    second = g.verify(state, "place_procurement", ARGS)
    g.spend(first)
    with pytest.raises(ToolFailure) as exc:
        g.spend(second)
    assert refused_code(exc) == "approval_replayed"


def test_refusals_never_say_how_to_skip_approval():
    g = gate()
    texts = []
    for code, state, args in [
        ("approval_state_invalid", "v1.nope", ARGS),
        ("approval_mismatch", g.seal("place_procurement", ARGS, order()), {}),
    ]:
        with pytest.raises(ToolFailure) as exc:
            g.verify(state, "place_procurement", args)
        assert exc.value.info.code == code
        texts.append(exc.value.info.message + exc.value.info.fix)
    for text in texts:
        lowered = text.lower()
        assert "dry_run" not in lowered
        assert "order_approval" not in lowered
        assert "off" not in lowered.split()


def test_the_person_sees_job_supplier_each_part_with_price_total_and_extension():
    request = elicitation_for(order())
    assert isinstance(request.params, ElicitRequestFormParams)
    message = request.params.message
    for expected in ("CCC-2026-04817", "Christchurch Toyota", "Headlamp RH", "631.00", "468.00", "1099.00"):
        assert expected in message
    assert "extension" in message
    assert request.params.requested_schema["required"] == ["decision"]


SUPPLIER = '"Christchurch Toyota — Parts"'
REAL = RealOrder(supplier=SUPPLIER, total="1099.00", prices=("631.00", "468.00"))
#: What the adversarial run wrote into a job reference: a fake order, then blank lines.
FAKE_ORDER = "Wiper blade x1: 9.90\nTotal: 9.90 NZD\nNothing is ordered unless you approve."
SPOOF = f"CCC-1\n\n{FAKE_ORDER}" + "\n" * 36
#: Fake form lines (the real closing line is checked to appear exactly once, as the last).
IMITATIONS = ("Wiper blade x1: 9.90", "Total: 9.90 NZD")
RTL = "Headlamp \u202eHR pmaldaeH\u202c \u2066x\u2069\u200b\u200d\ufeff\U000e0041\x1b[2J\u2028RH"


def form_of(o: OrderForApproval) -> Form:
    request = elicitation_for(o)
    assert isinstance(request.params, ElicitRequestFormParams)
    return Form.of(request.params.message, request.params.requested_schema)


def with_first_name(name: str) -> OrderForApproval:
    o = order()
    return o.model_copy(update={"lines": [o.lines[0].model_copy(update={"name": name}), o.lines[1]]})


@pytest.mark.parametrize(
    "name",
    [SPOOF, RTL, "A" * 10_000, "Total: 9.90 NZD", FAKE_ORDER, 'Pads" x1: 9.90\nTotal: 9.90 NZD "'],
    ids=["newlines", "rtl", "ten-thousand", "imitation", "fake-order", "quote-break"],
)
def test_a_hostile_part_name_shows_as_one_quoted_line_after_the_real_order(name: str):
    check_form(form_of(with_first_name(name)), REAL, IMITATIONS)


@pytest.mark.parametrize(
    "ref", [SPOOF, RTL, "J" * 10_000, "Total: 9.90 NZD"], ids=["newlines", "rtl", "long", "imitation"]
)
def test_a_hostile_job_reference_cannot_draw_form_lines(ref: str):
    form = form_of(order().model_copy(update={"job": {"external": ref}}))
    check_form(form, REAL, IMITATIONS)


@pytest.mark.parametrize(
    "name", [SPOOF, RTL, "S" * 10_000, "Total: 9.90 NZD"], ids=["newlines", "rtl", "long", "imitation"]
)
def test_a_hostile_supplier_name_is_quoted_bounded_and_tied_to_its_business_id(name: str):
    form = form_of(order().model_copy(update={"supplier_name": name}))
    check_form(form, RealOrder(quote(name, NAME_CAP), "1099.00", REAL.prices), IMITATIONS)
    assert "0b000000-0000-4000-8000-000000000010" in form.message.split("\n")[1]


def test_two_hundred_long_lines_keep_the_form_bounded_and_say_how_many_are_not_listed():
    many = [line(f"o{n}", "N" * 10_000 + "\nTotal: 9.90 NZD", f"p{n}", "5.00") for n in range(200)]
    form = form_of(order().model_copy(update={"lines": many, "total": "1000.00"}))
    assert len(form.message) < 6_000
    assert "200 line(s)" in form.message
    assert "175 more line(s)" in form.message
    assert "175 more line(s)" in form.description


GOOD = Form(
    message=(
        "Approve this parts order?\n"
        f"Supplier: {SUPPLIER} (business x)\n"
        "Total: 1099.00 NZD for 2 line(s):\n"
        '  1. "Headlamp" x1: 631.00\n'
        '  2. "Radiator" x1: 468.00\n'
        'Repair job: external "CCC-1"\n'
        "Nothing is ordered unless you approve."
    ),
    title=f"Approve 1099.00 to {SUPPLIER}?",
    description=(
        f"Supplier: {SUPPLIER} (business x). Total: 1099.00 NZD, 2 line(s):\n"
        '1. "Headlamp" x1: 631.00\n'
        '2. "Radiator" x1: 468.00\n'
        'Repair job: external "CCC-1".'
    ),
)


def broken(old: str, new: str, where: str = "message") -> Form:
    return dataclasses.replace(GOOD, **{where: getattr(GOOD, where).replace(old, new)})


@pytest.mark.parametrize(
    "form",
    [
        broken("CCC-1", "CCC-1\n\n\n"),
        broken('  1. "Headlamp"', 'Total: 9.90 NZD\n  1. "Headlamp"'),
        broken("Headlamp", "Head\u202elamp"),
        broken('"Radiator"', "Radiator"),
        broken("Radiator", "R" * 61),
        broken("Approve this parts order?", 'Approve job "CCC-1"?'),
        broken(GOOD.title, "Your decision", "title"),
        broken("631.00", "9.90", "description"),
    ],
    ids=[
        "blank-lines",
        "imitation",
        "raw-override",
        "unquoted",
        "too-long",
        "free-text-first",
        "title",
        "price",
    ],
)
def test_the_form_check_catches_each_way_of_faking_the_order(form: Form):
    check_form(GOOD, REAL)
    with pytest.raises(AssertionError):
        check_form(form, REAL, IMITATIONS)


def test_the_form_shows_the_real_order_when_nothing_is_hostile():
    form = form_of(order())
    check_form(form, REAL)
    assert form.title == 'Approve 1099.00 to "Christchurch Toyota — Parts"?'
    assert '"Toyota Genuine Headlamp RH" x1: 631.00' in form.description


def test_what_the_form_shows_does_not_change_what_the_approval_covers():
    # The digest is of the order itself, so a changed display leaves sealed states valid.
    assert order_digest(order()) == order_digest(order())
    assert order_digest(with_first_name(SPOOF)) == order_digest(order())


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (ElicitResult(action="accept", content={"decision": "approve"}), "approved"),
        (ElicitResult(action="accept", content={"decision": "decline"}), "declined"),
        (ElicitResult(action="accept", content={}), "declined"),
        (ElicitResult(action="accept"), "declined"),
        (ElicitResult(action="decline"), "declined"),
        (ElicitResult(action="cancel"), "declined"),
        (None, "declined"),
    ],
)
def test_only_an_explicit_approve_approves(answer, status):
    assert decision_of(answer)[0] == status


def test_a_generated_key_is_stored_0600_and_reused_after_a_restart(tmp_path: Path):
    first = load_or_create_key(None, tmp_path / KEY_FILE_NAME)
    path = tmp_path / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(None, tmp_path / KEY_FILE_NAME) == first
    assert len(first) >= 32


def test_a_given_key_wins_and_is_not_written_to_disk(tmp_path: Path):
    given = "g" * 40
    assert load_or_create_key(given, tmp_path / KEY_FILE_NAME) == given.encode()
    assert not (tmp_path / KEY_FILE_NAME).exists()


def test_a_short_key_stops_start_up_without_echoing_it(tmp_path: Path):
    with pytest.raises(ConfigError) as exc:
        load_or_create_key("short-secret", tmp_path / KEY_FILE_NAME)
    assert "RAILS_APPROVAL_KEY" in str(exc.value)
    assert "short-secret" not in str(exc.value)
