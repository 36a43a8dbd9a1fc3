"""The analysis API's queries and replies, and its part of the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from analysis.figures import GROUP_KEYS
from analysis.report import REPORT_NAME
from hotline_link.core.zone import HOTLINE_ZONE
from hotline_link.web.bodies import Query, Reply
from hotline_link.web.openapi import COMMON_ERRORS, component_schemas, error_doc, json_doc, query_parameters

_MOMENT = (f"POSIX seconds, or an ISO-8601 date or time ({HOTLINE_ZONE.key} unless an offset is given)")


class RangeQuery(Query):
    from_: str | None = Field(None, alias="from", max_length=40,
                              description=f"the start, included: {_MOMENT}; default: 24 hours before to")
    to: str | None = Field(None, max_length=40, description=f"the end, excluded: {_MOMENT}; default: now; "
                                                           "at most 400 days after from")


class HotspotsQuery(RangeQuery):
    by: str | None = Field(None, max_length=200,
                           description=f"comma-separated keys to group by, any of {', '.join(GROUP_KEYS)}; "
                                       "default: category,division_code")


class AlertsQuery(Query):
    since: str | None = Field(None, max_length=40, description=f"alerts raised from then: {_MOMENT}; "
                                                               "default: the last 24 hours")


class _Ranged(Reply):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: float = Field(alias="from")
    to: float  # excluded


class HotspotGroup(Reply):
    """One group: the value of each key asked for (the others null), the count, the first
    20 tickets."""

    category: str | None
    division_code: str | None
    channel: str | None  # web, sms, app, wechat; "" for a call or a push
    platform: str | None  # the platform that handed the case over, else the ticket's own
    tag: str | None  # "" for tickets with no tag
    day: str | None  # 2026-12-06 (the hotline's day)
    hour: str | None  # 00..23 (the hotline's hour)
    count: int
    ticket_ids: list[str]


class Hotspots(_Ranged):
    by: list[str]
    total: int  # tickets in the range
    groups: list[HotspotGroup]  # most tickets first, then by key


class CategoryCount(Reply):
    category: str
    count: int


class DivisionCount(Reply):
    division_code: str
    count: int


class ChannelCount(Reply):
    channel: str  # "call" for a ticket opened by a call or a push
    count: int


class DayCount(Reply):
    day: str
    count: int


class TagCount(Reply):
    tag: str
    count: int


class CallerCount(Reply):
    caller: str = Field(description="masked, e.g. 138****1234")
    count: int


class FrequentQuestion(Reply):
    category: str  # a consultation category (its name contains 咨询)
    count: int
    example: str  # the latest such ticket's summary (first 100 characters)


class DisputedRow(Reply):
    category: str
    bounced: int  # tickets bounced back between the platforms (回流)
    refused: int  # tickets a unit refused
    redispatched: int  # tickets dispatched again to another lead unit
    total: int  # tickets with any of these


class Summary(_Ranged):
    total: int
    by_category: list[CategoryCount]
    by_division: list[DivisionCount]
    by_channel: list[ChannelCount]
    by_day: list[DayCount]
    tags: list[TagCount]
    repeat_callers: list[CallerCount]  # callers with 2 tickets or more, top 10
    top_places: list[DivisionCount]  # top 10 division codes
    frequent_questions: list[FrequentQuestion]  # 高频咨询, top 10
    disputed: list[DisputedRow]


class AlertView(Reply):
    id: str
    site: str
    kind: Literal["surge", "cue"]
    category: str
    division_code: str
    count: int
    baseline: float
    window_s: float
    first_at: float
    raised_at: float
    ticket_ids: list[str]
    cue: str


class AlertList(Reply):
    alerts: list[AlertView]  # newest first


class ReportView(Reply):
    name: str  # {platform}-{kind}-{period}: a file is name.format
    platform: str
    kind: Literal["monthly", "quarterly", "yearly"]
    period: str  # 2026-11, 2026-Q4, 2026
    formats: list[Literal["html", "csv", "json"]]
    written_at: float


class ReportList(Reply):
    reports: list[ReportView]  # newest period first


SCHEMAS: dict[str, Any] = component_schemas(Hotspots, Summary, AlertList, ReportList)

_ROLES = " (supervisors and admins)"
_BAD = {"422": error_doc("bad from, to, since or by (bad_time_range, bad_grouping)")}

PATHS: dict[str, Any] = {
    "/api/analysis/hotspots": {"get": {
        "summary": "hot spots (热点): this deployment's tickets of a range grouped by any keys" + _ROLES,
        "parameters": query_parameters(HotspotsQuery),
        "responses": {"200": json_doc(Hotspots, "the groups"), **COMMON_ERRORS, **_BAD}}},
    "/api/analysis/summary": {"get": {
        "summary": "a range's summary: by category, division, channel, day, tag; repeat callers, top places, "
                   "frequent questions (高频咨询), disputed tickets" + _ROLES,
        "parameters": query_parameters(RangeQuery),
        "responses": {"200": json_doc(Summary, "the summary"), **COMMON_ERRORS, **_BAD}}},
    "/api/analysis/alerts": {"get": {
        "summary": "early-warning alerts (风险预警): surges against the baseline and danger-cue clusters, "
                   "newest first" + _ROLES,
        "parameters": query_parameters(AlertsQuery),
        "responses": {"200": json_doc(AlertList, "the alerts"), **COMMON_ERRORS, **_BAD}}},
    "/api/analysis/reports": {"get": {
        "summary": "the report packs written (月交流、季会商、年总结)" + _ROLES,
        "responses": {"200": json_doc(ReportList, "the packs"), **COMMON_ERRORS}}},
    "/api/analysis/reports/{name}": {"get": {
        "summary": "one file of a report pack: {platform}-{kind}-{period}.{html,csv,json}" + _ROLES,
        "parameters": [{"name": "name", "in": "path", "required": True,
                        "schema": {"type": "string", "pattern": f"^{REPORT_NAME.pattern}$"}}],
        "responses": {"200": {"description": "the file", "content": {
            "text/html": {"schema": {"type": "string"}}, "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}}}}, **COMMON_ERRORS}}},
}
