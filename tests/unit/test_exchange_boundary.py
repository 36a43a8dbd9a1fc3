"""The seeds' rules at the boundary: what leaves (``shareable``), what is let in. Restricted
content (控制知悉范围) never passes either side; whatever 110 hands to 12345 is taken as
non-emergency, and the audit sees that it was forced."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.boundary import (
    RESTRICTED_REASON,
    Admitted,
    Refusal,
    Refused,
    admit,
    outgoing_bounce,
    outgoing_handover,
    outgoing_received,
    outgoing_status,
    outgoing_supervise,
    returning_to,
)
from exchange.errors import NotSendable
from exchange.messages import (
    CATEGORY_CHARS,
    SUMMARY_CHARS,
    HandoverBody,
    envelope_bytes,
    fit_text,
    make_envelope,
    parse_envelope,
)
from tests.unit.exchange_samples import NOW, T110, T12345, envelope, handover_body, ticket_110, ticket_12345
from tickets.push_policy import PushRefused
from tickets.sharing import RESTRICTED_MARKS, shareable
from tickets.store import Ticket

BOUNDED = settings(max_examples=300, deadline=None)
NUMBER_ONLY = {"restricted": True, "category": "", "summary": "", "division_code": "", "emergency": False,
               "caller": ""}


def content(body: HandoverBody) -> dict[str, object]:
    return {name: getattr(body, name) for name in NUMBER_ONLY}


# --- sending -----------------------------------------------------------------------------


def test_a_shareable_case_goes_with_its_content():
    body = outgoing_handover(ticket_12345(emergency=True), "transfer", "110", source_call="hl12345-1795530667.13")
    assert content(body) == {"restricted": False, "category": "噪音扰民", "summary": "市南区香港中路夜间施工噪音",
                             "division_code": "370202", "emergency": True, "caller": "13812341234"}
    assert (body.mode, body.source_call) == ("transfer", "hl12345-1795530667.13")


def test_the_caller_goes_as_kept_or_masked():
    assert outgoing_handover(ticket_12345(), "push", "110").caller == "13812341234"
    assert outgoing_handover(ticket_12345(), "push", "110", mask_caller=True).caller == "138****1234"
    assert outgoing_handover(ticket_12345(caller="+86 138-1234-1234"), "push", "110").caller == "13812341234"
    assert outgoing_handover(ticket_12345(caller="+862588881234"), "push", "110").caller == "02588881234"
    assert outgoing_handover(ticket_12345(caller="+8613812341234"), "push", "110",
                             mask_caller=True).caller == "138****1234"
    assert outgoing_handover(ticket_12345(caller="anonymous"), "push", "110", mask_caller=True).caller == "anonymous"
    assert outgoing_handover(ticket_12345(caller="<script>"), "push", "110").caller == "anonymous"
    assert outgoing_handover(ticket_12345(caller=""), "push", "110").caller == ""


def test_whatever_110_hands_to_12345_leaves_as_non_emergency():
    body = outgoing_handover(ticket_110(emergency=True), "transfer", "12345")
    assert body.emergency is False
    assert body.summary == "邻里纠纷，已调解"


@pytest.mark.parametrize("ticket", [
    ticket_110(summary="涉案人员在场"),  # a 110 matter naming a mark
    ticket_110(category="涉恐"),
    ticket_110(restricted=True),  # flagged by an agent
    ticket_12345(restricted=True),  # flagged on 12345 too
], ids=["110-summary-mark", "110-category-mark", "110-flagged", "12345-flagged"])
@pytest.mark.parametrize("mode", ["transfer", "conference"])
def test_a_restricted_case_crosses_by_its_number_only(ticket, mode):
    target = "110" if ticket.site == "12345" else "12345"
    body = outgoing_handover(ticket, mode, target, source_call="hl110-1.2")
    assert content(body) == NUMBER_ONLY
    assert body.source_call == "hl110-1.2"  # a reference, no content
    wire = envelope_bytes(make_envelope(body, from_platform=ticket.site, to_platform=target, ticket=ticket.id,
                                        seq=1, sent_at=NOW))
    for text in (ticket.category, ticket.summary, ticket.caller, ticket.division_code):
        assert text.encode() not in wire


def test_a_restricted_case_is_never_pushed():
    with pytest.raises(PushRefused) as refused:
        outgoing_handover(ticket_110(summary="涉密文件"), "push", "12345")
    assert (refused.value.status, refused.value.code) == (403, "push_refused")


def test_a_12345_case_that_names_a_mark_is_what_110_must_hear():
    body = outgoing_handover(ticket_12345(summary="市民举报涉案线索"), "push", "110")
    assert body.restricted is False and body.summary == "市民举报涉案线索"


@pytest.mark.parametrize(("target", "words"), [("12345", "already on platform 12345"),
                                              ("119", "one of 12345, 110"), ("", "one of 12345, 110")])
def test_a_handover_goes_to_the_other_platform_only(target, words):
    with pytest.raises(NotSendable, match=words):
        outgoing_handover(ticket_12345(), "transfer", target)


def test_free_text_is_fitted_to_the_catalogue():
    ticket = ticket_12345(category="类别\n" + "长" * 100, summary="第一行\r\n第二行\x00" + "长" * 500,
                          division_code="3702", )
    body = outgoing_handover(ticket, "push", "110", source_call="not a call id")
    assert body.category.startswith("类别 长") and len(body.category) == CATEGORY_CHARS
    assert body.summary.startswith("第一行 第二行 长") and len(body.summary) == SUMMARY_CHARS
    assert body.division_code == "" and body.source_call is None


def test_a_case_going_back_names_the_ticket_it_came_from():
    back = ticket_110(source_platform="12345", source_ticket=T12345)
    assert returning_to(back, "12345") == T12345
    assert returning_to(back, "110") is None
    assert returning_to(ticket_110(), "12345") is None
    assert returning_to(ticket_110(source_platform="12345", source_ticket="garbage"), "12345") is None


def test_feedback_of_a_restricted_case_carries_no_text():
    flagged = ticket_110(restricted=True)
    status = outgoing_status(flagged, "arrived", NOW, unit="八大湖派出所", detail="民警到场")
    assert (status.stage, status.unit, status.detail) == ("arrived", None, "")
    assert outgoing_bounce(flagged, "不属于本平台").reason == RESTRICTED_REASON
    assert outgoing_supervise(flagged, "请尽快反馈", NOW + 60).note == ""
    # a 110 text that names a mark stays home, even of a case that may be shared
    plain = ticket_110()
    assert outgoing_status(plain, "result", NOW, detail="涉黑团伙已抓获").detail == ""
    assert outgoing_status(plain, "result", NOW, unit="涉枪专班").unit is None
    assert outgoing_status(plain, "result", NOW, unit="八大湖派出所", detail="已调解").detail == "已调解"
    assert outgoing_bounce(plain, "涉案，转刑侦").reason == RESTRICTED_REASON
    # 12345 text naming one is what 110 must hear
    assert outgoing_status(ticket_12345(), "result", NOW, detail="市民称涉案").detail == "市民称涉案"


def test_a_bounce_needs_a_reason():
    with pytest.raises(NotSendable, match="needs a reason"):
        outgoing_bounce(ticket_110(), " \n ")


def test_received_names_our_ticket():
    body = outgoing_received(ticket_110(), "2001", NOW)
    assert (body.receiver_ticket, body.accepted_by, body.at) == (T110, "2001", NOW)


# --- receiving ---------------------------------------------------------------------------


def test_a_message_for_the_other_platform_is_refused():
    got = admit(envelope("handover"), "12345")
    assert isinstance(got, Refused)
    assert (got.reason, got.field) == (Refusal.NOT_ADDRESSED, "to_platform")


def test_a_plain_message_is_admitted_as_it_came():
    for type_ in ("handover", "received", "status", "bounce", "supervise"):
        sent = envelope(type_)
        assert admit(sent, sent.to_platform) == Admitted(sent)


@pytest.mark.parametrize(("field", "value"), [("category", "纠纷"), ("summary", "地点"), ("division_code", "370202"),
                                              ("caller", "13812341234"), ("emergency", True)])
def test_a_restricted_case_arriving_with_content_is_refused(field, value):
    empty = {k: v for k, v in NUMBER_ONLY.items() if k != "restricted"}
    sent = envelope("handover", from_platform="110", ticket=T110, restricted=True, **{**empty, field: value})
    got = admit(sent, "12345")
    assert isinstance(got, Refused)
    assert (got.reason, got.field) == (Refusal.RESTRICTED_CONTENT, f"body.{field}")


def test_a_restricted_case_pushed_is_refused_even_by_its_number():
    sent = envelope("handover", from_platform="110", ticket=T110, mode="push", **NUMBER_ONLY)
    got = admit(sent, "12345")
    assert isinstance(got, Refused)
    assert (got.reason, got.field) == (Refusal.RESTRICTED_CONTENT, "body.mode")


def test_a_restricted_case_by_its_number_is_admitted():
    sent = envelope("handover", from_platform="110", ticket=T110, **NUMBER_ONLY)
    assert admit(sent, "12345") == Admitted(sent)


@pytest.mark.parametrize(("type_", "changes", "field"), [
    ("handover", {"summary": "涉稳人员聚集"}, "body.summary"),
    ("handover", {"category": "涉密"}, "body.category"),
    ("status", {"detail": "涉案嫌疑人已控制"}, "body.detail"),
    ("status", {"unit": "涉爆处置组"}, "body.unit"),
    ("bounce", {"reason": "涉恐线索，不予流转"}, "body.reason"),
    ("supervise", {"note": "敏感事项"}, "body.note"),
])
def test_110_text_naming_a_restricted_matter_is_refused_flagged_or_not(type_, changes, field):
    sent = envelope(type_, from_platform="110", ticket=T110, **changes)
    got = admit(sent, "12345")
    assert isinstance(got, Refused)
    assert (got.reason, got.field) == (Refusal.RESTRICTED_CONTENT, field)


def test_12345_text_naming_a_mark_is_admitted():
    sent = envelope("handover", summary="市民举报涉案线索")
    assert admit(sent, "110") == Admitted(sent)


def test_110_emergency_is_taken_as_non_emergency_and_the_audit_sees_it():
    sent = envelope("handover", from_platform="110", ticket=T110, emergency=True)
    got = admit(sent, "12345")
    assert isinstance(got, Admitted)
    assert got.envelope.body.emergency is False  # type: ignore[union-attr]
    assert got.forced == ("body.emergency",)
    assert got.envelope.model_dump(exclude={"body"}) == sent.model_dump(exclude={"body"})
    # the other way an emergency stays one
    urgent = envelope("handover", emergency=True)
    assert admit(urgent, "110") == Admitted(urgent)


# --- both sides, for any ticket ----------------------------------------------------------

TEXT = st.one_of(st.text(max_size=150), st.sampled_from(RESTRICTED_MARKS),
                 st.tuples(st.text(max_size=20), st.sampled_from(RESTRICTED_MARKS), st.text(max_size=20))
                 .map("".join))
TICKETS = st.builds(
    Ticket, id=st.just(""), site=st.sampled_from(["12345", "110"]), call_id=st.just(""), category=TEXT,
    summary=TEXT, caller=st.sampled_from(["", "13812341234", "anonymous", "+8613912345678"]),
    division_code=st.sampled_from(["", "370202", "12"]), emergency=st.booleans(), restricted=st.booleans())


@BOUNDED
@given(TICKETS, st.sampled_from(["transfer", "conference", "push"]))
def test_for_any_ticket_what_leaves_is_what_the_receiver_admits(ticket, mode):
    ticket = Ticket(**{**ticket.__dict__, "id": T12345 if ticket.site == "12345" else T110})
    target = "110" if ticket.site == "12345" else "12345"
    try:
        body = outgoing_handover(ticket, mode, target)
    except PushRefused:
        assert mode == "push" and not shareable(ticket)
        return
    wire = envelope_bytes(make_envelope(body, from_platform=ticket.site, to_platform=target, ticket=ticket.id,
                                        seq=1, sent_at=NOW))
    got = admit(parse_envelope(wire), target)
    assert isinstance(got, Admitted), got  # the sender never sends what the receiver refuses
    taken = got.envelope.body
    assert isinstance(taken, HandoverBody)
    if not shareable(ticket):
        assert content(taken) == NUMBER_ONLY
    if ticket.site == "110":
        assert taken.emergency is False


@BOUNDED
@given(st.sampled_from(["12345", "110"]), TEXT, TEXT, st.sampled_from(["", "370202"]),
       st.sampled_from(["", "13812341234"]), st.booleans())
def test_no_restricted_content_is_ever_admitted(sender, category, summary, division, caller, emergency):
    receiver = "110" if sender == "12345" else "12345"
    ticket = T12345 if sender == "12345" else T110
    body = handover_body(restricted=True, category=fit_text(category, CATEGORY_CHARS),
                         summary=fit_text(summary, SUMMARY_CHARS), division_code=division, caller=caller,
                         emergency=emergency)
    sent = make_envelope(body, from_platform=sender, to_platform=receiver, ticket=ticket, seq=1, sent_at=NOW)
    got = admit(sent, receiver)
    if any(content(sent.body).get(k) for k in NUMBER_ONLY if k != "restricted"):  # type: ignore[arg-type]
        assert isinstance(got, Refused) and got.reason is Refusal.RESTRICTED_CONTENT
    else:
        assert isinstance(got, Admitted)
