"""Property tests of number masking: no run of six or more digits ever survives
``mask_number``, whatever text a SIP peer put in the caller id."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline_link.core.logs import mask_number

BOUNDED = settings(max_examples=400, deadline=None)
_RUN = re.compile(r"\d{6,}")
_NUMBERISH = st.text(st.sampled_from("0123456789+-() :@;.<>\"sipte\n١٢٣٤٥٦٧８９"), max_size=40)


@BOUNDED
@given(st.one_of(st.text(max_size=60), _NUMBERISH))
def test_no_six_digit_run_survives(text):
    masked = mask_number(text)
    assert not _RUN.search(masked), masked


@BOUNDED
@given(st.from_regex(r"\+?[0-9]{6,20}", fullmatch=True))
def test_a_number_keeps_its_length_head_and_tail(number):
    masked = mask_number(number)
    assert len(masked) == len(number) and "*" in masked
    assert masked[-4:] == number[-4:] or len(number.lstrip("+")) <= 6


@BOUNDED
@given(st.from_regex(r"[0-9]{1,5}", fullmatch=True))
def test_short_service_numbers_stay_readable(number):
    assert mask_number(number) == number


@pytest.mark.parametrize("raw", ["sip:13812341234@10.0.0.1", "13812341234\n", "tel:+8613812341234",
                                 "\"Zhang\" <13812341234>", "13812341234;13900001111"])
def test_numbers_inside_text_are_masked(raw):
    # regression: only a bare number was masked; a SIP URI or a display name leaked it whole
    assert "13812341234" not in mask_number(raw) and "1234" in mask_number(raw)
