"""风险预警 on the supervisor page: an ``analysis.alert`` is listed with the alerts, its
detail the cue or category, the division, the count and (for a surge) the baseline."""

from __future__ import annotations

from hotline_link.core.events import AnalysisAlert
from supervisor.figures import Dashboard
from supervisor.service import _WATCHED

T0 = 1_800_000_000.0


def test_an_analysis_alert_is_listed_with_its_figures():
    d = Dashboard(("12345", "110"), {"1001": "12345"})
    d.apply(AnalysisAlert("al-1", "12345", "cue", "燃气", "320602", 6, 0.0, 3600.0, T0 - 600,
                          ["12345-20261206-000001"], "燃气泄漏"), T0)
    d.apply(AnalysisAlert("al-2", "12345", "surge", "供水", "320611", 12, 0.4285714, 3600.0, T0 - 900, [], ""),
            T0 + 1)
    d.apply(AnalysisAlert("al-3", "110", "surge", "盗窃", "", 5, 0.0, 3600.0, T0 - 900, [], ""), T0 + 2)
    assert [(a["kind"], a["site"], a["detail"]) for a in d.snapshot(T0 + 10)["alerts"]] == [
        ("analysis.alert", "12345", "燃气泄漏 320602 ×6"),
        ("analysis.alert", "12345", "供水 320611 ×12 (基线 0.43)"),
        ("analysis.alert", "110", "盗窃 ×5 (基线 0)")]
    assert AnalysisAlert in _WATCHED  # it wakes the page
