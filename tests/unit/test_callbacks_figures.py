"""The callback queue's figures: the supervisor page's (``supervisor.figures``) and the
linkage report's columns (``linkage.callback_figures``), from the steps the queue logs."""

from __future__ import annotations

import csv
import io

from hotline_link.core.bus import BusEvent
from hotline_link.core.events import CallbackStep, payload
from linkage.report import compute, render_csv, render_html
from supervisor.figures import Count, Dashboard
from supervisor.history import COUNTERS


def _step(step: str, *, source: str = "ivr", attempt: int = 0, reason: str = "", pending: int = 1,
          site: str = "12345", request_id: str = "cb1") -> CallbackStep:
    return CallbackStep(request_id=request_id, site=site, ticket_id="12345-20261207-000001", source=source,
                        stage="x", step=step, attempt=attempt, agent="1001", reason=reason, pending=pending)


def _logged(at: float, event: CallbackStep) -> dict[str, object]:
    return {"event": CallbackStep.NAME, "at": at, "data": BusEvent.of(event).data}


RUN = [  # one period's steps on two platforms
    _step("requested", pending=1),
    _step("offered"), _step("agent_no_answer"), _step("offered"), _step("agent_answered", attempt=1),
    _step("connected", attempt=1, pending=0),
    _step("requested", source="missed", request_id="cb2", pending=1),
    _step("agent_answered", source="missed", attempt=1, request_id="cb2"),
    _step("unanswered", source="missed", attempt=1, reason="BUSY", request_id="cb2"),
    _step("agent_answered", source="missed", attempt=2, request_id="cb2"),  # not a second missed callback
    _step("failed", source="missed", attempt=2, reason="NOANSWER", request_id="cb2", pending=0),
    _step("requested", source="missed", request_id="cb3", site="110"),
    _step("skipped", source="missed", reason="answered", request_id="cb3", site="110", pending=0),
    _step("requested", source="missed", request_id="cb4", site="110"),
    _step("skipped", source="missed", reason="opted_out", request_id="cb4", site="110", pending=0),
]


def test_the_supervisor_page_counts_the_callbacks_of_the_last_hour():
    board = Dashboard(["12345", "110"], {"1001": "12345"})
    counts: list[Count] = []
    for i, step in enumerate(RUN):
        counts += board.apply(step, 1000.0 + i)
    board.apply(_step("requested", pending=3, request_id="cb9"), 1100.0)
    sites = board.snapshot(1200.0)["sites"]
    assert {k: v for k, v in sites["12345"].items() if "callback" in k} == {
        "callbacks_pending": 3, "callbacks_done_last_hour": 1, "callbacks_failed_last_hour": 1,
        "missed_callbacks_made_last_hour": 1, "missed_callbacks_skipped_answered_last_hour": 0,
        "callbacks_last_step_at": 1100.0}
    assert {k: v for k, v in sites["110"].items() if "callback" in k} == {
        "callbacks_pending": 0, "callbacks_done_last_hour": 0, "callbacks_failed_last_hour": 0,
        "missed_callbacks_made_last_hour": 0, "missed_callbacks_skipped_answered_last_hour": 1,
        "callbacks_last_step_at": 1000.0 + len(RUN) - 1}
    assert sorted((c.site, c.field) for c in counts) == [
        ("110", "missed_callbacks_skipped_answered"), ("12345", "callbacks_done"), ("12345", "callbacks_failed"),
        ("12345", "missed_callbacks_made")]
    assert len({c.once for c in counts}) == 4  # each counted once across instances
    assert {c.field for c in counts} <= set(COUNTERS)  # in the history's CSV export
    later = board.snapshot(1000.0 + 3600 + 100)["sites"]["12345"]  # out of the window
    assert later["callbacks_done_last_hour"] == 0 and later["callbacks_pending"] == 3


def test_a_step_of_an_unknown_site_or_a_bad_pending_changes_nothing():
    board = Dashboard(["12345"], {})
    assert board.apply(_step("connected", site="999"), 1.0) == []
    board.apply(_step("requested", pending=2), 1.0)
    board.apply(CallbackStep(**{**payload(_step("offered")), "pending": -1}), 2.0)
    assert board.snapshot(3.0)["sites"]["12345"]["callbacks_pending"] == 2


def test_every_step_of_a_site_marks_when_it_was_seen_so_the_page_reads_its_list_anew():
    """A step that moves no figure (offered: the request is with an agent now) still changes
    the open list; the page re-reads it when ``callbacks_last_step_at`` moves."""
    board = Dashboard(["12345", "110"], {})
    assert board.snapshot(1.0)["sites"]["12345"]["callbacks_last_step_at"] is None
    board.apply(_step("requested", pending=1), 10.0)
    before = {k: v for k, v in board.snapshot(11.0)["sites"]["12345"].items() if k != "callbacks_last_step_at"}
    board.apply(_step("offered", pending=1), 20.0)
    after = board.snapshot(21.0)["sites"]["12345"]
    assert after["callbacks_last_step_at"] == 20.0
    assert {k: v for k, v in after.items() if k != "callbacks_last_step_at"} == before
    assert board.snapshot(21.0)["sites"]["110"]["callbacks_last_step_at"] is None  # another site's step
    board.apply(_step("offered", site="999"), 30.0)  # a site not shown here: nothing
    assert [s["callbacks_last_step_at"] for s in board.snapshot(31.0)["sites"].values()] == [20.0, None]


def test_the_report_has_callback_columns_per_platform():
    events = [_logged(1000.0 + i, step) for i, step in enumerate(RUN)]
    events.append(_logged(99_999.0, _step("connected")))  # after the period
    report = compute(events, 1000.0, 2000.0)
    assert report["callback_queue"] == {
        "110": {"requests": 2, "done": 0, "failed": 0, "agent_no_answer": 0, "missed_made": 0,
                "missed_skipped_answered": 1},
        "12345": {"requests": 2, "done": 1, "failed": 1, "agent_no_answer": 1, "missed_made": 1,
                  "missed_skipped_answered": 0}}
    assert report["platforms"] == {}  # the closed loop's figures are not touched
    rows = list(csv.reader(io.StringIO(render_csv(report))))
    assert ["callback_queue", "12345", "done", "1"] in rows and ["callback_queue", "110", "requests", "2"] in rows
    page = render_html(report, "报告", "2026-12-01 至 2026-12-07")
    assert "回电接通" in page and "漏接已接通免回拨" in page
    assert "<td>12345</td><td>2</td><td>1</td><td>1</td><td>1</td><td>1</td><td>0</td>" in page
