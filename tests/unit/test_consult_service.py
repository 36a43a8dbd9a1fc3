"""The warm transfer's service: the AMI actions it sends, how Asterisk's events on the
consult leg, the caller and the agent's channel end a consult, and the phone's own
consult (the first half of its attended transfer). Stand-ins for AMI, tickets and the
exchange channel (``consult_doubles``); the real call book, bus and state machine."""

from __future__ import annotations

import asyncio
import time

import pytest

from call_control.consult import service as consult_service
from call_control.consult.service import ConsultLeg
from call_control.consult.state import ConsultState
from call_control.errors import (
    AsteriskRefused,
    CallerHungUp,
    ConsultNotAnswered,
    NoAnswer,
    NoConsult,
    OperationInProgress,
    TargetBusy,
    TargetUnreachable,
)
from hotline_link.core.errors import AmiError
from tests.unit.consult_doubles import (
    AGENT,
    CALL,
    CALLER,
    LEG,
    PHONE,
    SITE,
    TICKET,
    Desk,
    answered_call,
    settle,
)

RESTORE = {"Action": "Setvar", "Channel": AGENT[1], "Variable": "TRANSFER_CONTEXT", "Value": "phone-transfer"}


@pytest.fixture
def desk() -> Desk:
    one = Desk()
    answered_call(one.book)
    return one


def asterisk_dials(desk: Desk, *then: tuple[str, dict[str, str]], leg: str = LEG) -> list[ConsultLeg | None]:
    """Asterisk taking the Atxfer: the consult leg asks the AGI for its ticket, then the
    events ``then`` come. Returns what the AGI answered, once it has."""
    answered: list[ConsultLeg | None] = []

    async def atxfer() -> None:
        answered.append(await desk.consults.consult_leg(SITE, AGENT[1], leg, "110"))
        for name, fields in then:
            await desk.event(name, **fields)
    desk.ami.on_send["Atxfer"] = atxfer
    return answered


ANSWER = ("DialEnd", {"Uniqueid": LEG, "DialStatus": "ANSWER"})


async def talking(desk: Desk, leg: str = LEG) -> consult_service.Consult:
    carried = asterisk_dials(desk, ("DialEnd", {"Uniqueid": leg, "DialStatus": "ANSWER"}), leg=leg)
    consult = await desk.consults.start(CALL, "1001", "police")
    assert consult.state is ConsultState.TALKING
    assert carried == [ConsultLeg(CALL, TICKET.id, "治安", "有人砸车")]
    return consult


# --- start ---------------------------------------------------------------------------


async def test_start_records_the_handover_then_sends_one_atxfer_and_waits_for_the_answer(desk):
    consult = await talking(desk)
    assert desk.ami.sent == [({"Action": "Atxfer", "Channel": AGENT[1], "Exten": "110", "Context": "desk-consult"},
                              {"as_list": False})]
    assert desk.log == ["record_handover", "Atxfer"]  # the receiver links only a case recorded first
    assert desk.tickets.handovers == [(TICKET.id, "110")]  # to the site whose intake 110 is
    assert desk.locks.held == [(CALL, "transfer")]
    assert (consult.target, consult.number, consult.via, consult.agent_channel, consult.leg_uniqueid) == (
        "police", "110", "consult", AGENT[1], LEG)
    assert desk.transfer_events() == [("transfer.dialling", "dialling", None, "consult"),
                                      ("transfer.ringing", "ringing", None, "consult")]
    assert desk.consults.of_call(CALL) is consult
    await settle()
    assert desk.handover.sent == []  # the caller is not with the target yet


async def test_the_agents_words_are_what_the_consult_leg_carries(desk):
    carried = asterisk_dials(desk, ANSWER)
    await desk.consults.start(CALL, "1001", "police", category="交通", summary="追尾")
    assert carried == [ConsultLeg(CALL, TICKET.id, "交通", "追尾")]


async def test_an_atxfer_asterisk_refuses_fails_the_consult_and_forgets_it(desk):
    desk.ami.refuse.add("Atxfer")
    with pytest.raises(AsteriskRefused, match="asterisk_refused"):
        await desk.consults.start(CALL, "1001", "police")
    assert desk.transfer_events() == [("transfer.failed", "failed", "asterisk_refused", "consult")]
    assert desk.consults.of_call(CALL) is None
    assert len(desk.ami.actions("Atxfer")) == 1


async def test_a_second_consult_on_the_agents_channel_is_refused_while_one_is_open(desk):
    consult = await talking(desk)
    with pytest.raises(OperationInProgress):
        await desk.consults.start(CALL, "1001", "fire")
    assert len(desk.ami.actions("Atxfer")) == 1 and desk.tickets.handovers == [(TICKET.id, "110")]
    assert desk.consults.of_call(CALL) is consult and consult.state is ConsultState.TALKING


async def test_a_consult_asterisk_never_dials_ends_failed_after_the_wait():
    desk = Desk(transfer_wait_s=0.05)
    answered_call(desk.book)
    with pytest.raises(AsteriskRefused):  # the Atxfer was taken, and nothing came of it
        await desk.consults.start(CALL, "1001", "police")
    assert desk.transfer_events() == [("transfer.failed", "failed", "asterisk_refused", "consult")]
    assert desk.consults.of_call(CALL) is None
    # a leg that turns up after all carries nothing and opens no consult
    assert await desk.consults.consult_leg(SITE, AGENT[1], LEG, "110") is None
    assert desk.consults.of_call(CALL) is None


# --- how a desk consult ends --------------------------------------------------------------


@pytest.mark.parametrize(("events", "reason", "error"), [
    ([("DialEnd", {"Uniqueid": LEG, "DialStatus": "BUSY"})], "target_busy", TargetBusy),
    ([("DialEnd", {"Uniqueid": LEG, "DialStatus": "NOANSWER"})], "no_answer", NoAnswer),
    ([("Hangup", {"Uniqueid": LEG})], "target_unreachable", TargetUnreachable),
])
async def test_a_target_that_does_not_answer_fails_the_consult(desk, events, reason, error):
    asterisk_dials(desk, ("DialEnd", {"Uniqueid": LEG, "DialStatus": "PROGRESS"}), *events)
    with pytest.raises(error, match=reason):
        await desk.consults.start(CALL, "1001", "police")
    assert desk.transfer_events() == [("transfer.dialling", "dialling", None, "consult"),
                                      ("transfer.failed", "failed", reason, "consult")]
    assert desk.consults.of_call(CALL) is None
    await settle()
    assert desk.ami.actions("Setvar") == [RESTORE]  # the phone's transfer key goes through us again
    assert desk.handover.sent == []


async def test_the_caller_hanging_up_on_hold_ends_the_consult_as_caller_gone(desk):
    asterisk_dials(desk, ("Hangup", {"Uniqueid": CALLER[0], "Channel": CALLER[1]}))
    with pytest.raises(CallerHungUp):
        await desk.consults.start(CALL, "1001", "police")
    assert desk.transfer_events()[-1] == ("transfer.caller_gone", "caller_gone", "caller_gone", "consult")
    await settle()
    assert desk.ami.actions("Setvar") == [] and desk.handover.sent == []  # no call left to restore


async def test_complete_hangs_up_the_agent_and_the_attended_transfer_hands_the_case_over_once(desk):
    consult = await talking(desk)
    success = {"Result": "Success", "OrigTransfererChannel": AGENT[1]}

    async def transferred() -> None:
        await desk.event("AttendedTransfer", **success)
    desk.ami.on_send["Hangup"] = transferred
    assert await desk.consults.complete(CALL, "1001") is consult
    assert consult.state is ConsultState.COMPLETED and consult.reason == ""
    assert desk.ami.actions("Hangup") == [{"Action": "Hangup", "Channel": AGENT[1]}]
    await asyncio.wait_for(desk.handover.arrived.wait(), 1)
    await desk.event("AttendedTransfer", **success)  # said again: nothing more
    await desk.event("Hangup", Uniqueid=LEG)
    await settle()
    assert desk.handover.sent == [(TICKET.id, "transfer", "110", CALL)]
    assert [e for e in desk.transfer_events() if e[0] == "transfer.answered"] == [
        ("transfer.answered", "answered", None, "consult")]
    assert [a for a in desk.ami.actions("Setvar") if a["Channel"] == AGENT[1]] == []  # the agent's channel is gone
    assert desk.consults.of_call(CALL) is None
    # the caller talks on with 110, which records its own part: this site stops recording
    assert desk.ami.actions("StopMixMonitor") == [{"Action": "StopMixMonitor", "Channel": CALLER[1]}]
    assert {"Action": "Setvar", "Channel": CALLER[1], "Variable": "HL_RECORDING", "Value": ""} in \
        desk.ami.actions("Setvar")


@pytest.mark.parametrize("fields", [{"Result": "Fail", "OrigTransfererChannel": AGENT[1]},
                                    {"Result": "Success", "OrigTransfererChannel": "PJSIP/1002-00000009"}])
async def test_a_failed_or_someone_elses_attended_transfer_changes_nothing(desk, fields):
    consult = await talking(desk)
    await desk.event("AttendedTransfer", **fields)
    await settle()
    assert consult.state is ConsultState.TALKING and desk.handover.sent == []


async def test_complete_before_the_target_answered_is_refused(desk):
    asterisk_dials(desk)
    start = asyncio.create_task(desk.consults.start(CALL, "1001", "police"))
    await settle()
    with pytest.raises(ConsultNotAnswered):
        await desk.consults.complete(CALL, "1001")
    assert desk.ami.actions("Hangup") == []
    await desk.event("DialEnd", Uniqueid=LEG, DialStatus="ANSWER")
    assert (await asyncio.wait_for(start, 1)).state is ConsultState.TALKING


async def test_the_agent_back_with_the_caller_while_talking_means_the_target_hung_up(desk):
    consult = await talking(desk)
    await desk.event("BridgeEnter", Channel=AGENT[1], Uniqueid=AGENT[0], BridgeNumChannels="1")
    assert consult.state is ConsultState.TALKING  # alone in a bridge is no rejoin with the caller
    await desk.event("BridgeEnter", Channel=AGENT[1], Uniqueid=AGENT[0], BridgeNumChannels="2")
    assert (consult.state, consult.reason) == (ConsultState.CANCELLED, "target_left")
    assert desk.transfer_events()[-1] == ("transfer.failed", "failed", "target_left", "consult")
    await settle()
    assert desk.ami.actions("Setvar") == [RESTORE] and desk.handover.sent == []


async def test_cancel_waits_for_the_agent_back_in_the_bridge_and_the_leg_gone(desk):
    consult = await talking(desk)
    cancel = asyncio.create_task(desk.consults.cancel(CALL, "1001"))
    try:
        await settle()
        assert desk.ami.sent[-1] == ({"Action": "CancelAtxfer", "Channel": AGENT[1]}, {"as_list": False})
        assert not cancel.done()

        async def asterisk_cancels() -> None:  # what Asterisk sends after CancelAtxfer
            await desk.event("BridgeEnter", Channel=AGENT[1], Uniqueid=AGENT[0], BridgeNumChannels="2")
            await settle()
            assert not cancel.done() and consult.state is ConsultState.TALKING  # the cancel, not the target
            await desk.event("Hangup", Uniqueid=LEG)
        await asyncio.create_task(asterisk_cancels())
        assert await asyncio.wait_for(cancel, 1) is consult
    finally:
        cancel.cancel()
    assert (consult.state, consult.reason) == (ConsultState.CANCELLED, "cancelled")
    assert desk.transfer_events()[-1] == ("transfer.failed", "failed", "cancelled", "consult")
    await settle()
    assert desk.ami.actions("Setvar") == [RESTORE] and desk.handover.sent == []
    with pytest.raises(NoConsult):
        await desk.consults.cancel(CALL, "1001")


async def test_cancel_while_the_target_still_rings_is_a_cancel(monkeypatch):
    """CancelAtxfer before the answer: Asterisk ends the leg's Dial (CANCEL) and hangs the
    leg up; that is the agent going back, not the target failing (nor the caller gone)."""
    monkeypatch.setattr(consult_service, "REJOIN_WAIT_S", 0.2)  # what a broken cancel costs
    desk = Desk(transfer_wait_s=0.05)
    answered_call(desk.book)
    asterisk_dials(desk)
    consult = await desk.consults.start(CALL, "1001", "police")
    assert consult.state is ConsultState.DIALLING  # the desk's 202: still ringing
    cancel = asyncio.create_task(desk.consults.cancel(CALL, "1001"))
    await settle()
    await desk.event("DialEnd", Uniqueid=LEG, DialStatus="CANCEL")
    await desk.event("Hangup", Uniqueid=LEG)
    await desk.event("BridgeEnter", Channel=AGENT[1], Uniqueid=AGENT[0], BridgeNumChannels="2")
    await asyncio.wait_for(cancel, 1)
    assert (consult.state, consult.reason) == (ConsultState.CANCELLED, "cancelled")
    assert desk.transfer_events()[-1] == ("transfer.failed", "failed", "cancelled", "consult")


async def test_a_cancel_asterisk_refuses_leaves_the_consult_watching_the_target(desk):
    consult = await talking(desk)
    desk.ami.refuse.add("CancelAtxfer")
    with pytest.raises(AmiError):
        await desk.consults.cancel(CALL, "1001")
    assert consult.state is ConsultState.TALKING
    await desk.event("BridgeEnter", Channel=AGENT[1], Uniqueid=AGENT[0], BridgeNumChannels="2")
    assert (consult.state, consult.reason) == (ConsultState.CANCELLED, "target_left")


async def test_a_caller_gone_while_ami_was_down_ends_the_consult(desk):
    consult = await talking(desk)
    await desk.consults.on_resync(SITE, [{"Uniqueid": AGENT[0]}, {"Uniqueid": LEG}])
    assert consult.state is ConsultState.CALLER_GONE and desk.consults.of_call(CALL) is None


def test_attach_listens_to_the_events_that_end_a_consult(desk):
    desk.consults.attach()
    assert sorted(desk.ami.subscribed) == ["AttendedTransfer", "BridgeEnter", "DialEnd", "Hangup"]
    assert desk.ami.resync_handlers == [desk.consults.on_resync]


# --- the next consult waits for Asterisk to let go of the agent's channel ----------------


class Clock:
    """The module's ``time``: monotonic set by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return time.time()


class Sleeps:
    """The module's ``asyncio``, its ``sleep`` recorded (in the desk's log) and not slept."""

    def __init__(self, log: list[str]) -> None:
        self.asked: list[float] = []
        self.log = log

    def __getattr__(self, name: str) -> object:
        return getattr(asyncio, name)

    async def sleep(self, delay: float) -> None:
        self.asked.append(delay)
        self.log.append("sleep")
        await asyncio.sleep(0)


async def test_a_consult_right_after_the_last_one_ended_waits_the_settling_time(desk, monkeypatch):
    clock, sleeps = Clock(500.0), Sleeps(desk.log)
    monkeypatch.setattr(consult_service, "time", clock)
    monkeypatch.setattr(consult_service, "asyncio", sleeps)
    monkeypatch.setattr(consult_service, "SETTLE_S", 0.8)
    first = await talking(desk)
    assert sleeps.asked == []  # nothing ended on this channel before
    await desk.event("BridgeEnter", Channel=AGENT[1], Uniqueid=AGENT[0], BridgeNumChannels="2")
    assert first.state is ConsultState.CANCELLED
    await settle()
    clock.now = 500.3
    desk.log.clear()
    second = await talking(desk, leg="1765100000.9")
    assert sleeps.asked == [pytest.approx(0.5)]  # the rest of SETTLE_S since the end
    assert desk.log == ["sleep", "record_handover", "Atxfer"]  # the wait comes first
    await desk.event("BridgeEnter", Channel=AGENT[1], Uniqueid=AGENT[0], BridgeNumChannels="2")
    assert second.state is ConsultState.CANCELLED
    clock.now = 600.0  # long after: no wait
    await talking(desk, leg="1765100000.10")
    assert sleeps.asked[-1] == 0.0


# --- the phone's own consult (the first half of its attended transfer) ------------------


def phone_dials(desk: Desk) -> None:
    """Agent 1001's phone dialling another site: a call of its own in the book."""
    desk.book.channel_up(SITE, PHONE[0], PHONE[0], PHONE[1], "1001", "110", 1_010.0)


@pytest.mark.parametrize("held", ["none", "ringing", "other_site", "other_agent"])
async def test_the_phone_dialling_out_is_a_consult_only_beside_an_answered_call_of_its_agent(held):
    desk = Desk()
    if held == "ringing":
        answered_call(desk.book, answered=False)
    elif held == "other_site":
        answered_call(desk.book, site="110")
    elif held == "other_agent":
        answered_call(desk.book, agent_leg="PJSIP/1002-00000002")
    phone_dials(desk)
    assert await desk.consults.consult_leg(SITE, PHONE[1], PHONE[0], "110") is None
    assert desk.tickets.handovers == [] and desk.published == []
    assert desk.consults.of_call(CALL) is None


async def test_the_phones_consult_carries_the_held_calls_ticket_to_the_directorys_target(desk):
    phone_dials(desk)
    leg = await desk.consults.consult_leg(SITE, PHONE[1], PHONE[0], "110")
    assert leg == ConsultLeg(CALL, TICKET.id, "治安", "有人砸车")
    consult = desk.consults.of_call(CALL)
    assert consult is not None
    assert (consult.target, consult.number, consult.via, consult.agent, consult.agent_channel,
            consult.leg_uniqueid, consult.state) == ("police", "110", "attended", "1001", AGENT[1], PHONE[0],
                                                     ConsultState.DIALLING)
    assert desk.tickets.handovers == [(TICKET.id, "110")]
    assert desk.transfer_events() == [("transfer.dialling", "dialling", None, "attended")]
    assert desk.ami.sent == []  # the phone does it all: no action of ours


async def test_a_number_outside_the_directory_is_its_own_target(desk):
    phone_dials(desk)
    await desk.consults.consult_leg(SITE, PHONE[1], PHONE[0], "95555")
    consult = desk.consults.of_call(CALL)
    assert consult is not None and (consult.target, consult.number) == ("95555", "95555")
    assert desk.tickets.handovers == [(TICKET.id, "95555")]


async def phone_talking(desk: Desk) -> consult_service.Consult:
    phone_dials(desk)
    await desk.consults.consult_leg(SITE, PHONE[1], PHONE[0], "110")
    await desk.event("DialEnd", Uniqueid=PHONE[0], DialStatus="ANSWER")
    consult = desk.consults.of_call(CALL)
    assert consult is not None and consult.state is ConsultState.TALKING
    return consult


async def after_the_verdict() -> None:
    """Until the verdict timer the leg's hangup set (ATTENDED_VERDICT_S) has run: a timer
    due later runs after it."""
    loop = asyncio.get_running_loop()
    later = loop.create_future()
    loop.call_later(consult_service.ATTENDED_VERDICT_S * 2, later.set_result, None)
    await asyncio.wait_for(later, 1)
    await settle()


async def test_the_phone_hanging_up_its_consult_leg_is_the_target_left_only_a_moment_later(desk, monkeypatch):
    monkeypatch.setattr(consult_service, "ATTENDED_VERDICT_S", 0.01)
    consult = await phone_talking(desk)
    await desk.event("Hangup", Uniqueid=PHONE[0])
    assert consult.state is ConsultState.TALKING  # not decided yet: the transfer may follow
    await after_the_verdict()
    assert (consult.state, consult.reason) == (ConsultState.CANCELLED, "target_left")
    assert desk.transfer_events()[-1] == ("transfer.failed", "failed", "target_left", "attended")
    assert desk.ami.sent == [] and desk.handover.sent == []  # the phone's consult sets nothing back


@pytest.mark.parametrize("fields", [{"OrigTransfererChannel": AGENT[1]}, {"SecondTransfererUniqueid": PHONE[0]}])
async def test_the_attended_transfer_right_after_the_leg_hung_up_completes_it(desk, monkeypatch, fields):
    monkeypatch.setattr(consult_service, "ATTENDED_VERDICT_S", 0.01)
    consult = await phone_talking(desk)
    await desk.event("Hangup", Uniqueid=PHONE[0])
    await desk.event("AttendedTransfer", Result="Success", **fields)
    await after_the_verdict()
    assert (consult.state, consult.reason) == (ConsultState.COMPLETED, "")
    assert desk.handover.sent == [(TICKET.id, "transfer", "110", CALL)]
    assert [e[0] for e in desk.transfer_events()] == ["transfer.dialling", "transfer.ringing", "transfer.answered"]
    assert all(e[3] == "attended" for e in desk.transfer_events())


async def test_a_start_still_waiting_when_the_agent_cancels_answers_cancelled_not_an_error(monkeypatch):
    monkeypatch.setattr(consult_service, "REJOIN_WAIT_S", 0.2)
    desk = Desk(transfer_wait_s=1.0)
    answered_call(desk.book)
    asterisk_dials(desk)
    start = asyncio.create_task(desk.consults.start(CALL, "1001", "police"))
    try:
        await settle()
        assert not start.done()  # ringing: the first click still waits for the answer
        cancel = asyncio.create_task(desk.consults.cancel(CALL, "1001"))
        await settle()
        await desk.event("Hangup", Uniqueid=LEG)
        await desk.event("BridgeEnter", Channel=AGENT[1], Uniqueid=AGENT[0], BridgeNumChannels="2")
        await asyncio.wait_for(cancel, 1)
        consult = await asyncio.wait_for(start, 1)  # no exception: the agent's own choice
    finally:
        start.cancel()
    assert (consult.state, consult.reason) == (ConsultState.CANCELLED, "cancelled")
