"""The screen pop's assembly from hand-made inputs: the caller masked, the state of the
agent's leg, another platform's restricted content never shown, no history for a number
that has none, the repeat-caller window on an injected clock, and the caps."""

from __future__ import annotations

import time

import pytest

from call_control.calls import Call
from call_control.schema import AgentScreen
from call_control.screen_pop import DEFAULT_RULES, CallerHistory, ScreenRules, agent_screen, note_of
from tickets.number_history import PastCall
from tickets.recommend import Recommendation
from tickets.store import Ticket, ticket_day

NOW = time.time()  # the test's own start: no calendar date to age
DAY = ticket_day(NOW)
HOUR = 3600.0
CALLER = "13812345678"
CALL_ID = f"hl12345-{NOW:.0f}.7"


def _id(site: str, seq: int) -> str:
    return f"{site}-{DAY}-{seq:06d}"


def _call(caller: str = CALLER, answered_by_me: bool = True) -> Call:
    call = Call(CALL_ID, "12345", caller, "12345", NOW - 30,
                channels={CALL_ID: "PJSIP/trunk-01", "u2": "PJSIP/1001-02", "u3": "PJSIP/1002-03"})
    call.answered_by = "PJSIP/1001"
    call.answered_channels = {"PJSIP/1001-02"} if answered_by_me else set()
    return call


OWN = Ticket(_id("12345", 9), "12345", CALL_ID, "供水", "小区停水", caller=CALLER, division_code="320681",
             created_at=NOW - 20)
ADVICE = Recommendation(platform="12345", category="城乡建设", sub_category="供水", matter="停水", entry_id="d-01",
                        responsible_unit="水务公司", confidence=0.82, emergency=False, reasons=("匹配词: 停水",))


def _screen(call: Call | None = None, *, ticket: Ticket | None = OWN, source: Ticket | None = None,
            history: CallerHistory | None = None, in_conference: bool = False, agent: str = "1001",
            rules: ScreenRules = DEFAULT_RULES) -> AgentScreen:
    return agent_screen(call or _call(), agent, in_conference=in_conference, ticket=ticket, source=source,
                        recommendation=ADVICE, history=history or CallerHistory(), now=NOW, rules=rules)


def test_the_screen_has_exactly_the_documented_shape_and_a_masked_caller():
    body = _screen().model_dump(mode="json")
    assert body == {
        "call_id": CALL_ID, "site": "12345", "caller": "138****5678", "state": "talking",
        "ticket": {"id": OWN.id, "category": "供水", "summary": "小区停水", "division_code": "320681",
                   "emergency": False, "severity": "normal", "restricted": False, "source_platform": None,
                   "source_ticket": None,
                   "source_category": None, "source_summary": None},
        "recommendation": {"platform": "12345", "category": "城乡建设", "emergency": False, "confidence": 0.82},
        "open_tickets": [], "recent_calls": [], "repeat_caller": False}
    assert CALLER not in str(body)


def test_the_state_is_the_agents_own_leg():
    assert _screen().state == "talking"
    assert _screen(agent="1002").state == "ringing"  # its phone rings though 1001 answered earlier
    assert _screen(_call(answered_by_me=False)).state == "ringing"
    assert _screen(in_conference=True).state == "conference"


def test_no_ticket_yet_and_no_recommendation():
    screen = agent_screen(_call(), "1001", in_conference=False, ticket=None, source=None, recommendation=None,
                          history=CallerHistory(), now=NOW)
    assert (screen.ticket, screen.recommendation) == (None, None)


def test_a_case_handed_over_shows_what_its_source_said():
    source = Ticket(_id("110", 3), "110", "hl110-1.1", "纠纷", "邻里纠纷，责任不清")
    handed = Ticket(_id("12345", 4), "12345", CALL_ID, "纠纷", "邻里纠纷", source_platform="110",
                    source_ticket=source.id)
    ticket = _screen(ticket=handed, source=source).ticket
    assert ticket is not None
    assert (ticket.source_platform, ticket.source_ticket, ticket.source_category, ticket.source_summary) == \
        ("110", source.id, "纠纷", "邻里纠纷，责任不清")
    # a source that is not the ticket's own source is nobody's business here
    other = Ticket(_id("110", 5), "110", "hl110-1.2", "盗窃", "电动车被偷")
    ticket = _screen(ticket=handed, source=other).ticket
    assert ticket is not None and (ticket.source_category, ticket.source_summary) == (None, None)


@pytest.mark.parametrize("source", [
    Ticket(_id("110", 6), "110", "hl110-1.3", "治安", "涉案线索", source_ticket=""),  # a 110 mark
    Ticket(_id("110", 6), "110", "hl110-1.3", "治安", "打架", restricted=True),  # flagged
])
def test_a_restricted_source_of_the_other_platform_shows_its_number_only(source):
    handed = Ticket(_id("12345", 7), "12345", CALL_ID, source_platform="110", source_ticket=source.id)
    ticket = _screen(ticket=handed, source=source).ticket
    assert ticket is not None and ticket.source_ticket == source.id
    assert (ticket.source_category, ticket.source_summary) == (None, None)
    assert note_of(handed, source, "12345") == ""  # nor does it feed the recommendation


def test_a_restricted_ticket_shows_its_content_on_its_own_platform_only():
    mine = Ticket(_id("110", 8), "110", CALL_ID, "治安", "涉案线索", caller=CALLER)
    police_call = Call(CALL_ID, "110", CALLER, "110", NOW, channels={"u2": "PJSIP/2001-02"},
                       answered_channels={"PJSIP/2001-02"})
    on_110 = agent_screen(police_call, "2001", in_conference=False, ticket=mine, source=None,
                          recommendation=None, history=CallerHistory(), now=NOW).ticket
    assert on_110 is not None and (on_110.category, on_110.summary, on_110.restricted) == ("治安", "涉案线索", True)
    on_12345 = _screen(ticket=mine).ticket  # (not a case a 12345 screen meets; the rule holds anyway)
    assert on_12345 is not None and on_12345.restricted
    assert (on_12345.category, on_12345.summary, on_12345.division_code, on_12345.emergency) == (None,) * 4
    history = CallerHistory(tickets=[mine])
    [listed] = _screen(history=history).open_tickets
    assert (listed.id, listed.category, listed.summary) == (mine.id, None, None)


def _busy_history(count: int = 8) -> CallerHistory:
    tickets = [Ticket(_id("12345", n), "12345", f"c{n}", "噪音", f"第{n}次", caller=CALLER, created_at=NOW - n * HOUR)
               for n in range(1, count + 1)]
    calls = [PastCall(f"c{n}", NOW - n * HOUR, "PJSIP/1003" if n % 2 else None) for n in range(1, count + 1)]
    return CallerHistory(tickets=tickets, calls=calls)


@pytest.mark.parametrize("caller", ["anonymous", "", "110", "12345", "1001", "abc", "+", "138 1234 5678x"])
def test_a_number_without_a_history_gets_none_whatever_the_inputs(caller):
    screen = _screen(_call(caller), history=_busy_history())
    assert (screen.open_tickets, screen.recent_calls, screen.repeat_caller) == ([], [], False)


def test_open_tickets_and_recent_calls_are_the_newest_few():
    screen = _screen(history=_busy_history())
    assert [t.id for t in screen.open_tickets] == [_id("12345", n) for n in range(1, 6)]
    assert [c.call_id for c in screen.recent_calls] == ["c1", "c2", "c3", "c4", "c5"]
    assert [c.answered_by for c in screen.recent_calls[:2]] == ["PJSIP/1003", None]
    two = _screen(history=_busy_history(), rules=ScreenRules(max_items=2))
    assert (len(two.open_tickets), len(two.recent_calls)) == (2, 2)


def test_closed_tickets_the_calls_own_and_another_numbers_are_not_open_tickets():
    history = _busy_history(4)
    history = CallerHistory(
        tickets=[*history.tickets, OWN,
                 Ticket(_id("12345", 50), "12345", "c50", caller="13900000000", created_at=NOW),  # corrected since
                 Ticket(_id("12345", 51), "12345", "c51", created_at=NOW - 1)],  # joined by a call: no caller
        statuses={_id("12345", 1): "resolved", _id("12345", 2): "called_back", _id("12345", 3): "accepted"})
    screen = _screen(history=history)
    assert [(t.id, t.status) for t in screen.open_tickets] == [
        (_id("12345", 51), None), (_id("12345", 3), "accepted"), (_id("12345", 4), None)]


def test_a_repeat_caller_called_within_the_window_before_now():
    def repeat(*ages_h: float, window_h: float = 24) -> bool:
        calls = [PastCall(f"c{n}", NOW - age * HOUR, None) for n, age in enumerate(ages_h)]
        screen = _screen(history=CallerHistory(calls=calls), rules=ScreenRules(repeat_window_s=window_h * HOUR))
        return screen.repeat_caller

    assert repeat(23.9) and repeat(30, 2) and not repeat(24.1) and not repeat()
    assert repeat(1.5, window_h=2) and not repeat(2.5, window_h=2)
    this_call = PastCall(CALL_ID, NOW - 30, None)  # the index holds this call too: not an earlier one
    only_this = _screen(history=CallerHistory(calls=[this_call]))
    assert (only_this.repeat_caller, only_this.recent_calls) == (False, [])
    old = _screen(history=CallerHistory(calls=[PastCall("c9", NOW - 72 * HOUR, "PJSIP/1004")]))
    assert not old.repeat_caller and [c.call_id for c in old.recent_calls] == ["c9"]  # listed, not a repeat


def test_the_note_for_the_recommendation():
    assert note_of(OWN, None, "12345") == "供水 小区停水"
    blank = Ticket(_id("12345", 10), "12345", CALL_ID, source_ticket=_id("110", 1))
    source = Ticket(_id("110", 1), "110", "x", "", "有人打架")
    assert note_of(blank, source, "12345") == "有人打架"
    assert note_of(None, None, "12345") == note_of(blank, None, "12345") == ""
