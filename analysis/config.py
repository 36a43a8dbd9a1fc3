"""The analysis settings: its ``[analysis]`` table (and ``[[analysis.tag_rules]]``)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hotline_link.core.settings import Section

Word = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")]


class TagRule(BaseModel):
    """A rule tag: a ticket gets ``tag`` when its category is one of ``categories`` (if any
    are given) and its summary contains one of ``words`` (if any are given)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tag: Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")]
    categories: tuple[Word, ...] = ()
    words: tuple[Word, ...] = ()


class AnalysisConfig(Section):
    table: ClassVar[str] = "analysis"

    # a surge: the last alert_window_s against the same clock window on each of the
    # baseline_days before; raised at >= alert_min_count and >= alert_ratio x the baseline
    # (a baseline under alert_baseline_floor counts as the floor, so 0 is not "infinitely" less)
    alert_window_s: Annotated[float, Field(ge=300, le=86400)] = 3600.0
    baseline_days: Annotated[int, Field(ge=1, le=28)] = 7
    alert_min_count: Annotated[int, Field(ge=1, le=100000)] = 5
    alert_ratio: Annotated[float, Field(gt=1.0, le=1000)] = 3.0
    alert_baseline_floor: Annotated[float, Field(gt=0, le=1000)] = 0.5
    # a danger-cue cluster: this many tickets of one division in the window naming one cue
    cue_min_count: Annotated[int, Field(ge=2, le=100000)] = 3
    alert_scan_s: Annotated[float, Field(ge=5, le=3600)] = 30.0
    # where the report packs (月交流、季会商、年总结) are written; empty: state_dir/reports/analysis
    reports_dir: str = ""
    tag_rules: tuple[TagRule, ...] = ()
