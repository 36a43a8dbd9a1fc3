"""Repeat-call keys and the 双哨联办 threshold (pure)."""

from __future__ import annotations

import pytest

from hotline_link.core.errors import ConfigError
from hotline_link.core.numbers import CallerNumber
from hotline_link.web.auth import TokenBook
from linkage.repeats import crosses_threshold, normalise_number, number_key, place_key


def test_numbers_are_normalised_and_anonymous_callers_have_no_key():
    assert normalise_number("+86 138-0000-1111") == normalise_number("13800001111") == "13800001111"
    assert normalise_number("008613800001111") == "13800001111"
    assert normalise_number("anonymous") == "" and normalise_number("") == ""
    assert number_key("p:", "12345", "anonymous") is None
    assert number_key("p:", "12345", "12") is None and number_key("p:", "12345", "138\n0000") is None


@pytest.mark.parametrize("spelling", ["02588881234", "+862588881234", "00862588881234", "+86 (0)25 8888-1234"])
def test_a_fixed_line_has_one_key_however_written(spelling):
    # issue 16: +862588881234 was kept as 862588881234, apart from 02588881234
    assert normalise_number(spelling) == "02588881234"
    assert number_key("p:", "12345", spelling) == number_key("p:", "12345", "02588881234")


def test_mobile_keys_are_those_of_before_issue_16():
    """Keys already in Redis for 11-digit mobiles stay valid: the identity hashed is the same."""
    import hashlib

    digest = hashlib.sha256(b"13800001111").hexdigest()[:24]
    for spelling in ("13800001111", "+8613800001111", "008613800001111", "013800001111"):
        assert number_key("p:", "12345", spelling) == f"p:repeat:number:12345:{digest}"
    assert number_key("p:", "12345", CallerNumber.parse("+8613800001111")) == f"p:repeat:number:12345:{digest}"


def test_keys_never_hold_the_caller_number_and_differ_by_platform():
    key = number_key("p:", "12345", "13800001111")
    assert key is not None and "13800001111" not in key
    assert key != number_key("p:", "110", "13800001111")
    assert key == number_key("p:", "12345", "+8613800001111")


def test_place_needs_a_division_code_and_a_category():
    assert place_key("p:", "12345", "320681", "噪音") == place_key("p:", "12345", "320681", " 噪音 ")
    assert place_key("p:", "12345", "320681", "噪音") != place_key("p:", "12345", "320681", "占道")
    assert place_key("p:", "12345", "", "噪音") is None and place_key("p:", "12345", "32068", "噪音") is None
    assert place_key("p:", "12345", "320681", "") is None


def test_joint_flag_exactly_when_the_calls_reach_the_threshold():
    # threshold 3 calls: the first call plus two repeats
    assert not crosses_threshold(0, 1, 3)
    assert crosses_threshold(1, 2, 3)
    assert not crosses_threshold(2, 3, 3)  # already past: flagged once only


def test_unit_tokens_are_bound_to_a_unit(tmp_path):
    path = tmp_path / "tokens.toml"
    path.write_text('[[tokens]]\ntoken = "unit-token-0123456789"\nrole = "unit"\nunit = "QD-GAS"\n')
    path.chmod(0o600)
    principal = TokenBook.from_file(path).authenticate("unit-token-0123456789")
    assert (principal.role, principal.unit) == ("unit", "QD-GAS")
    path.write_text('[[tokens]]\ntoken = "unit-token-0123456789"\nrole = "unit"\n')
    with pytest.raises(ConfigError, match=r"tokens\[0\]: a unit token needs unit"):
        TokenBook.from_file(path)
