"""The analysis API's errors: each an HTTP answer with a stable code."""

from __future__ import annotations

from hotline_link.core.errors import HttpError


class AnalysisError(HttpError):
    status, code = 422, "bad_analysis_query"


class BadRange(AnalysisError):
    code = "bad_time_range"


class BadGrouping(AnalysisError):
    code = "bad_grouping"


class NoSuchReport(HttpError):
    status, code = 404, "no_such_report"
