"""Property tests of the ticket fields carried in channel variables and SIP headers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from call_control.channel_vars import (
    MAX_SUMMARY_CHARS,
    decode,
    encode,
    ticket_variables,
    transfer_bundle,
)

BOUNDED = settings(max_examples=300, deadline=None)
# text a JSON request body can carry, lone surrogates included ("\ud800" is valid JSON)
ANY_TEXT = st.text(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=300)
VALID_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=MAX_SUMMARY_CHARS)
_WIRE_SAFE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789%-._~")


@BOUNDED
@given(VALID_TEXT)
def test_decode_encode_round_trips(value):
    assert decode(encode(value)) == value


@BOUNDED
@given(ANY_TEXT, st.integers(0, 200))
def test_encoded_is_ascii_without_separators_and_bounded(value, limit):
    encoded = encode(value, limit)
    assert set(encoded) <= _WIRE_SAFE  # no ';', ',', quotes, spaces or line breaks
    assert len(encoded) <= limit * 12  # a character is at most 4 UTF-8 bytes, 3 chars each
    assert len(decode(encoded)) <= limit


def test_lone_surrogate_is_encoded_not_raised():
    # regression: quote() raised UnicodeEncodeError on "\ud800", which a JSON body can carry
    assert decode(encode("a\ud800b")) == "a?b"


@BOUNDED
@given(ANY_TEXT)
def test_decode_never_raises(value):
    assert isinstance(decode(value), str)


@BOUNDED
@given(ANY_TEXT, ANY_TEXT, ANY_TEXT, ANY_TEXT, ANY_TEXT, st.integers(0, 600))
def test_transfer_bundle_has_six_fields_that_decode(ticket, category, summary, source, call, ring):
    bundle = transfer_bundle(ticket, category, summary, source, ring, call)
    fields = bundle.split(";")
    assert len(fields) == 6 and fields[0] == str(ring)
    assert all(set(f) <= _WIRE_SAFE for f in fields)
    variables = ticket_variables(ticket, category, summary, source, call)
    assert all(set(v) <= _WIRE_SAFE for v in variables.values())


@BOUNDED
@given(VALID_TEXT, VALID_TEXT, VALID_TEXT)
def test_bundle_round_trips_short_fields(category, summary, ticket):
    fields = transfer_bundle(ticket[:64], category[:40], summary, "12345", 25, "hl12345-1795530667.13").split(";")
    assert [decode(f) for f in fields[1:]] == [ticket[:64], category[:40], summary, "12345", "hl12345-1795530667.13"]
