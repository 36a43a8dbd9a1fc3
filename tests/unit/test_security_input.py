"""Regressions of what fuzzing the HTTP API found: each bad input is a clear 4xx error."""

from __future__ import annotations

import pytest

from linkage.errors import BadRange
from linkage.report import parse_range


@pytest.mark.parametrize("start, end", [("0214-05-05", "0214-05-05"), ("1969-12-31", "1970-01-01"),
                                        ("9999-12-31", "9999-12-31"), ("0001-01-01", "0001-01-02")])
def test_report_dates_outside_the_journal_are_a_bad_range(start, end):
    # GET /supervisor/report?from=0214-05-05 gave a negative Redis stream id: a 500
    with pytest.raises(BadRange):
        parse_range(start, end)


def test_report_range_still_accepts_ordinary_dates():
    start, end = parse_range("2026-11-01", "2026-11-24")
    assert end - start == 24 * 86400
    assert (BadRange.status, BadRange.code) == (400, "bad_range")
