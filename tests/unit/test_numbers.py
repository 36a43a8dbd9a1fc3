"""``CallerNumber``: one caller, one identity (issue 16). The canonical rules by example, and
properties of ``parse``: it never raises, its identity is idempotent, and every spelling of
one subscriber's number has the same identity."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline_link.core.logs import mask_number
from hotline_link.core.numbers import ANONYMOUS, ANONYMOUS_NUMBER, CallerNumber, caller_number

BOUNDED = settings(max_examples=400, deadline=None)
_IDENTITY = re.compile(r"\+?[0-9]{3,20}")
FULLWIDTH = "".join(chr(0xFF10 + int(d)) for d in "13800001111")  # \uff11\uff13... digits, not ASCII


@pytest.mark.parametrize("raw, identity", [
    # mobiles: 11 digits, whatever prefix they came with
    ("13800001111", "13800001111"), ("+8613800001111", "13800001111"), ("008613800001111", "13800001111"),
    ("8613800001111", "13800001111"), ("013800001111", "13800001111"), ("+86013800001111", "13800001111"),
    (" 13800001111 ", "13800001111"),
    # fixed lines: 0 + area code + local number
    ("02588881234", "02588881234"), ("+862588881234", "02588881234"), ("00862588881234", "02588881234"),
    ("+8602588881234", "02588881234"), ("862588881234", "02588881234"),
    ("01012345678", "01012345678"), ("+861012345678", "01012345678"),
    ("051388881234", "051388881234"), ("+8651388881234", "051388881234"), ("05138881234", "05138881234"),
    # foreign numbers: 00 + country code, as dialled from China
    ("+14155550100", "0014155550100"), ("0014155550100", "0014155550100"), ("+442079460000", "00442079460000"),
    ("+" + "1" * 20, "+" + "1" * 20),  # too long for 00 in 20 digits: keeps its +
    # service numbers, local numbers, extensions: as presented
    ("110", "110"), ("12345", "12345"), ("95588", "95588"), ("88881234", "88881234"), ("1001", "1001"),
    ("86123456", "86123456"), ("1" * 20, "1" * 20), ("+86110", "0086110"),
])
def test_canonical_identity(raw, identity):
    number = CallerNumber.parse(raw)
    assert number.identity == identity and not number.is_anonymous
    assert number.digits == raw.strip()


@pytest.mark.parametrize("raw", [None, "", "  ", "anonymous", "Anonymous", "unknown", "restricted", "private",
                                 "unavailable", "abc", "12", "+12", "+", "1" * 21, "++138", "138-0000-1111",
                                 "138 0000 1111", "138\n00001111", "13800001111\x00", FULLWIDTH,
                                 "${SHELL(id)}", 13800001111, b"13800001111", ["13800001111"]])
def test_anything_else_is_anonymous(raw):
    number = CallerNumber.parse(raw)
    assert number.is_anonymous and number.identity == "" and number.masked in (ANONYMOUS, "12", "+12")


def test_short_numbers_keep_their_digits_but_identify_nobody():
    # caller_number (AMI/AGI) keeps them as before; screening and callbacks never key by them
    assert CallerNumber.parse("12").digits == caller_number("12") == "12"
    assert CallerNumber.parse("12").is_anonymous
    assert caller_number("anonymous") == ANONYMOUS and CallerNumber.parse("x") is ANONYMOUS_NUMBER


@pytest.mark.parametrize("raw, identity", [
    ("+86 138-0000-1111", "13800001111"), ("(025) 8888 1234", "02588881234"), ("+86 (0)25 8888-1234", "02588881234"),
    ("138.0000.1111", "13800001111"), (" 13800001111 ", "13800001111"),
])
def test_written_numbers_drop_their_separators(raw, identity):
    assert CallerNumber.parse_written(raw).identity == identity
    assert CallerNumber.parse(raw).is_anonymous or raw.strip() == identity  # parse is strict


@pytest.mark.parametrize("raw", ["张先生 13800001111", "tel:13800001111", "138\n0000 1111", "13800001111x", "--"])
def test_written_numbers_are_digits_and_separators_only(raw):
    assert CallerNumber.parse_written(raw).is_anonymous


def test_equal_and_hashed_by_identity_and_shown_masked():
    a, b = CallerNumber.parse("+8613812341234"), CallerNumber.parse("13812341234")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1 and a.digits != b.digits
    assert a != CallerNumber.parse("13812341235")
    assert a.masked == str(a) == "138****1234" and repr(a) == "CallerNumber(138****1234)"
    assert mask_number(a) == "138****1234" and mask_number("+8613812341234") == "+86*******1234"
    assert CallerNumber.parse("110").masked == "110" and CallerNumber.parse("12345").masked == "12345"
    assert CallerNumber.parse("02588881234").masked == "025****1234"
    assert ANONYMOUS_NUMBER.masked == str(ANONYMOUS_NUMBER) == ANONYMOUS


def test_a_number_logged_as_a_value_is_masked_under_any_key():
    import io
    import json

    import structlog

    from hotline_link.core.logs import configure_logging

    out = io.StringIO()
    configure_logging("info", stream=out)
    number = CallerNumber.parse("+8613812341234")
    structlog.get_logger().info("x.y", who=number, callers=[number], caller=number)
    line = json.loads(out.getvalue())
    assert (line["who"], line["callers"], line["caller"]) == ("138****1234", ["138****1234"], "138****1234")
    assert "13812341234" not in out.getvalue()


# --- properties --------------------------------------------------------------------

_MOBILE = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
# national numbers of fixed lines: area code without its 0, then the local number
_LANDLINE = st.one_of(st.from_regex(r"(?:10|2[0-9])[2-9][0-9]{7}", fullmatch=True),
                      st.from_regex(r"[3-9][0-9]{2}[2-9][0-9]{6,7}", fullmatch=True))
_FOREIGN = st.from_regex(r"(?:1|[2-7][0-9]|8[0-57-9]|9[0-9][0-9])[0-9]{6,12}", fullmatch=True)
_PLAUSIBLE = st.from_regex(r"\+?[0-9]{1,20}", fullmatch=True)
_SEP = st.sampled_from([" ", "-", ".", "(", ")", ""])


@BOUNDED
@given(st.one_of(st.text(max_size=40), _PLAUSIBLE, st.none(), st.integers(), st.binary(max_size=20)))
def test_parse_never_raises_and_keeps_only_plausible_numbers(raw):
    for number in (CallerNumber.parse(raw), CallerNumber.parse_written(raw)):
        assert number.identity == "" or _IDENTITY.fullmatch(number.identity)
        assert number.digits == "" or re.fullmatch(r"\+?[0-9]{1,20}", number.digits)
        assert number.is_anonymous == (number.identity == "")
        assert not re.search(r"[0-9]{6}", number.masked) and not re.search(r"[0-9]{6}", repr(number))


@BOUNDED
@given(st.one_of(_PLAUSIBLE, st.text(st.sampled_from("0123456789+ -()"), max_size=30)))
def test_identity_is_idempotent(raw):
    for number in (CallerNumber.parse(raw), CallerNumber.parse_written(raw)):
        if not number.is_anonymous:
            again = CallerNumber.parse(number.identity)
            assert again.identity == number.identity and again.digits == number.identity
            assert again == number


@BOUNDED
@given(_MOBILE, st.sampled_from(["", "+86", "0086", "86", "0", "+860", "00860"]))
def test_every_spelling_of_a_mobile_is_one_identity(mobile, prefix):
    assert CallerNumber.parse(prefix + mobile).identity == mobile


@BOUNDED
@given(_LANDLINE, st.sampled_from(["0", "+86", "0086", "86", "+860", "00860", "860"]))
def test_every_spelling_of_a_fixed_line_is_one_identity(national, prefix):
    assert CallerNumber.parse(prefix + national).identity == "0" + national


@BOUNDED
@given(_FOREIGN, st.sampled_from(["+", "00"]))
def test_a_foreign_number_is_one_identity_with_or_without_its_plus(number, prefix):
    assert CallerNumber.parse(prefix + number).identity == "00" + number


@BOUNDED
@given(st.one_of(_MOBILE, _LANDLINE.map(lambda n: "0" + n)), st.lists(_SEP, min_size=12, max_size=12),
       st.sampled_from(["", "+86 ", "0086-"]))
def test_a_written_number_is_the_number_without_its_separators(number, seps, prefix):
    written = prefix + "".join(d + s for d, s in zip(number, seps, strict=False)) + number[len(seps):]
    assert CallerNumber.parse_written(written).identity == CallerNumber.parse(number).identity


@BOUNDED
@given(_PLAUSIBLE)
def test_masked_keeps_the_identitys_last_four_digits(raw):
    number = CallerNumber.parse(raw)
    if not number.is_anonymous and len(number.identity) > 6:  # six or fewer keep their first two
        assert number.masked[-4:] == number.identity[-4:] and "*" in number.masked
        assert len(number.masked) == len(number.identity)
