"""Which audit entries make which entry of the exchanged cases' index (the backfill's pure
decision): an outgoing handover queued is an ``out`` case, an incoming handover applied an
``in`` case of the ticket it opened and is linked to, each at its first time; refusals,
retries and the other types make none; a corrupt entry is skipped with why. Entries are the
audit's own (``exchange.audit.entry``); times come from the samples' NOW."""

from __future__ import annotations

from typing import Any

from exchange.audit import entry
from exchange.audit_cases import Found, HandedOut, Skipped, TakenIn, case_entries, found_in
from exchange.messages import Envelope
from tests.unit.exchange_samples import NOW, T110, T12345, envelope
from tickets.store import TICKET_TTL_S

OPENED = "12345-20261124-000040"  # 12345's ticket a handover from 110 opened
EVER = NOW - TICKET_TTL_S  # no case is too old


def rows(*entries: tuple[str, Envelope, str, float]) -> list[tuple[str, dict[str, str]]]:
    """XRANGE's rows of audit entries (direction, envelope, outcome, at), ids in order."""
    return [(f"{n + 1}-0", entry(direction, env, outcome, at))
            for n, (direction, env, outcome, at) in enumerate(entries)]


def from_110(mode: str = "transfer", **changes: Any) -> Envelope:
    return envelope("handover", from_platform="110", ticket=T110, mode=mode, **changes)


def test_an_outgoing_handover_queued_is_an_out_case_at_its_time():
    found = found_in(rows(("out", envelope("handover"), "queued", NOW),
                          ("out", envelope("handover"), "acknowledged", NOW + 5)))
    assert found == Found(handed_out=[HandedOut(T12345, NOW)])
    assert case_entries(found, {}, EVER) == {f"{T12345}:out": NOW}


def test_an_incoming_handover_applied_is_an_in_case_of_the_ticket_it_opened():
    sent = from_110()
    found = found_in(rows(("in", sent, "applied", NOW + 1)))
    assert found.taken_in == [TakenIn(sent.message_id, "110", T110, "transfer", NOW + 1)]
    assert found.taken_in[0].stream == f"110:{T110}" and not found.taken_in[0].by_push
    assert case_entries(found, {sent.message_id: OPENED}, EVER) == {f"{OPENED}:in": NOW + 1}
    # not taken (the applier has not opened it, or its stream is not linked): no case
    assert case_entries(found, {}, EVER) == {}


def test_a_push_is_looked_up_by_push_id():
    [came] = found_in(rows(("in", from_110("push"), "applied", NOW))).taken_in
    assert came.by_push


def test_what_is_no_handover_taken_or_queued_makes_no_case():
    refused = from_110(restricted=True)  # content under the restricted flag: the boundary refuses it
    found = found_in(rows(
        ("in", refused, "refused_at_boundary", NOW),
        ("in", from_110(), "held", NOW),
        ("in", from_110(), "duplicate", NOW),
        ("in", from_110(), "refused", NOW),
        ("out", envelope("handover"), "retry", NOW),
        ("out", envelope("handover"), "rejected", NOW),
        ("out", envelope("supervise"), "queued", NOW),
        ("in", envelope("received"), "applied", NOW),
        ("in", envelope("status"), "applied", NOW),
        ("in", envelope("bounce"), "applied", NOW),
    ))
    assert found == Found()
    assert case_entries(found, {refused.message_id: OPENED}, EVER) == {}


def test_each_case_is_at_its_first_handover_that_way():
    sent, again = from_110(), from_110("conference")
    found = found_in(rows(("out", envelope("handover"), "queued", NOW + 60),
                          ("out", envelope("handover", mode="conference"), "queued", NOW),
                          ("in", sent, "applied", NOW + 30), ("in", again, "applied", NOW + 10)))
    assert case_entries(found, {sent.message_id: OPENED, again.message_id: OPENED}, EVER) == \
        {f"{T12345}:out": NOW, f"{OPENED}:in": NOW + 10}


def test_a_ticket_handed_out_and_back_is_one_case_each_way():
    back = envelope("handover", from_platform="110", ticket=T110, mode="push")
    found = found_in(rows(("out", envelope("handover"), "queued", NOW), ("in", back, "applied", NOW + 60)))
    assert case_entries(found, {back.message_id: OPENED}, EVER) == {f"{T12345}:out": NOW, f"{OPENED}:in": NOW + 60}


def test_cases_older_than_the_tickets_make_none():
    found = found_in(rows(("out", envelope("handover"), "queued", NOW - 10)))
    assert case_entries(found, {}, NOW - 5) == {}
    assert case_entries(found, {}, NOW - 10) == {f"{T12345}:out": NOW - 10}


def test_a_corrupt_entry_is_skipped_with_why_and_the_others_count():
    good = entry("out", envelope("handover"), "queued", NOW)
    found = found_in([
        ("1-0", {"direction": "out", "type": "handover"}),
        ("2-0", {**good, "at": "soon"}),
        ("3-0", {**good, "at": "nan"}),
        ("4-0", {**good, "direction": "sideways"}),
        ("5-0", {**good, "ticket": ""}),
        ("6-0", good),
    ])
    assert found.skipped == [
        Skipped("1-0", "no message_id, from, ticket, outcome, at"),
        Skipped("2-0", "'at' is no time: 'soon'"),
        Skipped("3-0", "'at' is no time: 'nan'"),
        Skipped("4-0", "'direction' is 'sideways'"),
        Skipped("5-0", "no ticket"),
    ]
    assert found.handed_out == [HandedOut(T12345, NOW)]
