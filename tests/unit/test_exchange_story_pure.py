"""The story and the report across two deployments, as pure decisions: 首接 from our own
calls and the exchange notes (every case the handover can make), the peer's tickets the
messages named, and the report's figures each way from the audit (each message once, when
the receiver took it). Times are offsets from ``T0``, an arbitrary origin."""

from __future__ import annotations

from typing import Any

import pytest

from linkage.exchange_figures import FIGURES, exchange_ways, figures_of, taken
from linkage.report import compute
from tests.unit.exchange_samples import T110, T12345
from tickets.peer_story import first_answered_across, peer_tickets

T0 = 10_000.0
OURS = "12345-20261124-000042"  # the 12345 ticket a 110 handover opened


def note(event: str, at: float, **data: Any) -> dict[str, Any]:
    """An exchange note as our ticket's timeline holds it (``exchange.effects.story_data``)."""
    return {"id": f"{int(at * 1000)}-0", "event": f"exchange.{event}", "at": at,
            "data": {"site": "12345", "message_id": "m", "seq": 1, **data}}


def answered(at: float, agent: str = "1001", call_id: str = "hl12345-1.1") -> dict[str, Any]:
    return {"id": f"{int(at * 1000)}-0", "event": "call.answered", "at": at,
            "data": {"call_id": call_id, "site": "12345", "answered_by": agent}}


def came_by(mode: str, at: float = T0, **changes: Any) -> dict[str, Any]:
    fields = {"platform": "110", "peer_platform": "110", "peer_ticket": T110, "mode": mode, "restricted": False,
              "source_call": "hl110-1795530667.2"}
    return note("received.handover", at, **{**fields, **changes})


# --- 首接 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["transfer", "conference"])
def test_a_case_handed_over_by_a_call_was_answered_first_on_the_senders_platform(mode):
    story = [came_by(mode, T0 + 5), answered(T0 + 9)]  # our agent took the transferred call after
    assert first_answered_across(story) == {"site": "110", "agent": None, "at": T0 + 5,
                                            "call_id": "hl110-1795530667.2", "source": "messages"}


def test_the_senders_answer_is_first_even_when_our_call_is_heard_before_the_message():
    # the SIP transfer and its handover arrive in either order: the time is the earliest we knew
    story = [answered(T0 + 2), came_by("transfer", T0 + 5)]
    assert first_answered_across(story) == {"site": "110", "agent": None, "at": T0 + 2,
                                            "call_id": "hl110-1795530667.2", "source": "messages"}


def test_a_restricted_handover_still_tells_the_platform():
    story = [came_by("transfer", T0, restricted=True, source_call=None, category="", summary="")]
    assert first_answered_across(story) == {"site": "110", "agent": None, "at": T0, "call_id": None,
                                            "source": "messages"}


def test_a_push_has_no_first_answer_on_the_receiver_until_its_own_agent_answers():
    pushed = [came_by("push", T0, source_call=None)]
    assert first_answered_across(pushed) is None
    later = [*pushed, answered(T0 + 60, "1003", "hl12345-2.1")]  # our agent calls the case later
    assert first_answered_across(later) == {"site": "12345", "agent": "1003", "at": T0 + 60,
                                            "call_id": "hl12345-2.1", "source": "calls"}


def test_our_own_case_handed_to_the_peer_keeps_our_answer_first():
    story = [answered(T0 + 1), note("sent.handover", T0 + 30, platform="12345", peer_platform="110",
                                    peer_ticket="", mode="transfer"),
             came_by("transfer", T0 + 90, peer_ticket=T110)]  # and handed back later: still ours first
    assert first_answered_across(story) == {"site": "12345", "agent": "1001", "at": T0 + 1,
                                            "call_id": "hl12345-1.1", "source": "calls"}


def test_a_ticket_no_call_and_no_handover_touched_has_no_first_answer():
    assert first_answered_across([]) is None
    assert first_answered_across([note("sent.handover", T0, mode="push", peer_ticket="")]) is None


def test_the_earliest_of_our_answers_is_first():
    assert first_answered_across([answered(T0 + 9, "1002", "b"), answered(T0 + 3, "1001", "a")])["call_id"] == "a"


# --- the peer's tickets --------------------------------------------------------------------


def test_the_peers_tickets_are_those_the_messages_named():
    story = [came_by("push", T0), note("sent.received", T0 + 1, peer_ticket=T110, receiver_ticket=OURS),
             note("received.status", T0 + 2, peer_ticket=T110, stage="arrived"),
             note("received.received", T0 + 3, peer_ticket="110-20261124-000032",
                  receiver_ticket="110-20261124-000032"),
             answered(T0 + 4)]
    assert peer_tickets(story, OURS) == [T110, "110-20261124-000032"]


def test_a_handover_not_yet_signed_for_names_no_peer_ticket_and_junk_is_left_out():
    story = [note("sent.handover", T0, peer_ticket="", mode="push"),
             note("received.status", T0 + 1, peer_ticket="not a ticket id")]
    assert peer_tickets(story, T12345) == []


# --- the report's figures from the audit ---------------------------------------------------


def audit(direction: str, type_: str, outcome: str, at: float, *, message_id: str = "m1", kind: str = "",
          frm: str = "12345", to: str = "110", peer_ticket: str = "") -> dict[str, str]:
    return {"direction": direction, "message_id": message_id, "type": type_, "kind": kind, "from": frm, "to": to,
            "ticket": T12345, "peer_ticket": peer_ticket, "seq": "1", "outcome": outcome, "reason": "",
            "at": repr(at)}


def test_a_message_counts_once_when_the_receiver_took_it():
    entries = [audit("out", "handover", "queued", T0, kind="push"),
               audit("out", "handover", "retry", T0 + 1, kind="push"),
               audit("out", "handover", "applied", T0 + 2, kind="push"),
               audit("out", "handover", "duplicate", T0 + 9, kind="push")]  # a lost answer, sent again
    [once] = taken(entries)
    assert once["outcome"] == "applied"
    assert exchange_ways(entries, T0, T0 + 100)["12345->110"]["系统推送"] == 1


def test_a_message_held_then_applied_counts_once_on_the_receiver():
    entries = [audit("in", "status", "held", T0, kind="result", frm="110", to="12345"),
               audit("in", "status", "applied", T0 + 1, kind="result", frm="110", to="12345")]
    assert exchange_ways(entries, T0, T0 + 100)["110->12345"] == {**dict.fromkeys(FIGURES, 0), "反馈": 1, "办结": 1}


def test_messages_not_taken_count_nowhere():
    entries = [audit("out", "handover", "queued", T0, kind="transfer"),
               audit("out", "handover", "rejected", T0 + 1, kind="transfer"),
               audit("in", "status", "refused", T0 + 2, message_id="m2", frm="110", to="12345")]
    ways = exchange_ways(entries, T0, T0 + 100)
    assert ways == {"12345->110": dict.fromkeys(FIGURES, 0), "110->12345": dict.fromkeys(FIGURES, 0)}


def test_only_messages_taken_within_the_period_count():
    entries = [audit("out", "supervise", "applied", T0 - 1, message_id="before"),
               audit("out", "supervise", "applied", T0, message_id="first"),
               audit("out", "supervise", "applied", T0 + 100, message_id="after")]
    assert exchange_ways(entries, T0, T0 + 100)["12345->110"]["督办"] == 1


@pytest.mark.parametrize(("entry", "figures"), [
    (audit("in", "handover", "applied", T0, kind="transfer"), ("一键转接",)),
    (audit("in", "handover", "applied", T0, kind="conference"), ("三方通话",)),
    (audit("in", "handover", "refused_at_boundary", T0, kind="push", peer_ticket=T110), ("系统推送", "回流")),
    (audit("in", "bounce", "applied", T0), ("回流",)),
    (audit("in", "received", "applied", T0), ("签收",)),
    (audit("in", "status", "applied", T0, kind="arrived"), ("反馈",)),
    (audit("in", "status", "applied", T0, kind="result"), ("反馈", "办结")),
    (audit("in", "supervise", "applied", T0), ("督办",)),
])
def test_what_each_message_adds(entry, figures):
    assert figures_of(entry) == figures


def test_with_the_channel_on_handovers_and_bounces_come_from_the_messages_not_the_event_log():
    log = [{"event": "linkage.handover", "at": T0, "data": {"source": "12345", "target": "110", "mode": "一键转接"}}]
    messages = [audit("out", "handover", "applied", T0, message_id="a", kind="push"),
                audit("in", "bounce", "applied", T0 + 1, message_id="b", frm="110", to="12345"),
                audit("in", "received", "applied", T0 + 2, message_id="c", frm="110", to="12345")]
    report = compute(log, T0, T0 + 100, exchange=exchange_ways(messages, T0, T0 + 100))
    assert report["handovers"] == {"12345->110": {"一键转接": 0, "三方通话": 0, "系统推送": 1, "回流": 0},
                                   "110->12345": {"一键转接": 0, "三方通话": 0, "系统推送": 0, "回流": 1}}
    assert report["platforms"]["12345"]["bounced_in"] == 1
    assert report["exchange"]["110->12345"]["签收"] == 1
    assert "交互通道" in report["definitions"]["handovers"]
    # one deployment: the event log, as before
    alone = compute(log, T0, T0 + 100)
    assert alone["exchange"] is None and alone["handovers"]["12345->110"]["一键转接"] == 1
