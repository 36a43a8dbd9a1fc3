"""The three-way call service performing its state machine's actions: AMI actions sent,
bus events published, the API's errors. Pure: a recording stand-in for the AMI manager,
a real bus, no Asterisk and no Redis."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import pytest

from call_control.conference import service as conference_service
from call_control.conference.service import Conference, ConferenceService
from call_control.conference.state import ConferenceState
from call_control.errors import (
    AsteriskRefused,
    CallerWouldBeAlone,
    NoAnswer,
    NotInConference,
    NotYourCall,
)
from hotline_link.asterisk.ami.manager import AmiEvent
from hotline_link.core.bus import EventBus
from hotline_link.core.errors import AmiError

CALLER = ("c-uid", "PJSIP/anonymous-01")
AGENT = ("a-uid", "PJSIP/1001-02")
THIRD = ("third-uid", "Local/110@conference-out-03;1")
INTAKE = {"Context": "intake", "Exten": "s", "Priority": "1"}


class RecordingAmi:
    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.sent: list[dict[str, Any]] = []
        self.refuse = refuse
        self.on_send: dict[str, Any] = {}  # action name -> coroutine function run as it is sent

    async def send(self, site: str, action: dict[str, Any], **_: object) -> dict[str, str]:
        self.sent.append(dict(action))
        if action["Action"] in self.on_send:
            await self.on_send[action["Action"]]()
        if action["Action"] in self.refuse:
            raise AmiError(f"{action['Action']} refused")
        return {}


def service_with(state: ConferenceState, *members: tuple[str, str], refuse: tuple[str, ...] = ()):
    bus, ami, seen = EventBus(), RecordingAmi(refuse), []
    bus.listen(lambda e: seen.append((e.name, e.data)))
    service = ConferenceService(SimpleNamespace(ami=ami, bus=bus))  # type: ignore[arg-type]
    conf = Conference("hl1", "call-1", "12345", "t-1", "110", CALLER[0], THIRD[0], "act")
    conf.members, conf.state = dict(members), state
    service.rooms[("12345", "hl1")] = conf
    return service, conf, ami, seen


def ami_event(name: str, **fields: str) -> AmiEvent:
    return AmiEvent("12345", name, {"Conference": "hl1", **fields})


def payload(party: str, state: str, parties: list[str]) -> dict[str, object]:
    return {"party": party, "site": "12345", "call_id": "call-1", "room": "hl1", "ticket_id": "t-1",
            "target": "110", "state": state, "parties": parties}


async def test_the_target_joining_is_published_with_the_room_as_it_is_then():
    service, conf, _, seen = service_with(ConferenceState.DIALLING, CALLER, AGENT)
    await service.on_join(ami_event("ConfbridgeJoin", Uniqueid=THIRD[0], Channel=THIRD[1]))
    assert conf.state is ConferenceState.JOINED and conf.view().state == "joined"
    assert seen == [("conference.joined", payload("110", "joined", ["1001", "110", "caller"]))]


async def test_the_last_agent_hanging_up_returns_the_caller_to_intake():
    service, conf, ami, seen = service_with(ConferenceState.JOINED, CALLER, THIRD)
    await service.on_leave(ami_event("ConfbridgeLeave", Uniqueid=THIRD[0], Channel=THIRD[1]))
    assert seen == [("conference.left", payload("110", "joined", ["caller"]))]
    assert ami.sent == [{"Action": "Redirect", "Channel": CALLER[1], **INTAKE}]
    assert service.of_call("call-1") is conf  # the room lives until Asterisk ends it


async def test_the_room_ending_while_the_target_rings_hangs_it_up_and_forgets_the_room():
    service, conf, ami, seen = service_with(ConferenceState.DIALLING, refuse=("Hangup",))
    await service.on_end(ami_event("ConfbridgeEnd"))
    assert ami.sent == [{"Action": "Hangup", "Channel": THIRD[0]}]  # its failure changes nothing
    assert seen == [("conference.ended", payload("", "ended", []))]
    assert conf.state is ConferenceState.ENDED and service.rooms == {} and service.of_call("call-1") is None


async def test_a_failed_originate_gives_up_on_the_target_and_a_lone_caller_goes_back():
    service, conf, ami, seen = service_with(ConferenceState.DIALLING, CALLER)
    other = AmiEvent("12345", "OriginateResponse", {"ActionID": "other", "Response": "Failure"})
    await service.on_originate_response(other)
    await service.on_originate_response(AmiEvent("12345", "OriginateResponse",
                                                 {"ActionID": "act", "Response": "Success"}))
    assert conf.state is ConferenceState.DIALLING and ami.sent == []
    await service.on_originate_response(AmiEvent("12345", "OriginateResponse",
                                                 {"ActionID": "act", "Response": "Failure", "Reason": "5"}))
    assert conf.state is ConferenceState.NO_ANSWER and seen == []
    assert ami.sent == [{"Action": "Redirect", "Channel": CALLER[1], **INTAKE}]


async def test_leave_kicks_an_agent_another_stays_with():
    service, conf, ami, _ = service_with(ConferenceState.JOINED, CALLER, AGENT, THIRD)
    assert await service.leave("call-1", "1001", "1001") is conf
    assert ami.sent == [{"Action": "ConfbridgeKick", "Conference": "hl1", "Channel": AGENT[1]}]
    assert conf.members == dict([CALLER, AGENT, THIRD])  # until Asterisk says it left


@pytest.mark.parametrize("state, members, agent, party, error, status, code, message", [
    (ConferenceState.DIALLING, [CALLER, AGENT], "1001", "1001", CallerWouldBeAlone, 409, "caller_would_be_alone",
     "1001 is the caller's last party in room hl1"),
    (ConferenceState.DIALLING, [CALLER, AGENT], "1001", "2002", NotYourCall, 403, "not_your_call",
     "agent 1001 may take only itself out of the conference"),
    (ConferenceState.JOINED, [CALLER, THIRD], "1001", "1001", NotInConference, 404, "not_in_conference",
     "1001 is not in room hl1"),
    (ConferenceState.ENDED, [CALLER, AGENT, THIRD], "1001", "1001", NotInConference, 404, "not_in_conference",
     "call call-1 has no three-way call"),
])
async def test_leave_refusals_are_the_apis(state, members, agent, party, error, status, code, message):
    service, _, ami, _ = service_with(state, *members)
    with pytest.raises(error) as refused:
        await service.leave("call-1", agent, party)
    assert (refused.value.status, refused.value.code, str(refused.value)) == (status, code, message)
    assert ami.sent == []


async def test_leave_that_asterisk_refuses():
    service, _, _, _ = service_with(ConferenceState.JOINED, CALLER, AGENT, THIRD, refuse=("ConfbridgeKick",))
    with pytest.raises(AsteriskRefused, match=r"^Asterisk did not take 1001 out of room hl1: ConfbridgeKick refused$"):
        await service.leave("call-1", "1001", "1001")


# start(), over a stand-in context: who is on the call, the ticket, the lock

@pytest.fixture
def starting(monkeypatch):
    monkeypatch.setattr(conference_service, "JOIN_TIMEOUT_S", 0.2)
    bus, ami, seen = EventBus(), RecordingAmi(), []
    bus.listen(lambda e: seen.append((e.name, e.data)))
    ticket = SimpleNamespace(id="t-1", room="hl1", category="治安", summary="s", restricted=False, site="12345")

    async def open_for_call(site: str, call_id: str) -> SimpleNamespace:
        return ticket

    async def record_handover(ticket_id: str, platform: str) -> None:
        seen.append(("handover", {"ticket_id": ticket_id, "platform": platform}))

    @asynccontextmanager
    async def hold(call_id: str, operation: str):  # type: ignore[no-untyped-def]
        yield

    call = SimpleNamespace(site="12345", caller="13800000000", channels={CALLER[0]: CALLER[1]})
    monkeypatch.setattr(conference_service, "require_agent_call", lambda book, call_id, agent: (call, AGENT[1],
                                                                                                CALLER[0]))
    ctx = SimpleNamespace(
        ami=ami, bus=bus, book=None, locks=SimpleNamespace(hold=hold),
        tickets=SimpleNamespace(open_for_call=open_for_call, record_handover=record_handover),
        settings=SimpleNamespace(site=lambda site: SimpleNamespace(id="12345", intake="12345"),
                                 directory={"110": "110"}, sites={}, conference_ring_s=-4.8))
    monkeypatch.setattr(conference_service, "resolve_target",
                        lambda directory, target, intake: SimpleNamespace(name=target, number=target))
    monkeypatch.setattr(conference_service, "receiving_platform", lambda sites, destination: destination.name)
    service = ConferenceService(ctx)  # type: ignore[arg-type]

    async def join(uid: str, channel: str) -> None:
        await service.on_join(ami_event("ConfbridgeJoin", Uniqueid=uid, Channel=channel))

    async def both_join() -> None:
        await join(*CALLER)
        await join(*AGENT)

    ami.on_send["Redirect"] = both_join
    return SimpleNamespace(service=service, ami=ami, seen=seen, join=join)


def third_id(ami: RecordingAmi) -> str:
    return next(a["ChannelId"] for a in ami.sent if a["Action"] == "Originate")


async def test_start_moves_both_in_dials_the_target_and_waits_for_it(starting):
    async def answered() -> None:
        async def later() -> None:
            await starting.join(third_id(starting.ami), THIRD[1])
        asyncio.get_running_loop().call_later(0.01, lambda: asyncio.ensure_future(later()))
    starting.ami.on_send["Originate"] = answered
    conf = await starting.service.start("call-1", "1001", "110")
    assert conf.state is ConferenceState.JOINED and conf.view().parties == ["1001", "110", "caller"]
    assert [a["Action"] for a in starting.ami.sent] == ["Setvar", "Redirect", "Originate"]
    names = [name for name, _ in starting.seen]
    assert names == ["handover", "conference.joined", "conference.joined", "conference.dialling",
                     "conference.joined"]
    assert starting.seen[3][1] == payload("1001", "dialling", ["1001", "caller"])


async def test_start_is_dialling_before_the_originate_is_sent(starting):
    states = []

    async def originate() -> None:
        states.append(starting.service.of_call("call-1").state)
    starting.ami.on_send["Originate"] = originate
    conf = await starting.service.start("call-1", "1001", "110", wait=False)
    assert states == [ConferenceState.DIALLING] and conf.state is ConferenceState.DIALLING


async def test_start_without_an_answer_keeps_caller_and_agent_together(starting):
    with pytest.raises(NoAnswer, match=r"^110 did not answer; the caller and agent 1001 stay together in room hl1$"):
        await starting.service.start("call-1", "1001", "110")
    conf = starting.service.of_call("call-1")
    assert conf.state is ConferenceState.NO_ANSWER and conf.view().parties == ["1001", "caller"]


async def test_start_that_asterisk_refuses_frees_the_room(starting):
    starting.ami.refuse = ("Originate",)
    with pytest.raises(AsteriskRefused, match=r"^Asterisk refused the conference: Originate refused$"):
        await starting.service.start("call-1", "1001", "110")
    assert starting.service.rooms == {} and starting.service.of_call("call-1") is None
    assert "conference.dialling" not in [name for name, _ in starting.seen]


async def test_start_whose_agent_never_arrives_returns_the_caller_and_frees_the_room(starting):
    async def only_the_caller() -> None:
        await starting.join(*CALLER)
    starting.ami.on_send["Redirect"] = only_the_caller
    with pytest.raises(AsteriskRefused, match="caller and agent did not reach room hl1"):
        await starting.service.start("call-1", "1001", "110")
    assert starting.ami.sent[-1] == {"Action": "Redirect", "Channel": CALLER[1], **INTAKE}
    assert starting.service.rooms == {}


async def test_a_target_that_joined_and_left_at_once_still_answered(starting):
    async def in_and_out() -> None:
        async def later() -> None:
            await starting.join(third_id(starting.ami), THIRD[1])
            await starting.service.on_leave(ami_event("ConfbridgeLeave", Uniqueid=third_id(starting.ami),
                                                      Channel=THIRD[1]))
        asyncio.get_running_loop().call_later(0.01, lambda: asyncio.ensure_future(later()))
    starting.ami.on_send["Originate"] = in_and_out
    conf = await starting.service.start("call-1", "1001", "110")
    assert conf.state is ConferenceState.JOINED  # not "no_answer": the target did answer
