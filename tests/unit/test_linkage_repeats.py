"""Repeat-call keys and the 双哨联办 threshold (pure)."""

from __future__ import annotations

import pytest

from hotline_link.core.errors import ConfigError
from hotline_link.web.auth import TokenBook
from linkage.repeats import crosses_threshold, normalise_number, number_key, place_key


def test_numbers_are_normalised_and_anonymous_callers_have_no_key():
    assert normalise_number("+86 138-0000-1111") == normalise_number("13800001111") == "13800001111"
    assert normalise_number("008613800001111") == "13800001111"
    assert normalise_number("anonymous") == "" and normalise_number("") == ""
    assert number_key("p:", "12345", "anonymous") is None


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
