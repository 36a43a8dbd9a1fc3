"""The exchange channel's message catalogue: every type goes to bytes and back unchanged;
anything else is a 400 ``bad_message`` whose message names the field at fault."""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from exchange.errors import BadMessage
from exchange.messages import (
    CATEGORY_CHARS,
    MAX_MESSAGE_BYTES,
    MESSAGE_TYPES,
    PLAIN_PATTERN,
    SUMMARY_CHARS,
    HandoverMessage,
    Message,
    MessageType,
    Platform,
    StatusBody,
    envelope_bytes,
    fit_text,
    json_schema,
    make_envelope,
    parse_envelope,
    restamped,
)
from hotline_link.core.errors import HttpError
from tests.unit.exchange_samples import NOW, T110, T12345, as_dict, envelope, handover_body
from tickets.push_policy import PLATFORMS

BOUNDED = settings(max_examples=200, deadline=None)


def refused(data: Any) -> BadMessage:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()  # \uXXXX: lone surrogates too
    with pytest.raises(BadMessage) as caught:
        parse_envelope(raw)
    return caught.value


def changed(type_: str = "handover", body: dict[str, Any] | None = None, drop: tuple[str, ...] = (),
            **top: Any) -> dict[str, Any]:
    data = as_dict(envelope(type_))
    data.update(top)
    data["body"].update(body or {})
    for name in drop:
        data.pop(name)
    return data


@pytest.mark.parametrize("type_", MESSAGE_TYPES)
def test_every_type_goes_to_bytes_and_back_unchanged(type_):
    sent = envelope(type_, seq=3)
    got = parse_envelope(envelope_bytes(sent))
    assert got == sent
    assert got.type == type_ and isinstance(got, Message)
    assert got.stream == (sent.from_platform, sent.ticket)


def test_the_catalogue_knows_the_platforms_push_knows():
    assert set(get_args(Platform)) == set(PLATFORMS)
    assert tuple(get_args(MessageType)) == MESSAGE_TYPES


def test_the_wire_form_keeps_chinese_text_as_itself():
    assert "夜间施工噪音".encode() in envelope_bytes(envelope("handover"))


def test_a_bad_message_is_a_400_with_a_stable_code():
    error = refused(b"{}")
    assert isinstance(error, HttpError)
    assert (error.status, error.code) == (400, "bad_message")


@pytest.mark.parametrize(("data", "field", "words"), [
    # message ids
    (changed(message_id="not-a-uuid"), "message_id", "version-4 UUID"),
    (changed(message_id=uuid.uuid4().hex.upper()), "message_id", "lowercase hex"),
    (changed(message_id=uuid.uuid4().hex[:31]), "message_id", "32 lowercase hex"),
    (changed(message_id=str(uuid.uuid4())), "message_id", "32 lowercase hex"),  # with hyphens
    (changed(message_id=uuid.uuid1().hex), "message_id", "not another version"),
    (changed(message_id="0" * 32), "message_id", "not another version"),
    # the two ends
    (changed(to_platform="12345"), "to_platform", "must be the other platform"),
    (changed(from_platform="110", ticket=T110, to_platform="110"), "to_platform", "must be the other platform"),
    (changed(to_platform="119"), "to_platform", "'12345' or '110'"),
    (changed(drop=("from_platform",)), "from_platform", "is required"),
    (changed(ticket=T110), "ticket", "ticket of the sender"),
    (changed(ticket="12345-1"), "ticket", "ticket id of 12345 or 110"),
    (changed("status", peer_ticket=None), "peer_ticket", "required in a status message"),
    (changed("status", peer_ticket=T110), "peer_ticket", "ticket of the receiver"),
    (changed("received", body={"receiver_ticket": "110-20261124-000099"}), "body.receiver_ticket",
     "must be the sender's ticket"),
    # type and version
    (changed(type="escalate"), "type", "unknown message type escalate"),
    (changed(drop=("type",)), "type", "is required: one of handover, received, status, bounce, supervise"),
    (changed(v=2), "v", "version 2 is not supported"),
    (changed(v="1"), "v", "version \"1\" is not supported"),
    (changed(v=True), "v", "version true is not supported"),
    (changed(v=1.0), "v", "version 1.0 is not supported"),
    (changed(drop=("v",)), "v", "is required"),
    # bounded, plain text
    (changed(body={"summary": "噪" * (SUMMARY_CHARS + 1)}), "body.summary", "at most 120 characters"),
    (changed(body={"category": "x" * (CATEGORY_CHARS + 1)}), "body.category", "at most 40 characters"),
    (changed("status", body={"detail": "x" * 501}), "body.detail", "at most 500 characters"),
    (changed("status", body={"unit": "x" * 61}), "body.unit", "at most 60 characters"),
    (changed("status", body={"unit": ""}), "body.unit", "must not be empty"),
    (changed("bounce", body={"reason": "x" * 201}), "body.reason", "at most 200 characters"),
    (changed("bounce", body={"reason": ""}), "body.reason", "must not be empty"),
    (changed("supervise", body={"note": "x" * 501}), "body.note", "at most 500 characters"),
    (changed(body={"summary": "第一行\n第二行"}), "body.summary", "control character U+000A"),
    (changed(body={"summary": "a\x00b"}), "body.summary", "control character U+0000"),
    (changed(body={"category": "a\x85b"}), "body.category", "control character U+0085"),
    (changed(body={"summary": "\u202e反向"}), "body.summary", "control character U+202E"),
    (changed(body={"summary": "a\u2028b"}), "body.summary", "control character U+2028"),
    (changed("bounce", body={"reason": "a\tb"}), "body.reason", "control character U+0009"),
    (changed(body={"summary": "\ud800"}), "body.summary", "not valid Unicode text"),
    (changed(body={"summary": 12}), "body.summary", "must be a string"),
    # the rest of the envelope and the bodies
    (changed(priority="high"), "priority", "not part of this message"),
    (changed(body={"restricted_reason": "x"}), "body.restricted_reason", "not part of this message"),
    (changed(body={"mode": "fax"}), "body.mode", "'transfer', 'conference' or 'push'"),
    (changed("status", body={"stage": "lost"}), "body.stage", "must be one of"),
    (changed(body={"division_code": "3702"}), "body.division_code", "6 digits"),
    (changed(body={"caller": "138 1234 1234"}), "body.caller", "a number as kept"),
    (changed(body={"emergency": "false"}), "body.emergency", "true or false"),
    (changed(body={"emergency": 0}), "body.emergency", "true or false"),
    (changed(body={"source_call": "a;b"}), "body.source_call", "a call id"),
    (changed("received", body={"accepted_by": "alice"}), "body.accepted_by", "an agent's number or 'system'"),
    (changed(seq=0), "seq", "at least 1"),
    (changed(seq="1"), "seq", "whole number"),
    (changed(seq=True), "seq", "whole number"),
    (changed(seq=1.5), "seq", "whole number"),
    (changed(sent_at=-1), "sent_at", "more than 0"),
    (changed(sent_at="1795530000"), "sent_at", "must be a number"),
    (changed("status", body={"at": None}), "body.at", "must be a number"),
    (changed(body=None) | {"body": "text"}, "body", "JSON object"),
])
def test_a_bad_message_names_its_field(data, field, words):
    error = refused(data)
    assert error.field == field
    assert words in str(error)


def test_the_body_must_be_of_the_type_named():
    data = changed("status")
    data["body"] = as_dict(envelope("handover"))["body"]
    error = refused(data)
    assert error.field == "body.stage" and "is required" in str(error)


@pytest.mark.parametrize(("raw", "words"), [
    (b"", "not JSON"),
    (b"{\"v\": 1,", "not JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b"\"handover\"", "must be a JSON object"),
    (b"{\"x\": NaN}", "NaN is not a JSON number"),
    (b"{\"x\": -Infinity}", "-Infinity is not a JSON number"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"[" * 5000 + b"]" * 5000, "nested too deep"),
    (b" " * (MAX_MESSAGE_BYTES + 1), f"at most {MAX_MESSAGE_BYTES}"),
])
def test_what_is_not_a_json_object_is_refused_whole(raw, words):
    error = refused(raw)
    assert error.field == ""
    assert words in str(error)


def test_a_key_given_twice_is_refused():
    # read the last one (as pydantic's own JSON reader would) and a "status" could pass for
    # a "handover" to one reader and not to another
    raw = envelope_bytes(envelope("handover")).replace(b'"type":"handover"', b'"type":"status","type":"handover"')
    error = refused(raw)
    assert error.field == "type" and "given twice" in str(error)


def test_make_envelope_checks_like_the_receiver():
    with pytest.raises(BadMessage, match="must be the other platform"):
        make_envelope(handover_body(), from_platform="12345", to_platform="12345", ticket=T12345,
                      seq=1, sent_at=NOW)
    with pytest.raises(BadMessage, match="required in a status message"):
        make_envelope(StatusBody(stage="closed", at=NOW), from_platform="110", to_platform="12345",
                      ticket=T110, seq=1, sent_at=NOW)
    made = make_envelope(handover_body(), from_platform="12345", to_platform="110", ticket=T12345,
                         seq=1, sent_at=NOW)
    assert isinstance(made, HandoverMessage) and uuid.UUID(hex=made.message_id).version == 4


def test_models_are_frozen():
    sent = envelope("handover")
    with pytest.raises(ValueError, match="frozen"):
        sent.seq = 2  # type: ignore[misc]


def test_a_restamped_message_is_the_same_message_sent_again():
    sent = envelope("status", seq=4)
    again = restamped(sent, NOW + 3600)
    assert again.sent_at == NOW + 3600
    assert again.model_dump(exclude={"sent_at"}) == sent.model_dump(exclude={"sent_at"})
    with pytest.raises(ValueError):
        restamped(sent, float("nan"))


def test_the_schema_describes_each_type_by_its_tag():
    schema = json_schema()
    assert set(schema["discriminator"]["mapping"]) == set(MESSAGE_TYPES)
    defs = schema["$defs"]
    for type_ in MESSAGE_TYPES:
        name = schema["discriminator"]["mapping"][type_].removeprefix("#/$defs/")
        message = defs[name]
        assert message["additionalProperties"] is False
        assert message["properties"]["v"]["const"] == 1
        assert message["properties"]["type"]["const"] == type_
        body = defs[message["properties"]["body"]["$ref"].removeprefix("#/$defs/")]
        assert body["additionalProperties"] is False
    handover = defs["HandoverBody"]["properties"]
    assert handover["summary"]["maxLength"] == SUMMARY_CHARS
    assert handover["summary"]["pattern"] == PLAIN_PATTERN
    openapi = json_schema("#/components/schemas/{model}")
    assert all(ref.startswith("#/components/schemas/") for ref in openapi["discriminator"]["mapping"].values())


def test_the_schema_pattern_refuses_what_the_model_refuses():
    # the pattern the JSON Schema publishes and the check the models run agree on every
    # character of the Basic Multilingual Plane (surrogates are no text at all)
    pattern = re.compile(PLAIN_PATTERN)
    disagree = []
    for code in range(0x10000):
        ch = chr(code)
        if unicodedata.category(ch) == "Cs":
            continue
        try:
            StatusBody(stage="closed", detail=ch, at=NOW)
            model_ok = True
        except ValidationError:
            model_ok = False
        if model_ok != (pattern.fullmatch(ch) is not None):
            disagree.append(hex(code))
    assert disagree == []


@BOUNDED
@given(st.text(max_size=300), st.integers(1, 300))
def test_fit_text_makes_any_text_a_valid_one(text, limit):
    fitted = fit_text(text, limit)
    assert len(fitted) <= limit
    StatusBody(stage="result", detail=fitted[:500], at=NOW)
    assert "\n" not in fitted and "\x00" not in fitted


PLAIN = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"),
                      blacklist_characters="\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@BOUNDED
@given(st.text(PLAIN, max_size=SUMMARY_CHARS), st.text(PLAIN, max_size=CATEGORY_CHARS),
       st.integers(1, 10**9), st.floats(1.0, 9e10))
def test_any_bounded_plain_content_goes_to_bytes_and_back(summary, category, seq, sent_at):
    sent = envelope("handover", seq=seq, sent_at=sent_at, summary=summary, category=category)
    assert parse_envelope(envelope_bytes(sent)) == sent


def test_a_body_changed_after_it_was_made_is_checked_again():
    with pytest.raises(BadMessage, match=r"body\.summary"):
        envelope("handover", summary="line\nbreak")


@BOUNDED
@given(st.binary(max_size=400))
def test_any_bytes_parse_or_raise_bad_message(raw):
    try:
        parse_envelope(raw)
    except BadMessage:
        pass
