"""The units' feedback line, pure part: keyed ticket numbers, PINs, the lock, the keys."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from linkage.feedback_line import (
    MAX_FAILURES,
    check,
    note_name,
    pin_key,
    pin_matches,
    step_of_key,
    ticket_of_digits,
    unit_pins,
    unit_to_try,
)
from linkage.phone import digits_of

DISPATCHED = {"unit": "QD-WATER", "state": "dispatched"}
PINS = {"QD-WATER": "482913"}


def test_keyed_digits_name_the_sites_ticket():
    assert ticket_of_digits("12345", "20261124000007") == "12345-20261124-000007"
    assert ticket_of_digits("110", "20261124000007#") == "110-20261124-000007"
    for bad in ("", "2026112400000", "202611240000071", "2026112400000*", "abcdefghijklmn"):
        assert ticket_of_digits("12345", bad) is None, bad
    assert ticket_of_digits("", "20261124000007") is None


@given(st.sampled_from(["12345", "110"]), st.integers(20200101, 20991231), st.integers(1, 999_999))
def test_what_the_dispatch_call_reads_keys_back_to_the_ticket(site, day, seq):
    ticket_id = f"{site}-{day}-{seq:06d}"
    assert ticket_of_digits(site, digits_of(ticket_id)) == ticket_id


def test_pins_come_from_the_secrets_file_keys_and_must_be_4_to_8_digits():
    assert pin_key("QD-WATER") == "unit_pin_qd_water"
    secrets = {"unit_pin_qd_water": "482913", "unit_pin_qd_gas": "12a4", "unit_pin_qd_power": "123",
               "unit_secret_qd_water": "not a pin"}
    assert unit_pins(secrets, ["QD-WATER", "QD-GAS", "QD-POWER", "QD-ROADS"]) == {"QD-WATER": "482913"}


def test_pin_matching():
    assert pin_matches("482913", "482913") and pin_matches("482913", "482913#")
    assert not pin_matches("482913", "482914")
    assert not pin_matches("482913", "")
    assert not pin_matches(None, "482913")  # a unit without a PIN is never let in
    assert not pin_matches("", "")


def test_check_lets_the_right_pin_in_and_reads_every_refusal_alike():
    ok = check("12345-20261124-000007", DISPATCHED, PINS, "482913", 1)
    assert ok.ok and ok.unit == "QD-WATER" and ok.state == "dispatched"
    assert check(None, None, PINS, "482913", 0).reason == "bad_ticket"
    assert check("12345-20261124-000007", None, PINS, "482913", 0).reason == "not_dispatched"
    taken = {"unit": "QD-WATER", "state": "supervisor"}
    assert unit_to_try("12345-20261124-000007", taken) == ""  # no PIN is compared, no try counted
    assert check("12345-20261124-000007", taken, PINS, "482913", 0).reason == "not_dispatched"
    wrong = check("12345-20261124-000007", DISPATCHED, PINS, "000000", 1)
    assert not wrong.ok and wrong.reason == "bad_pin" and wrong.unit == "QD-WATER"
    assert check("12345-20261124-000007", DISPATCHED, PINS, "#", 0).reason == "no_pin"  # a timeout: not a try
    other_unit = {"unit": "QD-GAS", "state": "accepted"}  # no PIN on file for QD-GAS
    assert check("12345-20261124-000007", other_unit, PINS, "482913", 1).reason == "bad_pin"


def test_the_line_locks_past_the_wrong_pins_allowed_even_for_the_right_one():
    assert check("12345-20261124-000007", DISPATCHED, PINS, "482913", MAX_FAILURES).ok
    locked = check("12345-20261124-000007", DISPATCHED, PINS, "482913", MAX_FAILURES + 1)
    assert not locked.ok and locked.reason == "locked" and locked.unit == "QD-WATER"


def test_keys_and_note_names():
    arrival, done, unresolved = step_of_key("1"), step_of_key(" 2"), step_of_key("3")
    assert arrival is not None and arrival.step == "arrival"
    assert arrival.body(with_note=True) == {"situation": "单位电话反馈：已到达现场（见语音留言）"}
    assert done is not None and done.body(with_note=False) == {"resolved": True, "summary": "单位电话反馈：已办结"}
    assert unresolved is not None and unresolved.body(with_note=False) == {
        "resolved": False, "summary": "单位电话反馈：已办结，未能解决"}
    assert step_of_key("4") is None and step_of_key("") is None and step_of_key("*") is None
    assert (note_name("12345-20261124-000007", 1_795_000_000.7, "a1b2c3")
            == "12345-20261124-000007-note-1795000000-a1b2c3")
