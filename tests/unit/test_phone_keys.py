"""The phone's own keys heard through FastAGI: the blind transfer key (``phone_transfer``:
HL_XFER on the caller, tracked as a one-click transfer) and a call dialled out while on a
call (``consult``: the ticket on the consult leg). A stand-in AGI session whose variables
are a dict; the real transfer and consult services over the stand-ins of
``consult_doubles``, and once real tickets and locks on a redis-server of the test's own."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from call_control.channel_vars import encode, ticket_variables
from call_control.context import CallControlContext
from call_control.locks import CallLocks
from call_control.phone_keys import MAX_CHANNEL_NAME, ConsultHook, PhoneTransferHook
from call_control.transfer.service import TransferService
from hotline_link.core.bus import EventBus
from tests.unit.consult_doubles import (
    AGENT,
    CALL,
    CALLER,
    LEG,
    PHONE,
    SITE,
    TICKET,
    Desk,
    Handover,
    Session,
    answered_call,
)
from tickets.store import TicketStore

SITES = frozenset({"12345", "110"})
TICKET_VARIABLES = ticket_variables(TICKET.id, "治安", "有人砸车", SITE, CALL)


@pytest.fixture
def desk() -> Desk:
    one = Desk()
    answered_call(one.book)
    return one


class Unreachable:
    """A service the hook must not ask; what it would have been asked is kept."""

    def __init__(self, answer: Any = None) -> None:
        self.asked: list[tuple[Any, ...]] = []
        self.answer = answer

    async def phone_transfer(self, *args: Any) -> Any:
        self.asked.append(args)
        return self.answer

    async def consult_leg(self, *args: Any) -> Any:
        self.asked.append(args)
        return self.answer


def warnings(logs: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == event and e["log_level"] == "warning"]


# --- the blind transfer key ------------------------------------------------------------------


@pytest.mark.parametrize("args", [("999", "110"), ("12345", "11O"), ("12345", ""), ("12345", "110#"), ()])
async def test_a_phone_transfer_of_an_unknown_site_or_not_a_number_sets_nothing(args):
    transfers, session = Unreachable(), Session(*args, variables={"BLINDTRANSFER": AGENT[1]})
    with capture_logs() as logs:
        await PhoneTransferHook(transfers, SITES)(session)  # type: ignore[arg-type]
    assert transfers.asked == [] and session.asked == [] and session.set == {}
    assert len(warnings(logs, "phone_transfer.refused")) == 1


async def test_a_phone_transfer_of_a_known_call_puts_its_ticket_on_the_caller(desk):
    session = Session(SITE, "110", uniqueid=CALLER[0], variables={"BLINDTRANSFER": AGENT[1]})
    await PhoneTransferHook(desk.transfers, SITES)(session)  # type: ignore[arg-type]
    assert session.asked == ["BLINDTRANSFER"] and list(session.set) == ["HL_XFER"]
    ring, ticket, category, summary, source, call = session.set["HL_XFER"].split(";")
    assert (ring, ticket, category, summary, source, call) == (
        "25", TICKET.id, encode("治安", 40), encode("有人砸车"), SITE, CALL)
    assert desk.transfer_events() == [("transfer.dialling", "dialling", None, "phone")]


async def test_a_phone_transfer_of_a_call_this_server_does_not_know_sets_nothing(desk):
    session = Session(SITE, "110", uniqueid="1765199999.1", variables={"BLINDTRANSFER": AGENT[1]})
    await PhoneTransferHook(desk.transfers, SITES)(session)  # type: ignore[arg-type]
    assert session.set == {} and desk.published == []


async def test_the_transferer_asterisk_names_is_cut_to_a_channel_names_length():
    transfers = Unreachable(answer="")
    session = Session(SITE, "110", uniqueid=CALLER[0], variables={"BLINDTRANSFER": "PJSIP/1001-" + "9" * 500})
    await PhoneTransferHook(transfers, SITES)(session)  # type: ignore[arg-type]
    [(site, uniqueid, transferer, number)] = transfers.asked
    assert (site, uniqueid, number, len(transferer)) == (SITE, CALLER[0], "110", MAX_CHANNEL_NAME)
    assert session.set == {}  # no bundle, no HL_XFER


# --- TransferService.phone_transfer ----------------------------------------------------------


@pytest.mark.parametrize(("uniqueid", "transferer"), [
    ("1765199999.1", AGENT[1]),  # a caller this server never saw
    (CALLER[0], ""),  # no transferer named
    (CALLER[0], "Local/110@phone-transfer-00000001;2"),  # not an agent's phone
])
async def test_a_phone_transfer_of_no_known_call_of_an_agent_is_not_tracked(desk, uniqueid, transferer):
    assert await desk.transfers.phone_transfer(SITE, uniqueid, transferer, "110") == ""
    assert desk.published == [] and desk.tickets.handovers == [] and desk.handover.sent == []


async def test_a_phone_transfer_is_a_one_click_transfer_via_the_phone(desk):
    bundle = await desk.transfers.phone_transfer(SITE, CALLER[0], AGENT[1], "110")
    fields = bundle.split(";")
    assert len(fields) == 6 and fields[1] == TICKET.id and fields[4:] == [SITE, CALL]
    [dialling] = desk.published
    assert dialling.name == "transfer.dialling"
    assert {k: dialling.data[k] for k in ("agent", "call_id", "target", "ticket_id", "state", "via")} == {
        "agent": "1001", "call_id": CALL, "target": "police", "ticket_id": TICKET.id, "state": "dialling",
        "via": "phone"}
    assert desk.tickets.handovers == [(TICKET.id, "110")]
    assert desk.handover.sent == [(TICKET.id, "transfer", "110", CALL)]
    assert desk.locks.held == [(CALL, "transfer")]
    # the phone pressing its key again while the caller is on the way: nothing new
    assert await desk.transfers.phone_transfer(SITE, CALLER[0], AGENT[1], "110") == ""
    assert len(desk.published) == 1 and len(desk.tickets.handovers) == 1 and len(desk.handover.sent) == 1


async def test_a_phone_transfer_records_the_handover_of_the_calls_real_ticket(private_redis):
    desk = Desk()
    answered_call(desk.book)
    tickets, handover = TicketStore(private_redis), Handover()
    ctx = CallControlContext(desk.ctx.settings, desk.ami, desk.book, tickets,  # type: ignore[arg-type]  # stand-in AMI
                             CallLocks(private_redis), EventBus())
    transfers = TransferService(ctx)
    transfers.attach_handover(handover)
    bundle = await transfers.phone_transfer(SITE, CALLER[0], AGENT[1], "110")
    ticket = await tickets.for_call(CALL)
    assert ticket is not None and bundle.split(";")[1] == ticket.id
    assert await tickets.handover_was_sent(ticket.id, "110")
    assert handover.sent == [(ticket.id, "transfer", "110", CALL)]
    assert await private_redis.keys("hl:lock:*") == []  # the call's lock is free again


# --- a call dialled out while on a call: the consult leg --------------------------------------


def phone_dials(desk: Desk) -> None:
    desk.book.channel_up(SITE, PHONE[0], PHONE[0], PHONE[1], "1001", "110", 1_010.0)


async def test_a_consult_of_an_unknown_site_asks_nothing():
    consults, session = Unreachable(), Session("999", PHONE[1], uniqueid=PHONE[0], variables={"HL_DIALLED": "110"})
    with capture_logs() as logs:
        await ConsultHook(consults, SITES)(session)  # type: ignore[arg-type]
    assert consults.asked == [] and session.asked == [] and session.set == {}
    assert len(warnings(logs, "consult.refused")) == 1


async def test_the_phones_consult_leg_gets_the_held_calls_ticket(desk):
    phone_dials(desk)
    session = Session(SITE, PHONE[1], uniqueid=PHONE[0], variables={"HL_DIALLED": "110"})
    await ConsultHook(desk.consults, SITES)(session)  # type: ignore[arg-type]
    assert session.asked == ["HL_DIALLED"]
    assert session.set == TICKET_VARIABLES
    assert sorted(session.set) == ["__TICKET", "__TICKET_CALL", "__TICKET_CATEGORY", "__TICKET_FROM",
                                   "__TICKET_SUMMARY"]
    consult = desk.consults.of_call(CALL)
    assert consult is not None and (consult.via, consult.target, consult.leg_uniqueid) == (
        "attended", "police", PHONE[0])


async def test_the_desks_consult_leg_gets_the_consults_ticket(desk):
    session = Session(SITE, AGENT[1], uniqueid=LEG, variables={"HL_DIALLED": "110"})

    async def the_leg_asks() -> None:
        await ConsultHook(desk.consults, SITES)(session)  # type: ignore[arg-type]
        await desk.event("DialEnd", Uniqueid=LEG, DialStatus="ANSWER")
    desk.ami.on_send["Atxfer"] = the_leg_asks
    consult = await desk.consults.start(CALL, "1001", "police")
    assert session.set == TICKET_VARIABLES and consult.leg_uniqueid == LEG


async def test_a_plain_call_from_the_phone_gets_no_ticket():
    desk = Desk()  # the agent is on no other call
    phone_dials(desk)
    session = Session(SITE, PHONE[1], uniqueid=PHONE[0], variables={"HL_DIALLED": "110"})
    await ConsultHook(desk.consults, SITES)(session)  # type: ignore[arg-type]
    assert session.set == {} and desk.published == [] and desk.tickets.handovers == []


async def test_what_the_consult_hook_passes_on_is_bounded():
    consults = Unreachable()
    session = Session(SITE, "PJSIP/1001-" + "0" * 500, uniqueid=PHONE[0], variables={"HL_DIALLED": "110;x"})
    await ConsultHook(consults, SITES)(session)  # type: ignore[arg-type]
    [(site, channel, uniqueid, number)] = consults.asked
    assert (site, len(channel), uniqueid, number) == (SITE, MAX_CHANNEL_NAME, PHONE[0], "")  # not a number
    assert session.set == {}
