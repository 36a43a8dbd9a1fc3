"""AMI injection through a caller's number (the SIP From), closed at every layer: a caller
number is kept only if plausible, Caller IDs are built from the cleaned number, the AMI
sender refuses any line break or NUL, and the AMI user has no system or command right.
And one rule, ``shareable(ticket)``, for what a transfer, a three-way call and a push
carry. Pure: recording stand-ins for AMI, no Asterisk (the sandbox test places the call)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from call_control.calls import CallBook
from call_control.conference.service import Conference, ConferenceService
from call_control.transfer.service import TransferService
from hotline_link.asterisk.agi.protocol import parse_request_header
from hotline_link.asterisk.ami.manager import AmiManager, checked_action
from hotline_link.asterisk.render import render_site
from hotline_link.core.errors import UnsafeAmiAction
from hotline_link.core.events import CallStarted
from hotline_link.core.numbers import (
    ANONYMOUS,
    caller_id,
    caller_number,
    dialled_number,
)
from hotline_link.core.settings import Settings
from tests.helpers import agent_passwords
from tickets.push_policy import PushRefused, plan_push
from tickets.sharing import is_restricted, shareable, shared_content
from tickets.store import Ticket

# what pjsip hands to AMI for From: <sip:1380000%0AApplication%3A%20System%0AData%3A%20touch%20x@...>
INJECTED = "1380000\nApplication: System\nData: touch x"
MODULES = "/usr/lib/x86_64-linux-gnu/asterisk/modules"


@pytest.mark.parametrize("raw, kept", [
    ("13812345678", "13812345678"), ("+8613812345678", "+8613812345678"), (" 110 ", "110"),
    (INJECTED, ANONYMOUS), ("1380000\r", "1380000"), ("138\x000", ANONYMOUS), ("", ANONYMOUS),
    ("anonymous", ANONYMOUS), ("Alice", ANONYMOUS), ("138-0000-1234", ANONYMOUS),
    ("1" * 20, "1" * 20), ("1" * 21, ANONYMOUS), ("++138", ANONYMOUS), ("${SHELL(id)}", ANONYMOUS),
    ('138" <1>', ANONYMOUS), (None, ANONYMOUS),
])
def test_only_a_plausible_number_is_kept(raw, kept):
    assert caller_number(raw) == kept


@given(st.text(max_size=60))
def test_whatever_the_caller_sends_the_kept_number_is_digits_or_anonymous(raw):
    kept = caller_number(raw)
    assert kept == ANONYMOUS or re.fullmatch(r"\+?[0-9]{1,20}", kept)
    assert "\n" not in caller_id(raw) and "\r" not in caller_id(raw)


def test_caller_ids_are_built_from_the_cleaned_number():
    assert caller_id("13812345678") == '"13812345678" <13812345678>'
    assert caller_id(INJECTED) == '"Anonymous" <anonymous>'
    assert dialled_number("12345") == "12345" and dialled_number("s") == "s"
    assert dialled_number("123\nAction: Hangup") == "" and dialled_number("x" * 41) == ""


@pytest.mark.parametrize("action", [
    {"Action": "Originate", "CallerID": f'"{INJECTED}" <{INJECTED}>'},
    {"Action": "Setvar", "Value": "a\rb"},
    {"Action": "Setvar", "Value": "a\x00b"},
    {"Action": "Originate", "Variable": ["A=1", "B=2\nApplication: System"]},
    {"Action": "Ping", "Bad\nName": "x"},
    {"Action": "Ping", "": "x"},
    {"Action": "Setvar", "Value": None},
    {"Action": "Setvar", "Value": True},
])
def test_the_ami_sender_refuses_anything_that_could_end_a_line(action):
    with pytest.raises(UnsafeAmiAction):
        checked_action(action)


def test_plain_actions_pass_unchanged():
    action = {"Action": "Originate", "CallerID": '"138" <138>', "Timeout": 5000,
              "Variable": ["__TICKET=12345-20261206-000001", "CONF_ROLE=agent"]}
    assert checked_action(action) == {**action, "Timeout": "5000"}


async def test_an_unsafe_action_is_refused_before_the_connection_is_even_looked_at():
    ami = AmiManager(Settings())  # never started: a safe action would get AmiDisconnected
    with pytest.raises(UnsafeAmiAction):
        await ami.send("12345", {"Action": "Originate", "CallerID": INJECTED})


def test_the_call_book_keeps_an_injected_number_as_anonymous_on_every_path():
    book = CallBook()
    started = book.channel_up("12345", "u1", "u1", "PJSIP/anonymous-01", INJECTED, "12345", 1.0)
    assert started[0].caller == ANONYMOUS and book.get("12345", "u1").caller == ANONYMOUS
    resynced = CallBook().resync("12345", [{"Uniqueid": "u2", "Linkedid": "u2", "Channel": "PJSIP/x-02",
                                           "CallerIDNum": INJECTED, "Exten": "12345\nAction: X"}], 2.0)
    assert isinstance(resynced[0], CallStarted)
    assert resynced[0].caller == ANONYMOUS and resynced[0].dialled == ""


def test_the_agi_request_gives_the_cleaned_number():
    header = b"agi_network_script: route\nagi_callerid: 1380000%0AApplication\nagi_uniqueid: 1.1\n"
    assert parse_request_header(header).caller == ANONYMOUS
    assert parse_request_header(b"agi_network_script: route\nagi_callerid: 13800001111\n").caller == "13800001111"


def test_the_ami_user_has_no_system_or_command_write_right():
    settings = Settings(ami_secret="x")
    manager_conf = render_site(settings, settings.sites[0], MODULES, agent_passwords(settings.sites[0]))["manager.conf"]
    write = next(line for line in manager_conf.splitlines() if line.startswith("write"))
    rights = {r.strip() for r in write.split("=", 1)[1].split(",")}
    assert rights == {"call", "reporting", "originate"}


# --- one rule for what leaves the platform -------------------------------------------

def ticket(**kw) -> Ticket:
    base = dict(id="110-20261206-000001", site="110", call_id="c", category="纠纷", summary="邻里吵架")
    return Ticket(**{**base, **kw})


@pytest.mark.parametrize("kw, expected", [
    ({}, True),
    ({"restricted": True}, False),
    ({"category": "涉案线索"}, False),
    ({"summary": "涉恐人员出没"}, False),
    ({"site": "12345", "id": "12345-20261206-000001", "summary": "被骗了，涉案金额五万"}, True),
    ({"site": "12345", "id": "12345-20261206-000001", "restricted": True}, False),
])
def test_shareable(kw, expected):
    t = ticket(**kw)
    assert shareable(t) is expected and is_restricted(t) is not expected
    assert (shared_content(t).summary == t.summary) is expected


class RecordingAmi:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def send(self, site: str, action: dict, **_: object) -> dict:
        self.sent.append(checked_action(action))  # what would go on the wire
        return {}


RESTRICTED = ticket(category="涉稳", summary="某地聚集")


async def test_a_transfer_carries_a_restricted_matter_by_its_number_only():
    ami = RecordingAmi()
    service = TransferService(SimpleNamespace(ami=ami, settings=SimpleNamespace(transfer_ring_s=8)))  # type: ignore[arg-type]  # stand-in
    await service.set_ticket_vars("110", "PJSIP/2001-01", RESTRICTED)
    await service.set_ticket_vars("110", "PJSIP/2001-02", ticket())
    _ring, ticket_id, category, summary, _source, _call = ami.sent[0]["Value"].split(";")
    assert (ticket_id.replace("%2D", "-"), category, summary) == (RESTRICTED.id, "", "")
    assert ami.sent[1]["Value"].split(";")[2:4] != ["", ""]


async def test_a_three_way_call_carries_a_restricted_matter_by_its_number_only_and_a_clean_caller_id():
    ami = RecordingAmi()
    service = ConferenceService(SimpleNamespace(  # type: ignore[arg-type]  # a stand-in context
        ami=ami, settings=SimpleNamespace(conference_ring_s=5)))
    conf = Conference("hl1", "call-1", "110", RESTRICTED.id, "12345", "c-uid", "third", "act")
    await service._dial_third_party("110", conf, "12345", INJECTED, RESTRICTED)
    originate = ami.sent[0]
    assert originate["CallerID"] == '"Anonymous" <anonymous>'
    variables = dict(v.split("=", 1) for v in originate["Variable"])
    assert variables["__TICKET_CATEGORY"] == "" and variables["__TICKET_SUMMARY"] == ""
    await service._dial_third_party("110", conf, "12345", "13812345678", ticket())
    variables = dict(v.split("=", 1) for v in ami.sent[1]["Variable"])
    assert variables["__TICKET_SUMMARY"] != "" and ami.sent[1]["CallerID"] == '"13812345678" <13812345678>'


def test_a_push_of_a_restricted_matter_is_refused_by_the_same_rule():
    with pytest.raises(PushRefused):
        plan_push(RESTRICTED, "12345")
    with pytest.raises(PushRefused):
        plan_push(ticket(site="12345", id="12345-20261206-000002", restricted=True), "110")
    assert plan_push(ticket(site="12345", id="12345-20261206-000003", summary="涉案"), "110").summary == "涉案"
