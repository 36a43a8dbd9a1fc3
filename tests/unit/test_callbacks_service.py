"""The callback queue's store and service on a real redis-server, with a stand-in for AMI
(it records each Originate and can refuse) and a clock the test moves: the exact
Originate, the seat claimed and freed, the ticket linked to the call before it is placed,
retries, missed calls (answered since: skipped; withheld: never; opted out: never), the
timeline and the report log, the leader lease, and AMI events that do not parse."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from types import SimpleNamespace
from typing import Any

import pytest
from redis.asyncio import Redis

from call_control.callbacks.config import CallbacksConfig
from call_control.callbacks.missed import MissedCalls
from call_control.callbacks.service import CallbackService, callback_leg
from call_control.callbacks.state import Stage
from call_control.callbacks.store import CallbackStore
from hotline_link.asterisk.ami.manager import AmiEvent
from hotline_link.core.bus import BusEvent, EventBus
from hotline_link.core.errors import AmiError
from hotline_link.core.events import (
    CallAnswered,
    CallbackStep,
    CallEnded,
    CallMissed,
    CallRouted,
    CallStarted,
    QueueJoined,
    TicketCallbackRequested,
)
from linkage.redis_keys import LinkageKeys
from seat_pool.store import SeatStore, claim_key
from seat_pool.waiting import WaitingQueue
from tickets.redis_keys import ticket_calls_key
from tickets.store import TicketStore
from tickets.timeline import TicketTimeline

CITIZEN = "13812345678"
SITE = "12345"
AGENTS = ("1001", "1002")


class FakeAmi:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.refuse: Exception | None = None

    async def originate(self, site: str, action: Mapping[str, Any]) -> dict[str, str]:
        if self.refuse is not None:
            raise self.refuse
        self.sent.append((site, dict(action)))
        return {"Response": "Success"}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _user_event(stage: str, request_id: str, channel: str = "", **more: str) -> AmiEvent:
    fields = {"Event": "UserEvent", "UserEvent": "HotlineCallback", "Callback": request_id, "Stage": stage, **more}
    if channel:
        fields["Linkedid"] = channel
    return AmiEvent(SITE, "UserEvent", fields)


@pytest.fixture
async def world(private_redis: Redis) -> AsyncIterator[SimpleNamespace]:
    clock = Clock(time.time())  # the timeline stamps the number's calls with the real time
    bus = EventBus()
    tickets = TicketStore(private_redis)
    seats = SeatStore(private_redis, claim_ttl_s=20)
    queue = WaitingQueue(private_redis, stale_after_s=5.0)
    ami = FakeAmi()
    keys = LinkageKeys()
    steps: list[CallbackStep] = []
    bus.listen(lambda e: steps.append(e.as_(CallbackStep)) if e.is_(CallbackStep) else None)

    async def opted_out(identity: str) -> bool:
        return bool(await private_redis.sismember(keys.callback_optout, identity))

    config = CallbacksConfig(callback_attempts=2, callback_retry_s=300.0, callback_agent_retry_s=30.0,
                             callback_agent_ring_s=20, missed_callback_minutes=30, callback_calling_hours=False)
    service = CallbackService(private_redis, bus, tickets, seats, queue, ami.originate, config=config,
                              agents={SITE: AGENTS}, opted_out=opted_out, clock=clock, report_log=keys.events,
                              instance="instance-a")
    for agent in AGENTS:
        await seats.update(SITE, agent, registered=True, device_state="NOT_INUSE")
    yield SimpleNamespace(redis=private_redis, clock=clock, bus=bus, tickets=tickets, seats=seats, queue=queue,
                          ami=ami, service=service, steps=steps, keys=keys, config=config)


async def _ticket(world: SimpleNamespace, call_id: str = "ivr-call-1", caller: str = CITIZEN) -> str:
    ticket = await world.tickets.open_for_call(SITE, call_id, category="回电请求", summary="请回电", caller=caller)
    return str(ticket.id)


async def test_an_ivr_request_is_offered_with_the_exact_originate(world: SimpleNamespace):
    ticket_id = await _ticket(world)
    request = await world.service.request(SITE, CITIZEN, source="ivr", ticket_id=ticket_id, call_id="ivr-call-1")
    assert request is not None and request.stage is Stage.PENDING
    assert await world.service.offer_due(SITE) == 1
    [(site, action)] = world.ami.sent
    channel_id = action["ChannelId"]
    assert site == SITE and len(channel_id) == 32
    assert action == {
        "Action": "Originate", "ActionID": channel_id, "Channel": "PJSIP/1001", "Context": "callback-out",
        "Exten": CITIZEN, "Priority": "1", "Async": "true", "ChannelId": channel_id, "Timeout": "20000",
        "CallerID": "\"回电 138****5678\" <13812345678>",
        "Variable": [f"HL_CALLBACK={request.id}", f"TICKET={ticket_id}"]}
    # the seat is claimed by the call (the router passes it by) and the ticket knows the call
    assert await world.redis.get(claim_key(SITE, "1001")) == channel_id
    assert (await world.tickets.for_call(channel_id)).id == ticket_id
    assert channel_id in await world.redis.smembers(ticket_calls_key(ticket_id))
    stored = await world.service.store.get(request.id)
    assert (stored.stage, stored.agent, stored.channel_id) == (Stage.AGENT_RINGING, "1001", channel_id)
    # a second look offers nothing more: the request is under way and 1001 is claimed
    assert await world.service.offer_due(SITE) == 0 and len(world.ami.sent) == 1

    await world.service.on_user_event(_user_event("agent_answered", request.id, channel_id))
    await world.service.on_user_event(_user_event("connected", request.id, channel_id))
    done = await world.service.store.get(request.id)
    assert (done.stage, done.attempts) == (Stage.DONE, 1)
    assert await world.service.open_requests(SITE) == []
    assert [s.step for s in world.steps] == ["requested", "offered", "agent_answered", "connected"]
    assert world.steps[-1].pending == 0 and world.steps[0].pending == 1
    # on the ticket's timeline (its callbacks leg) and in the report's log, no number in either
    story = [e["data"]["step"] for e in await TicketTimeline(world.redis, world.tickets, world.bus, frozenset())
             .for_call(callback_leg(ticket_id))]
    assert story == ["requested", "offered", "agent_answered", "connected"]
    assert callback_leg(ticket_id) in await world.redis.smembers(ticket_calls_key(ticket_id))
    logged = await world.redis.xrange(world.keys.events)
    assert [f["event"] for _, f in logged] == ["callback.step"] * 4
    assert all(CITIZEN not in f["data"] for _, f in logged)


async def test_the_bus_request_of_the_ivr_and_of_the_web_merge_into_one(world: SimpleNamespace):
    world.service._events.start()
    try:
        ivr_ticket = await _ticket(world)
        web_ticket = await _ticket(world, call_id="web-ticket-call")
        world.bus.emit(TicketCallbackRequested(ticket_id=ivr_ticket, call_id="ivr-call-1", site=SITE,
                                               caller="138****5678", category="回电请求"))
        world.bus.emit(TicketCallbackRequested(ticket_id=web_ticket, call_id="", site=SITE,
                                               caller="138****5678", category="回电请求"))
        world.bus.emit(TicketCallbackRequested(ticket_id="12345-20000101-000404", call_id="", site=SITE,
                                               caller="", category=""))  # no such ticket: ignored
        await world.service._events.stop(drain_s=5.0)
    finally:
        await world.service._events.stop()
    [request] = await world.service.open_requests(SITE)
    assert (request.ticket_id, request.tickets, request.sources) == (ivr_ticket, (web_ticket,), ("ivr", "web"))
    assert [s.step for s in world.steps] == ["requested", "merged"]


async def test_agent_not_answering_frees_the_seat_and_another_agent_gets_it(world: SimpleNamespace):
    request = await world.service.request(SITE, CITIZEN, source="web", ticket_id=await _ticket(world))
    await world.service.offer_due(SITE)
    first = world.ami.sent[0][1]["ChannelId"]
    await world.service.on_originate_response(AmiEvent(SITE, "OriginateResponse", {
        "Response": "Failure", "ActionID": first, "Uniqueid": "<null>", "Reason": "3"}))
    back = await world.service.store.get(request.id)
    assert (back.stage, back.attempts, back.declined) == (Stage.PENDING, 0, ("1001",))
    assert await world.redis.get(claim_key(SITE, "1001")) is None
    assert await world.service.offer_due(SITE) == 0  # not due before agent_retry_s
    world.clock.now += 30
    assert await world.service.offer_due(SITE) == 1
    assert world.ami.sent[1][1]["Channel"] == "PJSIP/1002"
    assert [s.step for s in world.steps] == ["requested", "offered", "agent_no_answer", "offered"]
    assert world.steps[2].agent == "1001" and world.steps[3].agent == "1002"


async def test_busy_citizen_is_retried_after_the_spacing_then_fails(world: SimpleNamespace):
    request = await world.service.request(SITE, CITIZEN, source="web", ticket_id=await _ticket(world))
    for attempt in (1, 2):
        assert await world.service.offer_due(SITE) == 1
        channel = world.ami.sent[-1][1]["ChannelId"]
        await world.service.on_originate_response(AmiEvent(SITE, "OriginateResponse", {
            "Response": "Success", "ActionID": channel, "Uniqueid": channel}))
        await world.service.on_user_event(_user_event("unanswered", request.id, channel, Status="BUSY"))
        after = await world.service.store.get(request.id)
        assert after.attempts == attempt
        if attempt == 1:
            assert (after.stage, after.due_at) == (Stage.RETRY, world.clock.now + 300)
            assert await world.service.offer_due(SITE) == 0  # the spacing
            world.clock.now += 300
            # the agent's call ended: its device is idle again (its claim went when it rang)
            await world.redis.delete(claim_key(SITE, "1001"), claim_key(SITE, "1002"))
    assert after.stage is Stage.FAILED and after.reason == "BUSY"
    assert await world.service.open_requests(SITE) == []
    assert [s.step for s in world.steps if s.step in ("unanswered", "failed")] == ["unanswered", "failed"]


async def test_originate_refused_by_asterisk_frees_the_seat(world: SimpleNamespace):
    world.ami.refuse = AmiError("AMI not connected")
    request = await world.service.request(SITE, CITIZEN, source="web", ticket_id=await _ticket(world))
    await world.service.offer_due(SITE)
    after = await world.service.store.get(request.id)
    assert (after.stage, after.attempts) == (Stage.PENDING, 0)
    assert await world.redis.get(claim_key(SITE, "1001")) is None


async def test_inbound_callers_waiting_and_busy_agents_hold_callbacks_back(world: SimpleNamespace):
    await world.service.request(SITE, CITIZEN, source="web", ticket_id=await _ticket(world))
    await world.queue.join(SITE, "inbound-1", world.clock.now, False)
    assert await world.service.offer_due(SITE) == 0 and world.ami.sent == []
    await world.queue.leave(SITE, "inbound-1")
    for agent in AGENTS:  # a caller's router claimed each seat
        assert await world.seats.claim(SITE, agent, f"call-{agent}")
    assert await world.service.offer_due(SITE) == 0 and world.ami.sent == []
    await world.seats.release(SITE, "1002", "call-1002")
    assert await world.service.offer_due(SITE) == 1 and world.ami.sent[0][1]["Channel"] == "PJSIP/1002"


async def test_outside_the_calling_hours_a_request_waits_for_the_window(world: SimpleNamespace):
    opens = world.clock.now + 3600
    world.service.window = lambda at: max(at, opens)
    request = await world.service.request(SITE, CITIZEN, source="web", ticket_id=await _ticket(world))
    assert await world.service.offer_due(SITE) == 0
    assert (await world.service.store.get(request.id)).due_at == opens
    world.clock.now = opens
    assert await world.service.offer_due(SITE) == 1


async def test_a_quiet_attempt_is_given_up_and_requeued(world: SimpleNamespace):
    request = await world.service.request(SITE, CITIZEN, source="web", ticket_id=await _ticket(world))
    await world.service.offer_due(SITE)
    world.clock.now += world.service.policy.offer_timeout_s
    await world.service.offer_due(SITE)
    after = await world.service.store.get(request.id)
    assert (after.stage, after.reason, after.attempts) == (Stage.PENDING, "no_report", 0)


async def _missed(world: SimpleNamespace, call_id: str = "missed-1", caller: str = CITIZEN) -> Any:
    return await world.service.missed(CallMissed(call_id=call_id, site=SITE, caller=caller,
                                                 ended_at=world.clock.now))


async def test_a_missed_call_is_called_back_with_a_ticket_opened_then(world: SimpleNamespace):
    request = await _missed(world)
    assert (request.source, request.ticket_id, request.deadline) == ("missed", "", world.clock.now + 1800)
    # not before the grace: the caller may call again at once
    assert request.due_at == world.clock.now + world.config.missed_callback_grace_s
    assert await world.service.offer_due(SITE) == 0 and world.ami.sent == []
    world.clock.now += world.config.missed_callback_grace_s
    assert await world.service.offer_due(SITE) == 1
    action = world.ami.sent[0][1]
    ticket = await world.tickets.for_call("missed-1")
    assert ticket is not None and ticket.caller == CITIZEN and action["Variable"][1] == f"TICKET={ticket.id}"
    assert (await world.tickets.for_call(action["ChannelId"])).id == ticket.id


async def test_a_missed_call_answered_since_is_skipped(world: SimpleNamespace):
    timeline = TicketTimeline(world.redis, world.tickets, world.bus, frozenset({SITE}))
    timeline.start()
    try:
        request = await _missed(world)
        world.bus.emit(CallStarted("again-1", SITE, CITIZEN, SITE, "PJSIP/trunk-1", resynced=False))
        world.bus.emit(CallAnswered("again-1", SITE, CITIZEN, "PJSIP/1002", wait_s=3.0))
        await timeline.flush()
    finally:
        await timeline.stop()
    world.clock.now += world.config.missed_callback_grace_s
    assert await world.service.offer_due(SITE) == 0 and world.ami.sent == []
    after = await world.service.store.get(request.id)
    assert (after.stage, after.reason) == (Stage.SKIPPED, "answered")
    assert [(s.step, s.reason, s.source) for s in world.steps] == [("requested", "missed", "missed"),
                                                                  ("skipped", "answered", "missed")]


async def test_a_missed_call_opted_out_is_never_called(world: SimpleNamespace):
    await world.redis.sadd(world.keys.callback_optout, CITIZEN)
    request = await _missed(world)
    world.clock.now += world.config.missed_callback_grace_s
    assert await world.service.offer_due(SITE) == 0 and world.ami.sent == []
    assert (await world.service.store.get(request.id)).reason == "opted_out"


async def test_a_withheld_number_is_never_queued(world: SimpleNamespace):
    for caller in ("", "anonymous", "<unknown>"):
        assert await _missed(world, caller=caller) is None
    for number in ("110", "12345", "95598", "0085212345678", "1234567890123"):  # not a citizen's phone
        assert await world.service.request(SITE, number, source="web", ticket_id="t") is None, number
    assert await world.service.request(SITE, "", source="web", ticket_id="t") is None
    assert await world.service.open_requests(SITE) == []
    assert await world.service.request(SITE, "83456789", source="web", ticket_id="t") is not None  # a landline


async def test_missed_call_callbacks_can_be_turned_off(world: SimpleNamespace):
    world.service.config = world.config.model_copy(update={"missed_callback_minutes": 0})
    assert await _missed(world) is None


async def test_a_second_request_while_one_is_under_way_merges(world: SimpleNamespace):
    first = await world.service.request(SITE, CITIZEN, source="web", ticket_id=await _ticket(world))
    await world.service.offer_due(SITE)
    again = await _missed(world, call_id="missed-2")
    assert again.id == first.id and again.stage is Stage.AGENT_RINGING and again.sources == ("web", "missed")
    assert len(await world.service.open_requests(SITE)) == 1


async def test_a_new_request_after_the_last_one_ended_is_a_new_one(world: SimpleNamespace):
    first = await world.service.request(SITE, CITIZEN, source="web", ticket_id=await _ticket(world))
    await world.service.offer_due(SITE)
    channel = world.ami.sent[0][1]["ChannelId"]
    await world.service.on_user_event(_user_event("agent_answered", first.id, channel))
    await world.service.on_user_event(_user_event("connected", first.id, channel))
    second = await world.service.request(SITE, CITIZEN, source="web", ticket_id=await _ticket(world, "t2"))
    assert second.id != first.id and second.stage is Stage.PENDING


@pytest.mark.parametrize("fields", [
    {"UserEvent": "HotlineCallback", "Stage": "connected"},  # no callback id
    {"UserEvent": "HotlineCallback", "Callback": "cb-unknown", "Stage": "connected"},
    {"UserEvent": "HotlineCallback", "Callback": "{id}", "Stage": "exploded"},
    {"UserEvent": "HotlineCallback", "Callback": "{id}", "Stage": "connected", "Linkedid": "other-call"},
    {"UserEvent": "HotlineCallback", "Callback": "{id}" + "x" * 100, "Stage": "connected"},
    {"UserEvent": "HotlineAsk", "Ask": "{id}", "Stage": "key"},
    {},
])
async def test_ami_events_that_do_not_parse_change_nothing(world: SimpleNamespace, fields: dict[str, str]):
    request = await world.service.request(SITE, CITIZEN, source="web", ticket_id=await _ticket(world))
    await world.service.offer_due(SITE)
    before = await world.service.store.get(request.id)
    await world.service.on_user_event(AmiEvent(SITE, "UserEvent",
                                               {k: v.replace("{id}", request.id) for k, v in fields.items()}))
    await world.service.on_originate_response(AmiEvent(SITE, "OriginateResponse", {"Response": "Failure",
                                                                                     "ActionID": "not-ours"}))
    await world.service.on_originate_response(AmiEvent(SITE, "OriginateResponse", {
        "Response": "Strange", "ActionID": before.channel_id}))
    assert await world.service.store.get(request.id) == before


async def test_one_instance_leads_a_site(world: SimpleNamespace):
    store = CallbackStore(world.redis)
    assert await store.lead(SITE, "instance-a", 3000)
    assert not await store.lead(SITE, "instance-b", 3000)
    assert await store.lead(SITE, "instance-a", 3000)  # renewed
    await world.service.request(SITE, CITIZEN, source="web", ticket_id=await _ticket(world))
    other = CallbackService(world.redis, world.bus, world.tickets, world.seats, world.queue, world.ami.originate,
                            config=world.config, agents={SITE: AGENTS}, opted_out=lambda _: asyncio.sleep(0, False),
                            clock=world.clock, instance="instance-b")
    await other.tick()
    assert world.ami.sent == []  # b does not lead
    await world.service.tick()
    assert len(world.ami.sent) == 1


async def test_two_instances_hearing_the_same_event_apply_it_once(world: SimpleNamespace):
    request = await world.service.request(SITE, CITIZEN, source="web", ticket_id=await _ticket(world))
    await world.service.offer_due(SITE)
    channel = world.ami.sent[0][1]["ChannelId"]
    event = _user_event("agent_answered", request.id, channel)
    await asyncio.gather(world.service.on_user_event(event), world.service.on_user_event(event))
    assert [s.step for s in world.steps].count("agent_answered") == 1


def test_missed_calls_are_told_from_the_bus():
    bus = EventBus()
    missed: list[BusEvent] = []
    bus.listen(lambda e: missed.append(e) if e.is_(CallMissed) else None)
    MissedCalls(bus, frozenset({SITE}), lambda: 42.0).attach()
    # queued, hung up: missed
    bus.emit(CallStarted("q1", SITE, CITIZEN, SITE, "PJSIP/trunk-1", resynced=False))
    bus.emit(QueueJoined(call_id="q1", site=SITE, emergency=False, position=1))
    bus.emit(CallEnded("q1", SITE, CITIZEN, None, "16", "hangup", 30.0))
    # rang a seat, answered: not missed
    bus.emit(CallStarted("r1", SITE, CITIZEN, SITE, "PJSIP/trunk-1", resynced=False))
    bus.emit(CallRouted(call_id="r1", site=SITE, seat="1001", outcome="seat"))
    bus.emit(CallAnswered("r1", SITE, CITIZEN, "PJSIP/1001", wait_s=2.0))
    bus.emit(CallEnded("r1", SITE, CITIZEN, "PJSIP/1001", "16", "hangup", 60.0))
    # self-service in the IVR only (never asked for an agent): not missed
    bus.emit(CallStarted("i1", SITE, CITIZEN, SITE, "PJSIP/trunk-1", resynced=False))
    bus.emit(CallEnded("i1", SITE, CITIZEN, None, "16", "hangup", 20.0))
    # rang a seat, hung up while ringing: missed; another platform's queue: not ours
    bus.emit(CallRouted(call_id="r2", site=SITE, seat="1002", outcome="seat"))
    bus.emit(CallEnded("r2", SITE, "13900001111", None, "16", "hangup", 9.0))
    bus.emit(QueueJoined(call_id="o1", site="110", emergency=False, position=1))
    bus.emit(CallEnded("o1", "110", CITIZEN, None, "16", "hangup", 9.0))
    assert [e.as_(CallMissed) for e in missed] == [
        CallMissed(call_id="q1", site=SITE, caller=CITIZEN, ended_at=42.0),
        CallMissed(call_id="r2", site=SITE, caller="13900001111", ended_at=42.0)]
