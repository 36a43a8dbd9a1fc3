import pytest

from tickets.outbox import backoff_s, permanent
from tickets.push_policy import BadPush, PushRefused, other_platform, parse_payload, plan_push
from tickets.signing import BadSignature, sign, verify
from tickets.store import Ticket


def ticket(**kw):
    base = dict(id="110-20261124-000001", site="110", call_id="c", category="噪音", summary="楼上装修")
    return Ticket(**{**base, **kw})


def test_110_to_12345_is_never_an_emergency():
    assert plan_push(ticket(emergency=True), "12345").emergency is False
    assert plan_push(ticket(site="12345", id="12345-x", emergency=True), "110").emergency is True


@pytest.mark.parametrize("kw", [{"restricted": True}, {"category": "涉稳"}, {"summary": "涉密线索"}])
def test_restricted_110_matters_are_never_shared(kw):
    with pytest.raises(PushRefused):
        plan_push(ticket(**kw), "12345")


def test_same_platform_and_unknown_target_are_refused():
    with pytest.raises(BadPush):
        plan_push(ticket(), "110")
    with pytest.raises(BadPush):
        plan_push(ticket(), "119")


def test_bounce_is_a_push_back_to_where_it_came_from():
    assert plan_push(ticket(source_platform="12345"), "12345").bounced is True
    assert plan_push(ticket(), "12345").bounced is False


def test_received_payload_is_checked_and_the_rule_enforced_again():
    good = plan_push(ticket(), "12345").as_json()
    assert parse_payload({**good, "emergency": True}).emergency is False
    for bad in ([], {**good, "push_id": ""}, {**good, "emergency": "yes"}, {**good, "to_platform": "110"},
                {**good, "summary": "x" * 501}, {**good, "caller": 13800000000}):
        with pytest.raises(BadPush):
            parse_payload(bad)


def test_signature():
    body = b'{"a": 1}'
    signature = sign("s3cret", "1000.0", body)
    verify("s3cret", "1000.0", signature, body, now=1100)
    for args in [("other", "1000.0", signature, body, 1100), ("s3cret", "1000.0", signature, b"{}", 1100),
                 ("s3cret", "1000.0", signature, body, 2000), ("s3cret", "x", signature, body, 1100),
                 ("", "1000.0", signature, body, 1100)]:
        with pytest.raises(BadSignature):
            verify(*args)


def test_retry_policy():
    assert [backoff_s(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0] and backoff_s(50) == 60
    assert permanent(400) and permanent(401) and not permanent(429) and not permanent(503)
    assert not permanent(0)  # no answer at all: the peer is down, try again


def test_the_other_platform_of_each_platform_and_none_of_a_stranger() -> None:
    assert (other_platform("12345"), other_platform("110")) == ("110", "12345")
    with pytest.raises(ValueError, match="not a platform: '119'"):
        other_platform("119")
