"""The exchange channel's keys: one per direction, named by a key id; a message verifies
only with a known key of its own direction (the HMAC itself is tickets.signing's)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.errors import UnknownKey, WrongKey
from exchange.keys import (
    KEY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Key,
    KeyRing,
    check_direction,
    key_name,
)
from exchange.messages import envelope_bytes
from hotline_link.core.errors import ConfigError
from tests.unit.exchange_samples import NOW, envelope
from tickets import signing
from tickets.signing import BadSignature

UP = "u" * 40  # 12345 -> 110
DOWN = "d" * 40  # 110 -> 12345
STAMP = f"{NOW:.3f}"


def ring() -> KeyRing:
    return KeyRing.from_secrets({key_name("12345", "110", "k1"): UP, key_name("110", "12345", "k2"): DOWN,
                                 "push_secret_12345_to_110": "not an exchange key"})


def test_a_message_verifies_with_the_key_of_its_direction():
    sent = envelope("handover")  # 12345 -> 110
    body = envelope_bytes(sent)
    headers = ring().sign("12345", "110", STAMP, body)
    assert headers[KEY_HEADER] == "k1" and headers[TIMESTAMP_HEADER] == STAMP
    assert headers[SIGNATURE_HEADER] == signing.sign(UP, STAMP, body)  # tickets.signing's HMAC, not a copy
    key = ring().verify(headers[KEY_HEADER], STAMP, headers[SIGNATURE_HEADER], body, NOW, receiver_platform="110")
    assert key.direction == ("12345", "110")
    check_direction(key, sent)


def test_an_unknown_key_id_is_refused():
    with pytest.raises(UnknownKey, match="unknown exchange key id k9") as refused:
        ring().verify("k9", STAMP, "0" * 64, b"{}", NOW, receiver_platform="110")
    assert (refused.value.status, refused.value.code) == (401, "unknown_key")
    with pytest.raises(UnknownKey, match=r"\(malformed\)"):
        ring().key("k1\r\nX-Injected: 1")


def test_a_message_reflected_back_is_refused():
    # 12345's message to 110, signed with 12345's key, sent back to 12345 as if from 110
    sent = envelope("handover")
    body = envelope_bytes(sent)
    headers = ring().sign("12345", "110", STAMP, body)
    with pytest.raises(WrongKey, match="signs messages to 110, this is 12345") as refused:
        ring().verify(headers[KEY_HEADER], STAMP, headers[SIGNATURE_HEADER], body, NOW, receiver_platform="12345")
    assert (refused.value.status, refused.value.code) == (401, "wrong_key")


def test_a_message_going_the_other_way_than_its_key_is_refused():
    down = ring().key("k2")
    with pytest.raises(WrongKey, match="signs 110 to 12345, the message goes 12345 to 110"):
        check_direction(down, envelope("handover"))


def test_the_signature_and_its_time_are_checked():
    body = envelope_bytes(envelope("handover"))
    headers = ring().sign("12345", "110", STAMP, body)
    with pytest.raises(BadSignature):
        ring().verify("k1", STAMP, headers[SIGNATURE_HEADER], body + b" ", NOW, receiver_platform="110")
    with pytest.raises(BadSignature, match="timestamp off"):
        ring().verify("k1", STAMP, headers[SIGNATURE_HEADER], body, NOW + 3600, receiver_platform="110")
    other = signing.sign(DOWN, STAMP, body)  # the other direction's secret
    with pytest.raises(BadSignature, match="does not match"):
        ring().verify("k1", STAMP, other, body, NOW, receiver_platform="110")


def test_rotation_several_keys_verify_the_active_one_signs():
    secrets = {key_name("12345", "110", "old"): UP, key_name("12345", "110", "new"): "n" * 40}
    with pytest.raises(ConfigError, match="say which one is active"):
        KeyRing.from_secrets(secrets)
    rotating = KeyRing.from_secrets(secrets, {("12345", "110"): "new"})
    body = b"{}"
    assert rotating.sign("12345", "110", STAMP, body)[KEY_HEADER] == "new"
    for key_id, secret in (("old", UP), ("new", "n" * 40)):
        rotating.verify(key_id, STAMP, signing.sign(secret, STAMP, body), body, NOW, receiver_platform="110")


@pytest.mark.parametrize(("keys", "active", "words"), [
    ([Key("k1", "12345", "110", "short")], None, "at least 32 characters"),
    ([Key("k1", "12345", "12345", UP)], None, "its direction must be"),
    ([Key("k1", "12345", "119", UP)], None, "its direction must be"),
    ([Key("k 1", "12345", "110", UP)], None, "letters, digits and '-'"),
    ([Key("k1", "12345", "110", UP), Key("k1", "110", "12345", DOWN)], None, "given twice"),
    ([Key("k1", "12345", "110", UP)], {("12345", "110"): "k2"}, "is not one of its keys"),
    ([Key("k1", "12345", "110", UP)], {("110", "12345"): "k1"}, "direction without keys"),
])
def test_a_bad_key_ring_is_a_config_error(keys, active, words):
    with pytest.raises(ConfigError, match=words):
        KeyRing(keys, active)


def test_no_key_for_a_direction_is_a_config_error_when_sending():
    only_up = KeyRing([Key("k1", "12345", "110", UP)])
    with pytest.raises(ConfigError, match="no exchange key signs 110 to 12345"):
        only_up.sign("110", "12345", STAMP, b"{}")


def test_a_secret_never_shows_in_a_key_repr():
    assert UP not in repr(ring().key("k1"))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.text(max_size=80), st.text(max_size=80), st.binary(max_size=200))
def test_any_headers_verify_or_raise_an_http_401(key_id, timestamp, signature, body):
    try:
        key = ring().verify(key_id, timestamp, signature, body, NOW, receiver_platform="110")
    except (UnknownKey, WrongKey, BadSignature) as refused:
        assert refused.status == 401
        return
    assert key.key_id == "k1" and signature == signing.sign(UP, timestamp, body)
