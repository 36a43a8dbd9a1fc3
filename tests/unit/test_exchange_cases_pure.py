"""The exchanged cases' pure decisions: the period of from and to (local days and times, the
defaults, the bounds), the cursor, the filter (never matching what a restricted row hides),
a case's trail from its ticket's exchange notes, and the row and its CSV cells."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from exchange.cases import (
    COLUMNS,
    CaseFilter,
    Period,
    Position,
    Trail,
    case_of,
    case_row,
    csv_values,
    cursor_of,
    member,
    period_of,
    position_of,
    trail_of,
)
from exchange.errors import BadQuery
from hotline_link.core.zone import HOTLINE_ZONE
from tests.unit.exchange_samples import NOW, T110, T12345, ticket_110, ticket_12345


def local(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=HOTLINE_ZONE).timestamp()


# NOW is 2026-11-24 22:20 in Beijing
def test_dates_are_whole_local_days_both_included():
    assert period_of("2026-11-20", "2026-11-24", NOW) == Period(local("2026-11-20T00:00"), local("2026-11-25T00:00"))
    assert period_of("2026-11-24", "2026-11-24", NOW) == Period(local("2026-11-24T00:00"), local("2026-11-25T00:00"))


def test_times_are_instants_local_unless_they_name_an_offset():
    assert period_of("2026-11-24T13:00", "2026-11-24T14:30", NOW) == \
        Period(local("2026-11-24T13:00"), local("2026-11-24T14:30"))
    assert period_of("2026-11-24T05:00Z", "2026-11-24", NOW).start == local("2026-11-24T13:00")
    assert period_of("2026-11-24T13:00", "2026-11-24", NOW).end == local("2026-11-25T00:00")  # to that day's end


def test_without_bounds_the_thirty_days_to_the_end_of_today():
    assert period_of(None, None, NOW) == Period(local("2026-10-26T00:00"), local("2026-11-25T00:00"))
    assert period_of("2026-11-01", None, NOW) == Period(local("2026-11-01T00:00"), local("2026-11-25T00:00"))
    assert period_of(None, "2026-11-10", NOW).start == local("2026-10-12T00:00")  # 30 days before 11-11 00:00


@pytest.mark.parametrize("start, end, message", [
    ("2026-11-24", "2026-11-23", "parameter 'to': 2026-11-23 is before from 2026-11-24"),
    ("2026-11-25", "2026-11-24T23:00", "parameter 'to': 2026-11-24T23:00 is before from 2026-11-25"),
    ("2026-11-26", None, "parameter 'from': 2026-11-26 is after today"),
    ("2025-11-23", "2026-11-24", "parameters 'from' and 'to': the period is 367 days long; at most 366"),
    ("24/11/2026", None, "parameter 'from': '24/11/2026' is not a date (2026-11-24) or a time"),
    (None, "2026-11-24T13:00+25:00", "parameter 'to': '2026-11-24T13:00+25:00' is not a date"),
    ("1970-01-01", None, "parameter 'from': '1970-01-01' is out of range: years 1971 to 9998"),
    (None, "9999-12-31", "parameter 'to': '9999-12-31' is out of range"),
])
def test_bounds_it_cannot_take_are_refused_naming_the_parameter(start, end, message):
    with pytest.raises(BadQuery, match="^" + re.escape(message)):
        period_of(start, end, NOW)


def test_a_leap_year_fits_in_one_query():
    period = period_of("2027-11-25", "2028-11-24", NOW + 400 * 86400)
    assert (period.end - period.start) / 86400 == 366


def test_a_cursor_reads_back_and_nothing_else_does():
    position = Position(NOW + 0.125, member(T12345, "out"))
    assert position_of(cursor_of(position)) == position
    for bad in ("", "x", cursor_of(position)[:-3], "e30", "eyJhdCI6dHJ1ZSwiY2FzZSI6IjEyMzQ1LTE6b3V0In0",
                "A" * 500):
        with pytest.raises(ValueError, match="not a cursor this API gave"):
            position_of(bad)


def test_members_name_a_ticket_and_a_direction():
    assert case_of(member(T110, "in")) == (T110, "in")
    assert case_of("110-20261124-000031:sideways") is None and case_of(":in") is None


def test_a_filter_on_content_never_takes_a_restricted_case():
    secret = ticket_110(category="涉案", division_code="370211")
    flagged = ticket_12345(restricted=True)
    for keep in (CaseFilter(category="涉案"), CaseFilter(division_code="370211"), CaseFilter(division_code="37")):
        assert not keep.takes(secret, None)
    assert not CaseFilter(category=flagged.category).takes(flagged, None)
    assert not CaseFilter(category="纠纷").takes(None, None)  # a ticket no longer held shows nothing either
    assert CaseFilter(status="dispatched").takes(secret, "dispatched")  # a state is no content
    assert CaseFilter(division_code="3702").takes(ticket_12345(), None)
    assert not CaseFilter(division_code="3703").takes(ticket_12345(), None)
    assert CaseFilter(direction="in").takes_direction("in") and not CaseFilter(direction="in").takes_direction("out")


NOTES_OUT = [  # 12345's ticket handed to 110 by push: what its story holds
    ("exchange.sent.handover", {"mode": "push", "peer_ticket": ""}),
    ("exchange.received.received", {"peer_ticket": T110, "accepted_by": "system", "at": NOW + 2}),
    ("exchange.received.status", {"peer_ticket": T110, "stage": "dispatched", "at": NOW + 10}),
    ("exchange.received.status", {"peer_ticket": T110, "stage": "arrived", "at": NOW + 20}),
    ("exchange.received.bounce", {"peer_ticket": T110, "reason": "非警务"}),
    ("exchange.sent.supervise", {"peer_ticket": T110, "note": "请反馈"}),
]


def test_an_out_cases_trail_is_what_the_peer_answered():
    assert trail_of("out", NOTES_OUT) == Trail(T110, "push", "arrived", NOW + 20, "system", NOW + 2, 1)
    assert trail_of("in", NOTES_OUT) == Trail()  # nothing came in on this ticket


def test_a_ticket_that_came_in_and_went_back_keeps_its_two_cases_apart():
    notes = [("exchange.received.handover", {"mode": "transfer", "peer_ticket": T110}),
             ("exchange.sent.received", {"peer_ticket": T110, "accepted_by": "1001", "at": NOW + 5}),
             ("exchange.sent.status", {"peer_ticket": T110, "stage": "accepted", "at": NOW + 6}),
             ("exchange.sent.handover", {"mode": "push", "peer_ticket": T110}),  # back to 110 (回流)
             ("exchange.received.received", {"peer_ticket": "110-20261124-000040", "accepted_by": "system",
                                             "at": NOW + 9})]
    assert trail_of("in", notes) == Trail(T110, "transfer", "accepted", NOW + 6, "1001", NOW + 5, 0)
    assert trail_of("out", notes) == Trail("110-20261124-000040", "push", None, None, "system", NOW + 9, 0)


def test_a_restricted_row_shows_what_crosses_for_it():
    trail = trail_of("out", NOTES_OUT)
    row = case_row(T110, "out", NOW, "12345", ticket_110(category="涉案线索"), "arrived", trail)
    assert (row["restricted"], row["category"], row["summary"], row["division_code"], row["emergency"]) == \
        (True, None, None, None, None)
    assert (row["ticket"], row["peer_ticket"], row["handed_at"], row["status"], row["feedback_stage"]) == \
        (T110, T110, NOW, "arrived", "arrived")
    shown = case_row(T12345, "out", NOW, "110", ticket_12345(), None, trail)
    assert (shown["restricted"], shown["category"], shown["division_code"], shown["emergency"]) == \
        (False, "噪音扰民", "370202", False)
    assert list(shown) == list(COLUMNS) and "caller" not in shown
    assert case_row(T12345, "out", NOW, "110", None, None, Trail())["restricted"] is True


def test_csv_cells_are_local_times_words_and_empty_for_nothing():
    row = case_row(T12345, "out", NOW, "110", ticket_12345(), None, trail_of("out", NOTES_OUT))
    cells = dict(zip(COLUMNS, csv_values(row), strict=True))
    assert (cells["handed_at"], cells["signed_for_at"]) == ("2026-11-24T22:20:00+08:00", "2026-11-24T22:20:02+08:00")
    assert (cells["restricted"], cells["emergency"], cells["status"], cells["bounces"]) == ("false", "false", "", 1)
