"""The story and the report between two real deployments (12345's and 110's: two
redis-servers, two aiohttp servers, real clients; tests/unit/exchange_deployments.py): each
ticket's timeline tells the other platform's part from the messages it received, never from
keys of the other platform (a stale copy planted in its Redis stays out), with 首接 from
them; and both deployments' linkage reports count the same messages the same way. The
shared clock starts at the test's own start."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from exchange.app_keys import EXCHANGE
from exchange.effects import Peer
from exchange.redis_keys import LOG
from hotline_link.app import App
from hotline_link.core.bus import BusEvent, EventBus
from hotline_link.core.events import CallAnswered, LinkageResolved
from hotline_link.core.settings import Settings
from hotline_link.core.zone import HOTLINE_ZONE
from linkage.exchange_figures import exchange_ways
from linkage.keys import EXCHANGE_LOG
from linkage.report import parse_range
from linkage.resources import build_report
from linkage.service import LinkageService
from tests.unit.exchange_deployments import SUPERVISOR_TOKEN, Clock, Deployment, served_pair
from tests.unit.exchange_samples import T110, T12345, ticket_110, ticket_12345
from tests.unit.served_replies import served
from tests.unit.test_exchange_plugin_app import police_config
from tickets.keys import TIMELINE
from tickets.outbox import Outbox
from tickets.schema import TicketStory
from tickets.store import Ticket
from tickets.timeline import add_story_entry, entry_of

TIMELINE_PATH = "/api/tickets/{ticket_id}/timeline"


@pytest.fixture
async def deployments(redis_url: str, peer_redis_url: str,
                      session: aiohttp.ClientSession) -> AsyncIterator[tuple[Deployment, Deployment]]:
    """(12345's deployment, 110's), served and connected, on a clock set to now."""
    async with served_pair(redis_url, peer_redis_url, session, Clock(time.time())) as pair:
        yield pair


async def answered_here(one: Deployment, ticket_id: str, call_id: str, agent: str, at: float) -> None:
    """One of this deployment's own calls on ``ticket_id``, answered by ``agent``, as the
    timeline stores it."""
    pipe = one.redis.pipeline(transaction=True)
    add_story_entry(pipe, ticket_id, call_id, entry_of(BusEvent(CallAnswered.NAME, {
        "call_id": call_id, "site": one.platform, "answered_by": agent}), at))
    await pipe.execute()


async def timeline_over_http(session: aiohttp.ClientSession, one: Deployment, ticket_id: str) -> dict:  # type: ignore[type-arg]
    async with session.get(f"{one.url}/api/tickets/{ticket_id}/timeline",
                           headers={"Authorization": f"Bearer {SUPERVISOR_TOKEN}"}) as resp:
        return await served(resp, TicketStory, TIMELINE_PATH, 200)


# --- the timeline --------------------------------------------------------------------------


async def test_a_pushed_case_is_told_from_messages_on_both_sides_never_from_the_peers_keys(deployments):
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345())
    await answered_here(hotline, T12345, "hl12345-1.1", "1001", hotline.clock.now - 60)
    pushed = await hotline.push.push(T12345, "110")
    # a stale copy of 12345's ticket and one of its calls in 110's Redis (a one-deployment past):
    # what reading the other platform's keys would wrongly show
    await police.tickets.save(Ticket(T12345, "12345", "hl12345-stale", summary="旧的副本"))
    await answered_here(police, T12345, "hl12345-stale", "9999", hotline.clock.now - 120)
    hotline.clock.now += 1
    await hotline.settle(police)
    opened = await police.pushed_ticket(pushed.push_id)

    theirs = await police.timeline.for_ticket(opened.id)
    assert theirs is not None
    assert [(e["event"], e["data"]["platform"]) for e in theirs["events"]] == [
        ("exchange.received.handover", "12345"), ("exchange.sent.received", "110")]
    assert all(e["ticket_id"] == opened.id for e in theirs["events"])
    assert theirs["related_tickets"] == [T12345]
    assert theirs["first_answered"] is None  # a push: no agent of either side answered it here

    ours = await hotline.timeline.for_ticket(T12345)
    assert ours is not None
    assert [e["event"] for e in ours["events"]] == [
        "call.answered", "exchange.sent.handover", "exchange.received.received"]
    assert [e["at"] for e in ours["events"]] == sorted(e["at"] for e in ours["events"])
    assert ours["events"][2]["data"]["platform"] == "110"
    assert ours["related_tickets"] == [opened.id]
    assert ours["first_answered"] == {"site": "12345", "agent": "1001", "at": hotline.clock.now - 61,
                                      "call_id": "hl12345-1.1", "source": "calls"}


async def test_a_transfer_gives_first_answer_to_the_sender_in_the_documented_reply(deployments, session):
    hotline, police = deployments
    await police.tickets.save(ticket_110())
    sent = await police.service.hand_over(ticket_110(), "transfer", "12345", source_call="hl110-1795530667.2")
    await hotline.settle(police)
    opened = await hotline.redis.get(f"hl:exchange:opened:{sent.message_id}")
    arrived = hotline.clock.now
    await answered_here(hotline, opened, "hl12345-7.1", "1002", arrived + 5)  # our agent takes the call
    story = await timeline_over_http(session, hotline, opened)
    assert story["first_answered"] == {"site": "110", "agent": None, "at": arrived,
                                       "call_id": "hl110-1795530667.2", "source": "messages"}
    assert story["related_tickets"] == [T110]
    assert [e["event"] for e in story["events"]] == ["exchange.received.handover", "call.answered"]


async def test_a_restricted_transfer_tells_the_platform_and_nothing_of_the_case(deployments, session):
    hotline, police = deployments
    secret = ticket_110(category="涉案", summary="涉案线索，地址保密")
    await police.tickets.save(secret)
    sent = await police.service.hand_over(secret, "transfer", "12345", source_call="hl110-1795530667.2")
    await hotline.settle(police)
    opened = await hotline.redis.get(f"hl:exchange:opened:{sent.message_id}")
    story = await timeline_over_http(session, hotline, opened)
    assert (story["first_answered"]["site"], story["first_answered"]["agent"],
            story["first_answered"]["source"]) == ("110", None, "messages")
    assert story["related_tickets"] == [T110]
    assert "涉案" not in json.dumps(story, ensure_ascii=False) and "地址" not in json.dumps(story, ensure_ascii=False)


async def test_one_deployment_for_both_platforms_reply_keeps_its_first_answer_without_a_source(deployments,
                                                                                                session):
    hotline, _ = deployments
    hotline.timeline.peer = None  # as when the exchange plugin is off
    await hotline.tickets.save(ticket_12345())
    await answered_here(hotline, T12345, "hl12345-1.1", "1001", 5.0)
    story = await timeline_over_http(session, hotline, T12345)
    assert story["first_answered"] == {"site": "12345", "agent": "1001", "at": 5.0, "call_id": "hl12345-1.1"}


# --- the report ----------------------------------------------------------------------------


def _days_around_now() -> tuple[str, str]:
    """Yesterday and tomorrow in the report's zone: what the test does now is inside."""
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    return (today - dt.timedelta(days=1)).isoformat(), (today + dt.timedelta(days=1)).isoformat()


async def report_of(one: Deployment, fmt: str = "json", days: tuple[str, str] | None = None) -> str:
    """The deployment's linkage report over ``days`` (first, last; by default the days around
    now), counting between the platforms from its own exchange audit, as the report page does
    with the channel on."""
    settings = Settings(ami_secret="x")
    linkage = LinkageService.for_settings(settings, one.redis, EventBus(), one.tickets, Outbox(one.redis, one.bus, ""))
    first, last = days or _days_around_now()
    _, body = await build_report(linkage, first, last, fmt, one.service.audit)
    return body


async def test_both_deployments_reports_agree_on_the_messages_between_them(deployments):
    hotline, police = deployments
    await exchange_a_days_messages(hotline, police, 21)  # 回流, 反馈, a push back, 督办: below

    hotline_report, police_report = json.loads(await report_of(hotline)), json.loads(await report_of(police))
    zero = dict.fromkeys(("一键转接", "三方通话", "系统推送", "回流", "签收", "反馈", "办结", "督办"), 0)
    expected = {
        "12345->110": {**zero, "系统推送": 3, "签收": 1, "督办": 1},  # 签收 of the push that came back
        "110->12345": {**zero, "一键转接": 1, "系统推送": 1, "回流": 2, "签收": 3, "反馈": 1, "办结": 1},
    }
    assert hotline_report["exchange"] == police_report["exchange"] == expected
    # 12345's handovers sent to 110 are 110's received from 12345, and each way back
    assert hotline_report["handovers"] == police_report["handovers"] == {
        "12345->110": {"一键转接": 0, "三方通话": 0, "系统推送": 3, "回流": 0},
        "110->12345": {"一键转接": 1, "三方通话": 0, "系统推送": 1, "回流": 2}}
    assert hotline_report["platforms"]["12345"]["bounced_in"] == police_report["platforms"]["12345"]["bounced_in"] == 2

    rows = list(csv.reader(io.StringIO(await report_of(police, "csv"))))
    assert ["exchange", "12345->110", "系统推送", "3"] in rows and ["exchange", "110->12345", "办结", "1"] in rows
    page = await report_of(hotline, "html")
    assert "交互通道" in page and "<td>110-&gt;12345</td>" in page


async def exchange_a_days_messages(hotline: Deployment, police: Deployment, first_no: int) -> None:
    """A day's messages both ways: 12345 pushes three cases (tickets ``first_no``..+2); 110
    bounces the first, writes back a result on the second, pushes the third back and hands a
    case of its own over by transfer; 12345 supervises the second."""
    ids = [f"12345-20261124-{n:06d}" for n in range(first_no, first_no + 3)]
    pushes = []
    for ticket_id in ids:
        await hotline.tickets.save(ticket_12345(id=ticket_id))
        pushes.append(await hotline.push.push(ticket_id, "110"))
    await hotline.settle(police)
    opened = [await police.pushed_ticket(p.push_id) for p in pushes]
    await police.service.bounce(opened[0], Peer("12345", ids[0]), "非警务类事项，退回12345")
    await police.service.write_back(BusEvent.of(LinkageResolved(
        ticket_id=opened[1].id, unit="QD-SN-BDH", site="110", resolved=True, on_time=True, summary="已处置")))
    await police.push.push(opened[2].id, "12345")
    theirs = ticket_110(id=f"110-20261124-{first_no:06d}")
    await police.tickets.save(theirs)
    await police.service.hand_over(theirs, "transfer", "12345")
    await hotline.service.supervise(ticket_12345(id=ids[1]), Peer("110", opened[1].id), "请于今日反馈")
    await hotline.settle(police)


async def test_a_yearly_report_counts_every_message_after_the_log_was_trimmed(deployments):
    hotline, police = deployments
    year_from = dt.datetime.fromtimestamp(hotline.clock.now, HOTLINE_ZONE).date() - dt.timedelta(days=100)
    year = (year_from.isoformat(), (year_from + dt.timedelta(days=364)).isoformat())  # the test's clock's, not today
    await exchange_a_days_messages(hotline, police, 51)
    hotline.clock.now += 24 * 3600  # the same again the next day (the clock is both deployments')
    await exchange_a_days_messages(hotline, police, 61)
    for one in (hotline, police):  # the log keeps its last few entries: a month ago's are gone
        await one.redis.xtrim(LOG, maxlen=3, approximate=False)

    zero = dict.fromkeys(("一键转接", "三方通话", "系统推送", "回流", "签收", "反馈", "办结", "督办"), 0)
    expected = {
        "12345->110": {**zero, "系统推送": 6, "签收": 2, "督办": 2},
        "110->12345": {**zero, "一键转接": 2, "系统推送": 2, "回流": 4, "签收": 6, "反馈": 2, "办结": 2},
    }
    hotline_report = json.loads(await report_of(hotline, days=year))
    police_report = json.loads(await report_of(police, days=year))
    assert hotline_report["exchange"] == police_report["exchange"] == expected
    assert hotline_report["handovers"] == police_report["handovers"] == {
        "12345->110": {"一键转接": 0, "三方通话": 0, "系统推送": 6, "回流": 0},
        "110->12345": {"一键转接": 2, "三方通话": 0, "系统推送": 2, "回流": 4}}
    # what counting the log alone gives now: far fewer
    start, end = parse_range(*year)
    for one in (hotline, police):
        from_log = exchange_ways(await one.service.audit.between(start, end), start, end)
        assert sum(map(sum, (row.values() for row in from_log.values()))) < sum(
            map(sum, (row.values() for row in expected.values())))


# --- the wiring ----------------------------------------------------------------------------


async def test_the_plugin_gives_the_timeline_and_the_report_their_ports_only_with_the_channel_on(tmp_path):
    (tmp_path / "two").mkdir()
    two = App(police_config(tmp_path / "two"))
    assert two[TIMELINE].peer is two[EXCHANGE].channel and two.services.get(EXCHANGE_LOG) is two[EXCHANGE].audit
    await two.redis.aclose()
    one = App(Settings(state_dir=tmp_path / "one", ami_secret="x"))  # one deployment, both platforms
    assert one[TIMELINE].peer is None and EXCHANGE_LOG not in one.services
    await one.redis.aclose()
