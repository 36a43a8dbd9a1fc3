"""Harassment screening policy (pure) and the IVR's AMI-to-bus event mapping."""

from __future__ import annotations

import pytest

from hotline_link.asterisk.ami.manager import AmiEvent
from hotline_link.core.bus import BusEvent
from hotline_link.core.numbers import CallerNumber
from ivr.errors import BadNumber, BadReason
from ivr.events import bus_event
from ivr.harassment import (
    HarassmentPolicy,
    flag_record,
    number_ref,
    verdict,
    window_start,
)

POLICY = HarassmentPolicy(max_calls=3, window_s=600)


@pytest.mark.parametrize("raw", ["", "  ", "anonymous", "Anonymous", "unknown", "Restricted",
                                 "abc", "12", "1381234abcd", "+", "1" * 21, None])
def test_withheld_or_malformed_numbers_are_never_screened(raw):
    assert CallerNumber.parse(raw).is_anonymous
    with pytest.raises(BadNumber):
        flag_record(raw, "x", "supervisor", 0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("spelling", [" 13812341234 ", "+8613812341234", "008613812341234", "8613812341234"])
def test_a_caller_is_screened_and_flagged_by_one_identity_however_presented(spelling):
    # issue 16: screening kept "+8613812341234" and "13812341234" as two callers
    flag = flag_record(spelling, "恐吓", "supervisor", 1.0)
    assert flag.number == "13812341234" and flag.ref == number_ref("13812341234")
    assert flag.public().number == "138****1234"
    assert flag_record("110", "x", "supervisor", 0.0).number == "110"


def test_more_calls_than_allowed_in_the_window_warns():
    assert verdict(POLICY, 1, False).warn is False
    assert verdict(POLICY, 3, False) == verdict(POLICY, 3, False)
    assert not verdict(POLICY, 3, False).warn  # exactly max_calls is still allowed
    fourth = verdict(POLICY, 4, False)
    assert fourth.warn and fourth.reason == "too_many_calls" and fourth.calls_in_window == 4


def test_a_flagged_number_is_warned_from_its_first_call():
    first = verdict(POLICY, 1, True)
    assert first.warn and first.reason == "flagged"


def test_window_start():
    assert window_start(POLICY, 1000.0) == 400.0


def test_flag_needs_a_real_number_and_a_reason():
    flag = flag_record(" 13812341234", " 反复辱骂坐席 ", "agent 1001", 5.0, "12345")
    assert (flag.number, flag.reason, flag.by, flag.at, flag.site) == (
        "13812341234", "反复辱骂坐席", "agent 1001", 5.0, "12345")
    with pytest.raises(BadNumber) as bad:
        flag_record("anonymous", "x", "supervisor", 0.0)
    assert (bad.value.status, bad.value.code) == (400, "bad_number")
    with pytest.raises(BadNumber):
        flag_record(12345, "x", "supervisor", 0.0)  # type: ignore[arg-type]
    with pytest.raises(BadReason) as reason:
        flag_record("13812341234", "   ", "supervisor", 0.0)
    assert reason.value.code == "bad_reason"
    with pytest.raises(BadReason):
        flag_record("13812341234", "很" * 121, "supervisor", 0.0)


def test_flags_are_shown_masked_with_a_ref_that_reveals_nothing():
    flag = flag_record("13812341234", "恐吓", "supervisor", 1.0)
    public = flag.public()
    assert public.number == "138****1234"
    assert "13812341234" not in str(public.model_dump())
    assert public.ref == number_ref("13812341234") != number_ref("13812341235")
    assert len(public.ref) == 16


def _ivr(**fields: str) -> AmiEvent:
    return AmiEvent("12345", "UserEvent", {"UserEvent": "HotlineIvr", "Linkedid": "hl12345-1.2",
                                           "Uniqueid": "hl12345-1.3", **fields})


def test_ivr_user_events_become_bus_events():
    def wire(event):
        return BusEvent.of(event)

    assert wire(bus_event(_ivr(Stage="entered", Choice=""))) == BusEvent(
        "ivr.entered", {"call_id": "hl12345-1.2", "site": "12345"})
    assert wire(bus_event(_ivr(Stage="choice", Choice="callback"))) == BusEvent(
        "ivr.choice", {"call_id": "hl12345-1.2", "site": "12345", "choice": "callback"})
    assert wire(bus_event(_ivr(Stage="choice", Choice="self_service", Topic="move_car"))) == BusEvent(
        "ivr.choice", {"call_id": "hl12345-1.2", "site": "12345", "choice": "self_service",
                       "topic": "move_car"})
    assert bus_event(_ivr(Stage="left", Choice="emergency")).NAME == "ivr.left"


def test_other_user_events_are_not_the_ivrs():
    other = AmiEvent("12345", "UserEvent", {"UserEvent": "HotlineTransfer", "Stage": "failed"})
    assert bus_event(other) is None
    assert bus_event(_ivr(Stage="bogus", Choice="x")) is None


async def test_screen_fails_open_when_redis_is_away():
    from redis.asyncio import Redis

    from hotline_link.core.bus import EventBus
    from ivr.harassment import HarassmentGuard
    from tests.helpers import free_tcp_port

    redis = Redis.from_url(f"redis://127.0.0.1:{free_tcp_port()}/0", socket_connect_timeout=1)
    guard = HarassmentGuard(redis, POLICY, EventBus())
    try:
        assert await guard.screen("12345", "13812341234") is False
    finally:
        await redis.aclose()


def test_a_number_with_a_line_break_inside_is_not_a_number():
    assert CallerNumber.parse("138\n12341234").is_anonymous


async def test_one_caller_has_one_call_window_and_one_flag_however_presented(private_redis):
    from hotline_link.core.bus import EventBus
    from ivr.harassment import FLAGS_KEY, HarassmentGuard

    guard = HarassmentGuard(private_redis, POLICY, EventBus())
    spellings = ["13812341234", "+8613812341234", "008613812341234", "8613812341234"]
    warned = [await guard.screen("12345", s, 100.0 + i, call_id=f"c{i}") for i, s in enumerate(spellings)]
    assert warned == [False, False, False, True]  # the fourth call within the window, from one caller
    assert await private_redis.keys("hl:harassment:calls:*") == ["hl:harassment:calls:12345:13812341234"]

    flag = await guard.flag("+8613812341234", "恐吓", "supervisor")
    assert await private_redis.hkeys(FLAGS_KEY) == ["13812341234"] and flag.number == "13812341234"
    assert await guard.screen("110", "13812341234", 200.0, call_id="c9") is False  # 110 is exempt
    assert await guard.screen("12345", "013812341234", 200.0, call_id="c10") is True  # flagged
    assert await guard.unflag("008613812341234", "supervisor") == "13812341234"
    assert await private_redis.hlen(FLAGS_KEY) == 0 and await private_redis.keys("hl:harassment:*") == []


async def test_flags_kept_as_presented_are_re_keyed_by_identity(private_redis):
    import json

    from hotline_link.core.bus import EventBus
    from ivr.harassment import FLAGS_KEY, HarassmentGuard

    guard = HarassmentGuard(private_redis, POLICY, EventBus())
    old = json.dumps({"by": "supervisor", "reason": "旧", "at": 1.0, "site": ""})
    new = json.dumps({"by": "agent 1001", "reason": "新", "at": 2.0, "site": "12345"})
    await private_redis.hset(FLAGS_KEY, mapping={"+8613812341234": old, "13900001111": new,
                                                 "+8613900001111": old, "110": new})
    assert await guard.migrate_flags() == 2
    rows = await private_redis.hgetall(FLAGS_KEY)
    assert set(rows) == {"13812341234", "13900001111", "110"}
    assert json.loads(rows["13900001111"])["reason"] == "新"  # a flag under the identity wins
    assert await guard.screen("12345", "13812341234", 1.0, call_id="c1") is True
    assert await guard.migrate_flags() == 0
