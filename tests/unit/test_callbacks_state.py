"""The callback request's state machine (call_control.callbacks.state): every transition,
the retry limit, an agent's no-answer not counting, merging a second request."""

from __future__ import annotations

from dataclasses import replace

import pytest

from call_control.callbacks.state import (
    AgentAnswered,
    AgentNoAnswer,
    Close,
    Connected,
    Note,
    Offer,
    OfferRefused,
    Originate,
    PastCall,
    Policy,
    ReleaseSeat,
    Request,
    Reschedule,
    Ringing,
    Skip,
    Stage,
    Timeout,
    Unanswered,
    merge,
    missed_verdict,
    pick_agent,
    step,
)

POLICY = Policy(attempts=3, retry_s=300.0, agent_retry_s=30.0, offer_timeout_s=45.0, connect_timeout_s=180.0)


def _request(**changes: object) -> Request:
    base = Request(id="cb1", site="12345", number="13812345678", masked="138****5678", source="ivr",
                   call_id="c1", ticket_id="12345-20261207-000001", created_at=1000.0, due_at=1000.0,
                   sources=("ivr",), updated_at=1000.0)
    return replace(base, **changes)  # type: ignore[arg-type]


def _offered(now: float = 1010.0) -> Request:
    request, actions = step(_request(), Offer("1001", "chan-1", now), POLICY)
    assert actions == (Note("offered"), Originate())
    return request


def _connecting(attempts_before: int = 0) -> Request:
    request = replace(_offered(), attempts=attempts_before)
    request, _ = step(request, Ringing("chan-1", 1011.0), POLICY)
    request, actions = step(request, AgentAnswered("chan-1", 1015.0), POLICY)
    assert actions == (Note("agent_answered"),)
    return request


def test_offer_claims_the_agent_and_originates():
    request = _offered()
    assert (request.stage, request.agent, request.channel_id) == (Stage.OFFERING, "1001", "chan-1")
    assert request.due_at == 1010.0 + POLICY.offer_timeout_s  # given up on if Asterisk says nothing
    assert request.attempts == 0


def test_ringing_then_agent_answered_dials_the_citizen_and_counts_an_attempt():
    request, actions = step(_offered(), Ringing("chan-1", 1011.0), POLICY)
    assert request.stage is Stage.AGENT_RINGING and actions == ()
    request, _ = step(request, AgentAnswered("chan-1", 1015.0), POLICY)
    assert (request.stage, request.attempts, request.due_at) == (Stage.CONNECTING, 1, 1015.0 + 180.0)


def test_agent_answered_straight_from_offering():
    request, actions = step(_offered(), AgentAnswered("chan-1", 1012.0), POLICY)
    assert request.stage is Stage.CONNECTING and actions == (Note("agent_answered"),)


def test_connected_is_done_and_closes():
    request, actions = step(_connecting(), Connected("chan-1", 1030.0), POLICY)
    assert request.stage is Stage.DONE and actions == (Note("connected"), Close())


@pytest.mark.parametrize("ringing", [False, True])
def test_agent_no_answer_goes_back_to_the_queue_without_an_attempt(ringing: bool):
    request = _offered()
    if ringing:
        request, _ = step(request, Ringing("chan-1", 1011.0), POLICY)
    after, actions = step(request, AgentNoAnswer("chan-1", "reason 3", 1040.0), POLICY)
    assert (after.stage, after.attempts, after.agent, after.channel_id) == (Stage.PENDING, 0, "", "")
    assert after.declined == ("1001",)  # offered to another agent next
    assert after.due_at == 1040.0 + POLICY.agent_retry_s
    assert actions == (ReleaseSeat("1001", "chan-1"), Note("agent_no_answer", "reason 3", "1001"))


def test_offer_refused_by_asterisk_frees_the_seat_and_waits():
    after, actions = step(_offered(), OfferRefused("chan-1", "AMI not connected", 1011.0), POLICY)
    assert after.stage is Stage.PENDING and after.attempts == 0
    assert actions == (ReleaseSeat("1001", "chan-1"), Note("offer_refused", "AMI not connected", "1001"))


def test_unanswered_citizen_retries_after_the_spacing():
    after, actions = step(_connecting(), Unanswered("chan-1", "BUSY", 1050.0), POLICY)
    assert (after.stage, after.attempts, after.due_at, after.reason) == (Stage.RETRY, 1, 1350.0, "BUSY")
    assert (after.agent, after.channel_id) == ("", "")
    assert actions == (Note("unanswered", "BUSY"),)


def test_the_last_attempt_unanswered_fails_and_closes():
    after, actions = step(_connecting(attempts_before=2), Unanswered("chan-1", "NOANSWER", 1050.0), POLICY)
    assert (after.stage, after.attempts) == (Stage.FAILED, 3)
    assert actions == (Note("failed", "NOANSWER"), Close())


def test_retry_limit_over_a_whole_run():
    """Three unanswered attempts with agents letting it ring in between: only the citizen's count."""
    request, now = _request(), 1000.0
    for attempt in range(1, 4):
        for agent, channel in ((f"10{attempt}1", f"a{attempt}"), (f"10{attempt}2", f"b{attempt}")):
            request, _ = step(request, Offer(agent, channel, now), POLICY)
            if channel.startswith("a"):
                request, _ = step(request, AgentNoAnswer(channel, "reason 3", now + 20), POLICY)
                assert request.attempts == attempt - 1
                now += 60
        request, _ = step(request, AgentAnswered(request.channel_id, now + 5), POLICY)
        request, actions = step(request, Unanswered(request.channel_id, "NOANSWER", now + 30), POLICY)
        assert request.attempts == attempt
        now = request.due_at
    assert request.stage is Stage.FAILED and Close() in actions


def test_retry_is_offered_like_pending():
    retry, _ = step(_connecting(), Unanswered("chan-1", "BUSY", 1050.0), POLICY)
    after, actions = step(retry, Offer("1002", "chan-2", 1400.0), POLICY)
    assert (after.stage, after.agent, after.attempts) == (Stage.OFFERING, "1002", 1)
    assert actions == (Note("offered"), Originate())
    # an agent letting the second attempt ring out keeps it a retry with its attempt
    back, _ = step(after, AgentNoAnswer("chan-2", "reason 3", 1420.0), POLICY)
    assert (back.stage, back.attempts) == (Stage.RETRY, 1)


def test_timeouts():
    offered = _offered()
    assert step(offered, Timeout(1020.0), POLICY) == (offered, ())  # not due yet
    back, actions = step(offered, Timeout(offered.due_at), POLICY)
    assert back.stage is Stage.PENDING and actions[0] == ReleaseSeat("1001", "chan-1")
    connecting = _connecting()
    after, actions = step(connecting, Timeout(connecting.due_at + 1), POLICY)
    assert (after.stage, after.reason, after.attempts) == (Stage.RETRY, "NOREPORT", 1)
    assert step(_request(), Timeout(99999.0), POLICY) == (_request(), ())  # waiting: nothing to time out


def test_skip_and_reschedule_only_while_waiting():
    skipped, actions = step(_request(), Skip("answered", 1100.0), POLICY)
    assert skipped.stage is Stage.SKIPPED and actions == (Note("skipped", "answered"), Close())
    later, actions = step(_request(), Reschedule(5000.0, 1100.0), POLICY)
    assert (later.stage, later.due_at, actions) == (Stage.PENDING, 5000.0, ())
    offered = _offered()
    assert step(offered, Skip("answered", 1100.0), POLICY) == (offered, ())
    assert step(offered, Reschedule(5000.0, 1100.0), POLICY) == (offered, ())


def test_events_of_another_attempt_or_in_the_wrong_state_change_nothing():
    offered = _offered()
    for event in (AgentAnswered("chan-old", 1011.0), AgentNoAnswer("chan-old", "x", 1011.0),
                  Connected("chan-1", 1011.0), Unanswered("chan-old", "BUSY", 1011.0)):
        assert step(offered, event, POLICY) == (offered, ())
    connecting = _connecting()
    for event in (AgentNoAnswer("chan-1", "x", 1020.0), Ringing("chan-1", 1020.0), AgentAnswered("chan-1", 1020.0),
                  Offer("1002", "chan-9", 1020.0)):
        assert step(connecting, event, POLICY) == (connecting, ())
    done, _ = step(connecting, Connected("chan-1", 1030.0), POLICY)
    for event in (Connected("chan-1", 1031.0), Unanswered("chan-1", "BUSY", 1031.0), Timeout(99999.0)):
        assert step(done, event, POLICY) == (done, ())
    pending = _request()
    assert step(pending, Offer("", "chan-1", 1.0), POLICY) == (pending, ())  # no agent: no offer
    assert step(pending, Connected("", 1.0), POLICY) == (pending, ())


def test_unanswered_while_offering_counts_the_lost_agent_answer():
    after, _ = step(_offered(), Unanswered("chan-1", "BUSY", 1030.0), POLICY)
    assert (after.stage, after.attempts) == (Stage.RETRY, 1)


def test_merge_keeps_the_first_request_and_adds_the_second():
    first = _request(due_at=2000.0)
    second = _request(id="cb2", source="web", sources=("web",), call_id="", ticket_id="12345-20261207-000009",
                      created_at=1500.0, due_at=1500.0)
    merged, actions = merge(first, second)
    assert (merged.id, merged.ticket_id, merged.tickets) == ("cb1", first.ticket_id, ("12345-20261207-000009",))
    assert merged.sources == ("ivr", "web") and merged.due_at == 1500.0
    assert actions == (Note("merged", "web"),)
    again, _ = merge(merged, second)  # the same ticket twice is listed once
    assert again.tickets == ("12345-20261207-000009",)


def test_merge_into_a_missed_call_request_gives_it_the_ticket_and_lifts_the_skip_rules():
    missed = _request(source="missed", sources=("missed",), ticket_id="", deadline=2800.0, missed_at=1000.0)
    assert missed.missed_only
    asked = _request(id="cb2", call_id="c2", created_at=1200.0, due_at=1200.0)
    merged, _ = merge(missed, asked)
    assert merged.ticket_id == asked.ticket_id and merged.deadline == 2800.0 and not merged.missed_only
    assert missed_verdict(merged, [PastCall("c3", 1100.0, True)], opted_out=True) is None


def test_merge_into_an_attempt_under_way_keeps_its_times_and_a_finished_one_is_not_merged():
    offered = _offered()
    merged, _ = merge(offered, _request(id="cb2", due_at=1.0, created_at=1.0))
    assert merged.due_at == offered.due_at and merged.stage is Stage.OFFERING
    done = replace(offered, stage=Stage.DONE)
    assert merge(done, _request(id="cb2")) == (done, ())


def test_missed_call_verdicts():
    missed = _request(source="missed", sources=("missed",), call_id="m1", missed_at=1000.0)
    assert missed_verdict(missed, [], opted_out=False) is None
    assert missed_verdict(missed, [], opted_out=True) == "opted_out"
    assert missed_verdict(missed, [PastCall("c2", 1100.0, True)], opted_out=False) == "answered"
    # unanswered later calls, earlier answered ones and the missed call itself do not count
    assert missed_verdict(missed, [PastCall("c2", 1100.0, False), PastCall("c0", 900.0, True),
                                   PastCall("m1", 1000.0, True)], opted_out=False) is None
    asked = _request()
    assert missed_verdict(asked, [PastCall("c2", 1100.0, True)], opted_out=True) is None


def test_pick_agent_prefers_one_who_did_not_let_it_ring_out():
    assert pick_agent(["1001", "1002"], ["1001"]) == "1002"
    assert pick_agent(["1001"], ["1001"]) == "1001"  # the only free one: offered again
    assert pick_agent([], []) is None


def test_a_request_round_trips_through_json_and_a_bad_record_is_refused():
    request = replace(_connecting(), declined=("1003",), tickets=("t2",))
    assert Request.loads(request.dumps()) == request
    for bad in ("[]", "{\"id\": \"x\"}", "{\"stage\": \"nope\"}", "not json"):
        with pytest.raises((ValueError, KeyError, TypeError)):
            Request.loads(bad)
