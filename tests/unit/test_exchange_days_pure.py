"""The report's figures between the platforms kept per local day (linkage.exchange_days), as
pure decisions: what an audit entry adds to its day's counters, the figures folded back from
them (the same as from the log), bad counters left out and said, and which parts of a period
come from the counters and which from the log. Times are offsets from ``MIDNIGHT``, a
Beijing midnight (the counters' days)."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.audit import DAYS_KEPT_S
from linkage.exchange_days import Plan, Skipped, day_fields, day_of, entry_of, fold, plan
from linkage.exchange_figures import FIGURES, add_ways, exchange_ways, no_ways, taken
from linkage.report import MAX_DAYS

ZONE = ZoneInfo("Asia/Shanghai")
MIDNIGHT = dt.datetime(2026, 11, 24, tzinfo=ZONE).timestamp()
DAY = 24 * 3600.0


def audit(direction: str, type_: str, outcome: str, at: float, *, message_id: str = "m1", kind: str = "",
          frm: str = "12345", to: str = "110", peer_ticket: str = "") -> dict[str, str]:
    return {"direction": direction, "message_id": message_id, "type": type_, "kind": kind, "from": frm, "to": to,
            "ticket": "12345-20261124-000017", "peer_ticket": peer_ticket, "seq": "1", "outcome": outcome,
            "reason": "", "at": repr(at)}


def counters_of(entries: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    """The day hashes the audit writes for ``entries``: each message's first taken entry on
    each side counted once (what ``exchange.audit.record`` is told by its caller)."""
    counts: dict[str, Counter[str]] = {}
    for entry in taken(entries):
        for name in day_fields(entry):
            counts.setdefault(day_of(float(entry["at"])), Counter())[name] += 1
    return {day: {name: str(n) for name, n in c.items()} for day, c in counts.items()}


# --- the counters' fields ------------------------------------------------------------------


def test_a_taken_message_adds_one_field_that_says_what_the_report_reads():
    entry = audit("in", "handover", "held", MIDNIGHT, kind="push", frm="110", to="12345",
                  peer_ticket="12345-20261124-000017")
    assert day_fields(entry) == ["in|110|12345|handover|push|named|held"]
    assert entry_of(day_fields(entry)[0]) == {"direction": "in", "from": "110", "to": "12345", "type": "handover",
                                              "kind": "push", "peer_ticket": "named", "outcome": "held"}
    assert day_fields(audit("out", "bounce", "applied", MIDNIGHT)) == ["out|12345|110|bounce|||applied"]


@pytest.mark.parametrize("outcome", ["queued", "acknowledged", "rejected", "resumed", "refused", "retry"])
def test_an_outcome_the_receiver_did_not_take_adds_nothing(outcome):
    assert day_fields(audit("out", "handover", outcome, MIDNIGHT, kind="transfer")) == []


@pytest.mark.parametrize("field", ["", "in|110|12345|handover|push|named", "in|110|12345|handover|push|x|held",
                                   "in|110|12345|handover|push||queued", "a|b|c|d|e|f|g|h"])
def test_a_field_the_audit_never_writes_is_none(field):
    assert entry_of(field) is None


def test_the_day_is_beijings_by_the_entrys_own_time():
    assert day_of(MIDNIGHT - 1) == "2026-11-23" and day_of(MIDNIGHT) == "2026-11-24"
    assert day_of(MIDNIGHT + DAY - 1) == "2026-11-24"
    assert day_of(math.nextafter(MIDNIGHT, 0)) == "2026-11-23"  # not rounded up to midnight


def test_a_days_counters_outlive_the_longest_report():
    assert DAYS_KEPT_S >= (MAX_DAYS + 1) * DAY


# --- folding the counters ------------------------------------------------------------------

MIX = [
    audit("out", "handover", "queued", MIDNIGHT + 10, message_id="a", kind="push"),
    audit("out", "handover", "applied", MIDNIGHT + 11, message_id="a", kind="push"),
    audit("out", "handover", "duplicate", MIDNIGHT + 90, message_id="a", kind="push"),  # its answer was lost
    audit("out", "supervise", "held", MIDNIGHT + 20, message_id="b"),
    audit("in", "handover", "applied", MIDNIGHT + 30, message_id="c", kind="transfer", frm="110", to="12345"),
    audit("in", "handover", "refused_at_boundary", MIDNIGHT + DAY + 5, message_id="d", kind="push", frm="110",
          to="12345", peer_ticket="12345-20261124-000017"),
    audit("in", "status", "held", MIDNIGHT + DAY - 1, message_id="e", kind="result", frm="110", to="12345"),
    audit("in", "status", "applied", MIDNIGHT + DAY + 1, message_id="e", kind="result", frm="110", to="12345"),
    audit("in", "bounce", "applied", MIDNIGHT + 2 * DAY, message_id="f", frm="110", to="12345"),
    audit("in", "received", "applied", MIDNIGHT + 2 * DAY, message_id="g", frm="110", to="12345"),
    audit("in", "status", "refused", MIDNIGHT + 2 * DAY, message_id="h", kind="arrived", frm="110", to="12345"),
    audit("in", "status", "applied", MIDNIGHT + 2 * DAY + 3, message_id="i", kind="arrived", frm="110", to="12345"),
]


def test_the_counters_fold_to_the_figures_the_log_gives():
    counters = counters_of(MIX)
    assert sorted(counters) == ["2026-11-24", "2026-11-25", "2026-11-26"]
    folded = fold(counters)
    assert folded.skipped == ()
    assert folded.ways == exchange_ways(MIX, MIDNIGHT, MIDNIGHT + 3 * DAY)
    assert folded.ways == {"12345->110": {**dict.fromkeys(FIGURES, 0), "系统推送": 1, "督办": 1},
                           "110->12345": {**dict.fromkeys(FIGURES, 0), "一键转接": 1, "系统推送": 1, "回流": 2,
                                          "签收": 1, "反馈": 2, "办结": 1}}


ENTRIES = st.lists(st.builds(
    audit, st.sampled_from(["in", "out"]), st.sampled_from(["handover", "received", "status", "bounce", "supervise"]),
    st.sampled_from(["applied", "held", "duplicate", "refused_at_boundary", "refused", "queued"]),
    st.floats(MIDNIGHT, MIDNIGHT + 5 * DAY, exclude_max=True),
    message_id=st.sampled_from("abcdefgh"), kind=st.sampled_from(["", "transfer", "push", "result", "arrived"]),
    frm=st.sampled_from(["12345", "110"]), to=st.sampled_from(["110", "12345"]),
    peer_ticket=st.sampled_from(["", "110-20261124-000031"])), max_size=40)


@given(entries=ENTRIES)
def test_any_messages_fold_from_the_counters_as_from_the_log(entries):
    assert fold(counters_of(entries)).ways == exchange_ways(entries, MIDNIGHT, MIDNIGHT + 5 * DAY)


def test_a_counter_that_is_no_count_or_no_field_is_left_out_and_said():
    counters = {"2026-11-24": {"out|12345|110|supervise|||applied": "2", "out|12345|110|supervise|||held": "x",
                               "in|110|12345|bounce|||applied": "-1", "garbage": "3"}}
    folded = fold(counters)
    assert folded.ways["12345->110"]["督办"] == 2 and folded.ways["110->12345"]["回流"] == 0
    assert folded.skipped == (Skipped("2026-11-24", "garbage", "3", "unknown field"),
                              Skipped("2026-11-24", "in|110|12345|bounce|||applied", "-1", "not a count"),
                              Skipped("2026-11-24", "out|12345|110|supervise|||held", "x", "not a count"))


def test_figures_counted_apart_add_up():
    one = {**no_ways(), "?->110": {**dict.fromkeys(FIGURES, 0), "督办": 1}}
    two = no_ways()
    two["12345->110"]["督办"] = 2
    total = add_ways(one, two)
    assert total["12345->110"]["督办"] == 2 and total["?->110"]["督办"] == 1 and total["110->12345"]["督办"] == 0


# --- where a period's figures come from ----------------------------------------------------


def test_whole_beijing_days_counted_since_before_come_from_the_counters_only():
    assert plan(MIDNIGHT, MIDNIGHT + 3 * DAY, since=MIDNIGHT - 400 * DAY) == Plan(
        ("2026-11-24", "2026-11-25", "2026-11-26"), ())


def test_with_nothing_ever_counted_the_period_comes_from_the_log():
    assert plan(MIDNIGHT, MIDNIGHT + 3 * DAY, since=None) == Plan((), ((MIDNIGHT, MIDNIGHT + 3 * DAY),))


def test_the_days_before_counting_began_come_from_the_log_and_that_days_hours_before_it_too():
    since = MIDNIGHT + DAY + 3600  # the first message counted: 01:00 on the second day
    assert plan(MIDNIGHT, MIDNIGHT + 3 * DAY, since) == Plan(("2026-11-25", "2026-11-26"), ((MIDNIGHT, since),))


def test_a_period_in_another_zone_takes_its_edge_hours_from_the_log():
    utc = dt.UTC
    start = dt.datetime(2026, 11, 24, tzinfo=utc).timestamp()  # 08:00 in Beijing
    end = dt.datetime(2026, 11, 26, tzinfo=utc).timestamp()
    assert plan(start, end, since=0.0) == Plan(("2026-11-25",), ((start, MIDNIGHT + DAY), (MIDNIGHT + 2 * DAY, end)))


def test_an_empty_period_reads_nothing():
    assert plan(MIDNIGHT, MIDNIGHT, since=0.0) == Plan((), ())


@given(start=st.floats(MIDNIGHT - 3 * DAY, MIDNIGHT + 3 * DAY), length=st.floats(0, 6 * DAY),
       since=st.none() | st.floats(MIDNIGHT - 4 * DAY, MIDNIGHT + 10 * DAY))
def test_the_counters_and_the_log_cover_the_period_once(start, length, since):
    end = start + length
    covered = plan(start, end, since)
    midnights = [dt.datetime.fromisoformat(day).replace(tzinfo=ZONE).timestamp() for day in covered.days]
    assert since is not None or not midnights
    pieces = sorted([(max(low, since or low), low + DAY) for low in midnights] + list(covered.spans))
    pieces = [(low, high) for low, high in pieces if low < high]
    if not start < end:
        assert pieces == []
        return
    assert pieces[0][0] == start and pieces[-1][1] == end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))  # no gap, no overlap
    assert all(since is not None and since < low + DAY for low in midnights)  # counted once counting began
