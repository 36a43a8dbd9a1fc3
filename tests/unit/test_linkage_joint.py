"""Joint handling (联合调处), a unit's own voice (progress, refuse, ask_police) and major
tickets, through ``LinkageService`` over a private Redis with a clock the test moves."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from redis.asyncio import Redis

from hotline_link.core.bus import EventBus
from hotline_link.core.errors import ConfigError
from linkage.errors import NoLead, NotDispatched, PoliceNotHandedOver, PoliceOwnPlatform, WrongStep
from linkage.policy import Leader, LinkageConfig, load_config, parse_leadership
from linkage.service import LinkageService
from tests.unit.test_linkage_loop import HOOKED_UNITS, TUESDAY, Clock, Originated, make, new_ticket, story
from tickets.redis_keys import outbox_job_key


@pytest.fixture
def clock() -> Clock:
    return Clock(TUESDAY)


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def linkage(private_redis: Redis, bus: EventBus, clock: Clock) -> LinkageService:
    return make(private_redis, bus, clock)


async def test_an_assisting_unit_has_its_own_part_and_the_leads_result_resolves(linkage, clock):
    ticket = await new_ticket(linkage, category="供水", summary="水管爆裂")
    with pytest.raises(NoLead):  # no lead holds the case yet
        await linkage.dispatch(ticket, "QD-GAS", "1001", "assisting")
    lead, new = await linkage.dispatch(ticket, "QD-WATER", "1001")
    assert new and lead["role"] == "lead"
    part, new = await linkage.dispatch(ticket, "QD-GAS", "1001", "assisting")
    assert new and part["unit"] == "QD-GAS" and part["role"] == "assisting" and part["state"] == "dispatched"
    again, new = await linkage.dispatch(ticket, "QD-GAS", "1001", "assisting")
    assert not new and again == part  # the same unit twice: no-op
    itself, new = await linkage.dispatch(ticket, "QD-WATER", "1001", "assisting")
    assert not new and itself["unit"] == "QD-WATER" and itself["role"] == "lead"
    assert (await linkage.record(ticket.id))["unit"] == "QD-WATER"  # the lead's record where it always was
    assert (await linkage.tickets.get(ticket.id)).handling_unit == "水务公司"
    # each part has its own deadlines
    assert (await linkage.deadlines.get(ticket.id, "accept")).unit == "QD-WATER"
    assert (await linkage.deadlines.get(ticket.id, "accept", "QD-GAS")).unit == "QD-GAS"
    clock.now += 60
    assert (await linkage.feedback(ticket.id, "QD-GAS", "accept", {}))["state"] == "accepted"
    assert (await linkage.record(ticket.id))["state"] == "dispatched"  # the lead's part is its own
    assert await linkage.deadlines.get(ticket.id, "accept", "QD-GAS") is None
    assert await linkage.deadlines.get(ticket.id, "accept") is not None
    await linkage.feedback(ticket.id, "QD-GAS", "arrival", {"situation": "燃气管线排查"})
    done = await linkage.feedback(ticket.id, "QD-GAS", "result", {"resolved": True, "summary": "已关阀"})
    assert done["state"] == "resolved"
    assert (await linkage.record(ticket.id))["state"] == "dispatched"  # an assisting result resolves nothing
    assert await linkage.redis.exists("hl:linkage:phone:" + ticket.id) == 0  # and asks no 回访
    await linkage.feedback(ticket.id, "QD-WATER", "accept", {})
    await linkage.feedback(ticket.id, "QD-WATER", "result", {"resolved": True, "summary": "已修复"})
    assert (await linkage.record(ticket.id))["state"] == "resolved"
    await linkage.callback(ticket, "满意", "1001")  # 回访 as today
    with pytest.raises(NoLead):  # not to a resolved case...
        await linkage.dispatch(ticket, "QD-POWER", "1001", "assisting")
    assert [r["unit"] for r in await linkage.assisting(ticket.id)] == ["QD-GAS"]
    events = await story(linkage, ticket.id)
    assert events.count("linkage.dispatched") == 2 and events.count("linkage.resolved") == 2


async def test_assisting_deadlines_are_supervised_on_their_own(private_redis, bus, clock):
    linkage = make(private_redis, bus, clock, HOOKED_UNITS)
    ticket = await new_ticket(linkage)
    await linkage.dispatch(ticket, "QD-WATER", "1001")
    await linkage.dispatch(ticket, "QD-GAS", "1001", "assisting")
    await linkage.feedback(ticket.id, "QD-WATER", "accept", {})
    clock.now += 301  # level 1: 5 minutes to accept; only the assisting unit is late
    done = await linkage.scanner.scan_once()
    assert [(d.unit, d.stage, d.assisting, what) for d, what in done] == [("QD-GAS", "accept", True, "supervised")]
    job = await private_redis.hgetall(outbox_job_key(f"supervise-{ticket.id}-accept-QD-GAS"))
    assert job, "a webhook unit's 督办 goes through the outbox, its job named by the unit"
    flag = (await linkage.deadlines.flags())[ticket.id]
    assert flag["flag"] == "supervised" and flag["unit"] == "QD-GAS"


async def test_progress_is_kept_and_each_note_is_on_the_timeline(linkage, clock):
    ticket = await new_ticket(linkage)
    await linkage.dispatch(ticket, "QD-WATER", "1001")
    with pytest.raises(WrongStep):  # accept first
        await linkage.feedback(ticket.id, "QD-WATER", "progress", {"note": "路上"})
    await linkage.feedback(ticket.id, "QD-WATER", "accept", {})
    with pytest.raises(Exception, match="field 'note' must be a non-empty string"):
        await linkage.feedback(ticket.id, "QD-WATER", "progress", {"note": "  "})
    await linkage.feedback(ticket.id, "QD-WATER", "progress", {"note": "正在关阀"})
    clock.now += 30
    record = await linkage.feedback(ticket.id, "QD-WATER", "progress", {"note": "抢修中"})
    assert record["state"] == "accepted" and record["progress"] == "抢修中"
    assert (await story(linkage, ticket.id)).count("linkage.progress") == 2


async def test_a_refused_lead_frees_the_ticket_and_alerts_the_supervisor(linkage, clock):
    ticket = await new_ticket(linkage)
    await linkage.dispatch(ticket, "QD-WATER", "1001")
    with pytest.raises(Exception, match="field 'reason'"):
        await linkage.feedback(ticket.id, "QD-WATER", "refuse", {})
    record = await linkage.feedback(ticket.id, "QD-WATER", "refuse", {"reason": "不属于供水管网"})
    assert record["state"] == "refused" and record["refusal"] == "不属于供水管网"
    assert await linkage.deadlines.get(ticket.id, "accept") is None
    assert (await linkage.deadlines.flags())[ticket.id]["flag"] == "refused"
    assert (await linkage.feedback(ticket.id, "QD-WATER", "refuse", {"reason": "again"}))["refusal"] == \
        "不属于供水管网"  # refusing twice records nothing
    with pytest.raises(WrongStep):
        await linkage.feedback(ticket.id, "QD-WATER", "accept", {})
    events = await story(linkage, ticket.id)
    assert "linkage.refused" in events and "linkage.supervisor_alert" in events
    record, new = await linkage.dispatch(ticket, "QD-GAS", "1001")  # a new dispatch
    assert new and record["unit"] == "QD-GAS" and record["state"] == "dispatched"
    assert ticket.id not in await linkage.deadlines.flags()  # "dispatch it anew" is done with


async def test_ask_police_publishes_once_and_is_refused_where_it_cannot_go(linkage, bus, clock):
    ticket = await new_ticket(linkage)
    await linkage.dispatch(ticket, "QD-WATER", "1001")
    with bus.subscribe() as sub:
        record = await linkage.feedback(ticket.id, "QD-WATER", "ask_police", {"note": "有人持刀"})
        assert record["police_asked_at"]
        await linkage.feedback(ticket.id, "QD-WATER", "ask_police", {})  # asked already: nothing new
    asked = [e for e in sub.seen if e.name == "linkage.police_requested"]
    assert [e.data for e in asked] == [{"ticket_id": ticket.id, "unit": "QD-WATER", "site": "12345",
                                        "note": "有人持刀"}]
    secret = await new_ticket(linkage, restricted=True)
    await linkage.dispatch(secret, "QD-WATER", "1001")
    with pytest.raises(PoliceNotHandedOver):
        await linkage.feedback(secret.id, "QD-WATER", "ask_police", {})
    police = await linkage.tickets.open_for_call("110", "call-of-110", caller="13800001111")
    await linkage.dispatch(police, "QD-WATER", "1001")
    with pytest.raises(PoliceOwnPlatform):
        await linkage.feedback(police.id, "QD-WATER", "ask_police", {})
    with pytest.raises(NotDispatched):
        await linkage.feedback((await new_ticket(linkage)).id, "QD-WATER", "ask_police", {})


async def test_dispatching_a_major_ticket_tells_the_leadership(private_redis, bus, clock):
    linkage = make(private_redis, bus, clock, HOOKED_UNITS)
    leaders = (Leader("市政府总值班室", phone="77998"),
               Leader("应急管理局", webhook_url="https://ema.example/hook", secret_ref="unit_secret_ema"))
    linkage.config = linkage.dispatcher.config = _with_leaders(linkage, leaders)
    originated = Originated()
    linkage.attach_phone(originated)
    normal = await new_ticket(linkage)
    await linkage.dispatch(normal, "QD-WATER", "1001")
    assert "linkage.leadership_notified" not in await story(linkage, normal.id)
    calls_before = len(originated.actions)
    major = await new_ticket(linkage, severity="major")
    await linkage.dispatch(major, "QD-GAS", "1001")
    events = await story(linkage, major.id)
    assert "linkage.leadership_notified" in events and "linkage.supervisor_alert" in events
    job = await private_redis.hgetall(outbox_job_key(f"major-{major.id}-QD-GAS-应急管理局"))
    assert job and json.loads(job["body"])["kind"] == "major_incident"
    dialled = [a for a in originated.actions[calls_before:] if "77998" in json.dumps(a)]
    assert dialled, "the leader with a phone is called"
    said = json.dumps(dialled[0], ensure_ascii=False)  # a report to acknowledge, not a dispatch to accept
    assert "major_intro" in said and "major_press" in said and "dispatch_press" not in said, said
    await linkage.dispatch(major, "QD-WATER", "1001", "assisting")  # an assisting unit tells no one again
    assert (await story(linkage, major.id)).count("linkage.leadership_notified") == 1


def _with_leaders(linkage: LinkageService, leaders: tuple[Leader, ...]) -> LinkageConfig:
    return dataclasses.replace(linkage.config, leadership=leaders)


def test_the_shipped_settings_name_a_leadership_contact():
    assert load_config(None).leadership == (Leader("市政府总值班室", phone="77998"),)


@pytest.mark.parametrize("tables, message", [
    ([{"phone": "1"}], "leadership[1].name: expected a non-empty string"),
    ([{"name": "a", "phone": "12a"}], "leadership[1].phone: expected digits"),
    ([{"name": "a"}], "leadership[1]: expected a phone, a webhook_url or both"),
    ([{"name": "a", "webhook_url": "https://x.example/h"}], "leadership[1]: a webhook_url needs its secret_ref"),
    ([{"name": "a", "phone": "1"}, {"name": "b", "webhook_url": "ftp://x"}], "leadership[2].webhook_url"),
    ([{"name": "a", "phone": "1", "email": "x"}], "leadership[1]: unknown keys email"),
    ({"name": "a"}, "leadership: expected"),
])
def test_a_malformed_leadership_table_is_refused_with_its_place(tables, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_leadership(tables)
