"""The linkage report (月交流、季会商、年总结): figures computed from the event log, rendered
as JSON, CSV or HTML (inline SVG charts, A4 print CSS, no outside assets). Pure.

The definitions (口径) are ``DEFINITIONS`` below; the JSON carries them and the HTML prints
them under the tables, so a reader of either never has to guess what a rate divides by.
In short:
- counts (dispatched, accepted, arrived, results, 督办, 提级, callbacks, repeat calls...)
  are the steps that happened in the period;
- 签收率 and 按时到场率 follow the tickets dispatched (accepted) in the period, and leave
  out those still within their deadline at its end, so a rate never exceeds 100 % when a
  ticket's steps straddle the period's edge;
- 解决率 = results marked resolved / results; 满意度 = (满意 + 基本满意) / answered
  callbacks, 未回访 counted apart and not in the denominator;
- a rate with nothing to divide by is null in JSON, empty in CSV and "—" in HTML;
- joint handling (联合调处): an assisting unit's steps count in its own figures (``assisting``
  = its assisting dispatches), a platform's follow its tickets' lead units; ``joint_cases``
  = a platform's tickets that had an assisting unit dispatched in the period; ``refused`` =
  the cases a unit refused (not ours), against the unit.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import functools
import hashlib
import html
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from hotline_link.core.events import (
    LinkageAccepted,
    LinkageArrived,
    LinkageCallback,
    LinkageDispatched,
    LinkageEscalated,
    LinkageJoint,
    LinkageRefused,
    LinkageRepeat,
    LinkageResolved,
    LinkageSupervised,
)
from hotline_link.core.spreadsheet import safe_cell
from hotline_link.core.zone import HOTLINE_ZONE
from linkage import callback_figures
from linkage.errors import BadRange
from linkage.exchange_figures import FIGURES as EXCHANGE_FIGURES
from linkage.exchange_figures import Ways
from linkage.handovers import HANDOVER

MODES = ("一键转接", "三方通话", "系统推送")
BOUNCED = "回流"  # of the pushes in a handover row, those going back where they came from
COUNTS = ("dispatched", "accepted", "arrived", "on_time_arrivals", "results", "resolved",
          "supervised", "escalated", "callbacks", "callbacks_answered", "callbacks_unanswered",
          "satisfied", "repeat_calls", "joint", "refused", "assisting",
          # the bases of the two rates that follow tickets (see DEFINITIONS)
          "accept_base", "accept_base_accepted", "arrive_base", "arrive_base_on_time")
PLATFORM_COUNTS = COUNTS + ("bounced_in", "joint_cases")
RATES = ("acceptance_rate", "on_time_arrival_rate", "resolution_rate", "satisfaction")
MAX_DAYS = 400
NONE_SHOWN = "—"

DEFINITIONS = MappingProxyType({
    "period": "统计期按本地日历日计算，起止日均含；各项次数为统计期内发生的次数。",
    "handovers": "平台间转办：一键转接 = 已接通的转接；三方通话 = 已拨出的三方通话；系统推送 = 对方平台收到的推送工单。"
                 "回流 = 退回来源平台的推送工单（按收到的平台统计，不按联动单位统计）。",
    "acceptance_rate": "签收率 = 统计期内派单的工单中已签收的比例；期末仍在签收时限内且未签收的不计入分母。",
    "on_time_arrival_rate": "按时到场率 = 统计期内签收的工单中在到场时限内到场的比例；期末仍在到场时限内且未到场、"
                            "未办结的不计入分母；未反馈到场即办结的按未按时到场计。",
    "resolution_rate": "解决率 = 办结反馈为“已解决”的工单数 ÷ 办结反馈的工单数。",
    "satisfaction": "满意度 = （满意 + 基本满意）÷ 已回访（接听并作答）的工单数；未回访单独计数，不计入分母。",
    "supervised": "督办 = 签收、到场或办结超时后的督办次数；提级 = 督办后仍超时、提级至指挥中心的次数。",
    "repeat_calls": "重复来电 = 同一号码或同一地点同类诉求在时限内再次来电、关联到未结工单的次数；"
                    "按单位统计时归入该工单派往的单位（派单在统计期前、事件未记单位的，只计入平台）。"
                    "双哨联办 = 重复来电达到阈值、转为联办的工单数。",
    "joint": "联合调处 = 统计期内派出协办单位的工单数（按平台）；协办 = 单位作为协办单位被派单的次数。"
             "协办单位的签收、到场、办结计入该单位，平台的各项按主办单位计；工单以主办单位办结为准。"
             "拒收 = 单位以“非本单位职责”退回的次数，计入该单位。",
    "zero": f"分母为零的比率显示为“{NONE_SHOWN}”。",
    "exchange": "两地分别部署、以交互通道相连时（否则为空），平台间转办、回流、签收、反馈回写与督办"
                "均按交互通道的消息统计，每条消息在对方平台接收时计一次（发送方按对方确认、接收方按本方接收，"
                "两地报告按同一口径对得上）：一键转接、三方通话、系统推送 = 各方式的转办消息；"
                "回流 = 回流消息及退回来源平台的转办；签收 = 签收消息；反馈 = 反馈回写消息，其中办结 = 办结结果；"
                "督办 = 督办消息。此时“平台间转办”表与各平台的“回流”也按消息统计。",
})
# "handovers" when the two platforms run one deployment each: the messages, not this log
HANDOVERS_FROM_MESSAGES = ("平台间转办按交互通道的转办消息统计（见“交互通道”）：一键转接、三方通话、系统推送 = "
                           "对方平台接收的各方式转办消息；回流 = 回流消息及退回来源平台的转办（按接收的平台统计）。")


def parse_range(start: str, end: str, timezone: str = HOTLINE_ZONE.key) -> tuple[float, float]:
    """``--from`` and ``--to`` as dates (YYYY-MM-DD, both days included) in the local zone:
    (start, end) in POSIX seconds, end exclusive."""
    days = []
    for name, text in (("from", start), ("to", end)):
        try:
            days.append(dt.date.fromisoformat(str(text)))
        except ValueError:
            raise BadRange(f"--{name} {text!r} is not a date (YYYY-MM-DD)") from None
    first, last = days
    if first.year < 1971 or last.year > 9998:  # before 1970 the journal's stream ids go negative
        raise BadRange(f"dates must be within 1971..9998, got {first} to {last}")
    if last < first:
        raise BadRange(f"--to {last} is before --from {first}")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadRange(f"the range is longer than {MAX_DAYS} days")
    zone = ZoneInfo(timezone)
    begin = dt.datetime(first.year, first.month, first.day, tzinfo=zone)
    stop = dt.datetime(last.year, last.month, last.day, tzinfo=zone) + dt.timedelta(days=1)
    return begin.timestamp(), stop.timestamp()


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _rates(c: dict[str, int]) -> dict[str, float | None]:
    return {"acceptance_rate": _ratio(c["accept_base_accepted"], c["accept_base"]),
            "on_time_arrival_rate": _ratio(c["arrive_base_on_time"], c["arrive_base"]),
            "resolution_rate": _ratio(c["resolved"], c["results"]),
            "satisfaction": _ratio(c["satisfied"], c["callbacks_answered"])}


def _due(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class _Step:
    """One logged event, as the handlers read it. Its data is the log's dict, not the
    event's class: the log keeps a payload as it was written, its None values left out
    (``entry_of``), and a dev tool's step may be partial (``Journal.note``)."""

    data: dict[str, Any]
    site: str
    unit: str
    ticket: str

    @property
    def assisting(self) -> bool:
        return self.data.get("role") == "assisting"

    @property
    def lead_site(self) -> str:
        """The platform a step counts for: none for an assisting unit's (the unit's only)."""
        return "" if self.assisting else self.site


@dataclass
class _Tally:
    handovers: dict[str, dict[str, int]] = field(default_factory=dict)
    platforms: dict[str, dict[str, int]] = field(default_factory=dict)
    units: dict[str, dict[str, int]] = field(default_factory=dict)
    # per ticket, for the two rates that follow tickets and to put repeat calls on units
    dispatched: dict[str, tuple[str, str, float | None]] = field(default_factory=dict)  # (site, unit, accept due)
    accepted: dict[str, tuple[str, str, float | None]] = field(default_factory=dict)  # (site, unit, arrive due)
    was_accepted: set[str] = field(default_factory=set)
    on_time: dict[str, bool] = field(default_factory=dict)  # ticket -> arrived on time
    closed: set[str] = field(default_factory=set)  # tickets with a result
    linked: list[tuple[str, str, str, str]] = field(default_factory=list)  # (count, ticket, site, unit)
    joint: set[tuple[str, str]] = field(default_factory=set)  # (site, ticket) with an assisting unit

    def bump(self, site: str, unit: str, name: str, by: int = 1) -> None:
        if site:
            self.platforms.setdefault(site, dict.fromkeys(PLATFORM_COUNTS, 0))[name] += by
        if unit:
            self.units.setdefault(unit, dict.fromkeys(COUNTS, 0))[name] += by


def _handover(t: _Tally, e: _Step) -> None:
    way = f"{e.data.get('source') or '?'}->{e.data.get('target') or '?'}"
    row = t.handovers.setdefault(way, {**dict.fromkeys(MODES, 0), BOUNCED: 0})
    if e.data.get("mode") in MODES:
        row[e.data["mode"]] += 1
    if e.data.get("bounced"):
        row[BOUNCED] += 1
        t.bump(str(e.data.get("target") or ""), "", "bounced_in")


def _dispatched(t: _Tally, e: _Step) -> None:
    t.bump(e.lead_site, e.unit, "dispatched")
    if e.assisting:  # its own figures; the ticket's rates follow its lead
        t.bump("", e.unit, "assisting")
        t.joint.add((e.site, e.ticket))
        return
    t.dispatched.setdefault(e.ticket, (e.site, e.unit, _due(e.data.get("accept_due"))))


def _accepted(t: _Tally, e: _Step) -> None:
    t.bump(e.lead_site, e.unit, "accepted")
    if not e.assisting:
        t.was_accepted.add(e.ticket)
        t.accepted.setdefault(e.ticket, (e.site, e.unit, _due(e.data.get("arrive_due"))))


def _arrived(t: _Tally, e: _Step) -> None:
    t.bump(e.lead_site, e.unit, "arrived")
    if e.data.get("on_time"):
        t.bump(e.lead_site, e.unit, "on_time_arrivals")
    if not e.assisting:
        t.on_time.setdefault(e.ticket, bool(e.data.get("on_time")))


def _resolved(t: _Tally, e: _Step) -> None:
    t.bump(e.lead_site, e.unit, "results")
    if e.data.get("resolved"):
        t.bump(e.lead_site, e.unit, "resolved")
    if not e.assisting:
        t.closed.add(e.ticket)


def _refused(t: _Tally, e: _Step) -> None:
    t.bump(e.site, e.unit, "refused")  # against the unit, and its platform's


def _overdue(count: str, t: _Tally, e: _Step) -> None:
    # 督办 and 提级 carry the unit; the platform is the ticket id's first part
    t.bump(e.site or e.ticket.split("-", 1)[0], e.unit, count)


def _callback(t: _Tally, e: _Step) -> None:
    t.bump(e.site, e.unit, "callbacks")
    if e.data.get("result") == "未回访":
        t.bump(e.site, e.unit, "callbacks_unanswered")
    else:
        t.bump(e.site, e.unit, "callbacks_answered")
    if e.data.get("result") in ("满意", "基本满意"):
        t.bump(e.site, e.unit, "satisfied")


def _linked(count: str, t: _Tally, e: _Step) -> None:
    # counted once every dispatch of the period is known (a repeat carries no unit)
    t.linked.append((count, e.ticket, e.site, e.unit))


# what each logged event adds to the figures, by its name in the log; other events add nothing
_HANDLERS: Mapping[str, Callable[[_Tally, _Step], None]] = MappingProxyType({
    HANDOVER: _handover,
    LinkageDispatched.NAME: _dispatched,
    LinkageAccepted.NAME: _accepted,
    LinkageArrived.NAME: _arrived,
    LinkageResolved.NAME: _resolved,
    LinkageSupervised.NAME: functools.partial(_overdue, "supervised"),
    LinkageEscalated.NAME: functools.partial(_overdue, "escalated"),
    LinkageCallback.NAME: _callback,
    LinkageRepeat.NAME: functools.partial(_linked, "repeat_calls"),
    LinkageJoint.NAME: functools.partial(_linked, "joint"),
    LinkageRefused.NAME: _refused,
})


def _settle(t: _Tally, end: float) -> None:
    """What needs the whole period: repeat calls on the units, the bases of the rates."""
    for count, ticket, site, unit in t.linked:
        t.bump(site, unit or t.dispatched.get(ticket, ("", "", None))[1], count)
    for site, _ticket in t.joint:
        t.bump(site, "", "joint_cases")
    for ticket, (site, unit, due) in t.dispatched.items():
        # in the base unless still unaccepted and within its deadline at the period's end
        if ticket in t.was_accepted or due is None or due < end:
            t.bump(site, unit, "accept_base")
            if ticket in t.was_accepted:
                t.bump(site, unit, "accept_base_accepted")
    for ticket, (site, unit, due) in t.accepted.items():
        if ticket in t.on_time or ticket in t.closed or due is None or due < end:  # likewise
            t.bump(site, unit, "arrive_base")
            if t.on_time.get(ticket):
                t.bump(site, unit, "arrive_base_on_time")


def _from_messages(t: _Tally, ways: dict[str, dict[str, int]]) -> None:
    """The handovers and 回流 between the platforms as the exchange channel's messages count
    them (two deployments): the same rows as the event log's, from figures both agree on."""
    for way, row in ways.items():
        t.handovers[way] = {**{mode: row[mode] for mode in MODES}, BOUNCED: row[BOUNCED]}
        if row[BOUNCED]:
            t.bump(way.rpartition("->")[2], "", "bounced_in", row[BOUNCED])


def compute(events: Iterable[dict[str, Any]], start: float, end: float,
            unit_names: dict[str, str] | None = None,
            exchange: Ways | None = None) -> dict[str, Any]:
    """The report's figures from logged events (``{"event", "at", "data"}``) with
    ``start <= at < end``. ``exchange``: when the two platforms run one deployment each, the
    figures each way of the exchange channel's messages taken in the period
    (``linkage.exchange_figures``; read by ``exchange_reader.ways_between``); None: one
    deployment, or the channel off. Then the figures between the platforms are these."""
    unit_names = unit_names or {}
    events = list(events)  # read twice: the callback queue's columns are counted apart
    tally = _Tally()
    if exchange is not None:
        _from_messages(tally, exchange)
    for event in events:
        if not start <= float(event["at"]) < end:
            continue
        if exchange is not None and event["event"] == HANDOVER:
            continue  # one side's view of the calls and pushes: the messages count both
        handler = _HANDLERS.get(event["event"])
        if handler is None:
            continue
        data = event["data"]
        handler(tally, _Step(data, str(data.get("site") or ""), str(data.get("unit") or ""),
                             str(data.get("ticket_id") or "")))
    _settle(tally, end)
    return {
        "from": start, "to": end,
        "handovers": {k: tally.handovers[k] for k in sorted(tally.handovers)},
        "platforms": {k: {**v, **_rates(v)} for k, v in sorted(tally.platforms.items())},
        "units": {k: {"name": unit_names.get(k, ""), **v, **_rates(v)} for k, v in sorted(tally.units.items())},
        "exchange": exchange,
        "callback_queue": callback_figures.compute(events, start, end),
        "definitions": dict(DEFINITIONS) if exchange is None else {**DEFINITIONS, "handovers": HANDOVERS_FROM_MESSAGES},
    }


# --- rendering ------------------------------------------------------------------------

def _rows(report: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    rows: list[tuple[str, str, str, Any]] = []
    for way, modes in report["handovers"].items():
        rows += [("handover", way, mode, n) for mode, n in modes.items()]
    for scope in ("platforms", "units"):
        for name, figures in report[scope].items():
            rows += [(scope[:-1], name, key, value) for key, value in figures.items() if key != "name"]
    for way, figures in (report.get("exchange") or {}).items():
        rows += [("exchange", way, key, value) for key, value in figures.items()]
    rows += callback_figures.rows(report.get("callback_queue") or {})
    return rows


def render_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("scope", "name", "figure", "value"))
    for row in _rows(report):
        writer.writerow(tuple("" if v is None else safe_cell(v) for v in row))
    return out.getvalue()


def _pct(value: float | None) -> str:
    return NONE_SHOWN if value is None else f"{value * 100:.1f}%"


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _label(text: str, limit: int = 15) -> str:
    """A chart's row label: long names keep their head and tail (units of one town differ
    at the end); the whole name is the row's tooltip and is in the table above."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[-(limit - 1 - head):]


_COLOURS = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5")
_LEFT, _BAR, _ROW = 180, 380, 22


def _chart(title: str, series: tuple[str, ...], items: list[tuple[str, tuple[float | None, ...]]],
           percent: bool, stacked: bool = False) -> str:
    """A horizontal bar chart as inline SVG: one row per item, a bar per series (or one
    stacked bar); a legend when there is more than one series."""
    if not items:
        return f'<p class="empty">{_esc(title)}：本期无数据</p>'
    bars_per_row = 1 if stacked or len(series) == 1 else len(series)
    row_h = _ROW if bars_per_row == 1 else 12 * bars_per_row + 8
    legend_h = 20 if len(series) > 1 else 0
    height = 26 + legend_h + row_h * len(items) + 4
    if percent:
        top = 1.0
    else:
        top = max(sum(v or 0 for v in vs) if stacked else max((v or 0 for v in vs), default=0)
                  for _, vs in items) or 1.0
    parts = [f'<svg class="chart" viewBox="0 0 640 {height}" width="640" '
             f'height="{height}" role="img" aria-label="{_esc(title)}">'
             f'<text x="0" y="16" class="t">{_esc(title)}</text>']
    if legend_h:
        x: float = 0  # an int here, a float along the bars below
        for i, name in enumerate(series):
            parts.append(f'<rect x="{x}" y="24" width="10" height="10" fill="{_COLOURS[i % 4]}"/>'
                         f'<text x="{x + 14}" y="33">{_esc(name)}</text>')
            x += 24 + 12 * len(name)
    for row, (label, vs) in enumerate(items):
        y = 26 + legend_h + row_h * row
        parts.append(f'<text x="0" y="{y + 13}"><title>{_esc(label)}</title>{_esc(_label(label))}</text>')
        x = float(_LEFT)
        for i, value in enumerate(vs):
            width = 0.0 if value is None else _BAR * value / top
            colour = _COLOURS[i % 4]
            if stacked:
                if width:
                    parts.append(f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="16" fill="{colour}"/>')
                x += width
                continue
            by = y + (0 if bars_per_row == 1 else 12 * i)
            h = 16 if bars_per_row == 1 else 10
            shown = _pct(value) if percent else (NONE_SHOWN if value is None else f"{value:g}")
            parts.append(f'<rect x="{_LEFT}" y="{by}" width="{width:.1f}" height="{h}" fill="{colour}"/>'
                         f'<text x="{_LEFT + width + 4:.1f}" y="{by + h - 2}" class="v">{_esc(shown)}</text>')
        if stacked:
            total = sum(v or 0 for v in vs)
            parts.append(f'<text x="{x + 4:.1f}" y="{y + 13}" class="v">{total:g}</text>')
    return "".join(parts) + "</svg>"


_CSS = """
@page { size: A4; margin: 15mm 12mm; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; font-size: 10pt; color: #111; max-width: 186mm; margin: auto; }
h1 { font-size: 16pt; margin: 0 0 .2em; } h2 { font-size: 12pt; margin: 1em 0 .3em; break-after: avoid; page-break-after: avoid; }
table { border-collapse: collapse; width: 100%; margin: .4em 0; font-size: 8.5pt; }
th, td { border: 1px solid #999; padding: 2px 3px; text-align: right; } th { background: #edf2f7; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; word-break: break-all; }
thead { display: table-header-group; } tr { break-inside: avoid; page-break-inside: avoid; }
.chart { display: block; margin: .5em 0; max-width: 100%; height: auto; } .chart text { font-size: 11px; fill: #111; }
.chart .t { font-weight: bold; } .chart .v { font-size: 10px; }
table, .chart, .empty, dl { break-inside: avoid; page-break-inside: avoid; }
dl { font-size: 8.5pt; } dt { font-weight: bold; float: left; clear: left; width: 6em; } dd { margin: 0 0 .3em 6.5em; }
.empty { color: #555; }
@media print { body { max-width: none; } a { color: inherit; text-decoration: none; } }
"""  # noqa: E501 - the stylesheet byte for byte as served: its hash is in HTML_HEADERS' CSP

# What a route serving the HTML should send: the page needs nothing but its own stylesheet
# (allowed by its hash), so the browser runs no script and fetches nothing, whatever a
# field of the report held.
HTML_HEADERS = MappingProxyType({
    "Content-Security-Policy": "default-src 'none'; style-src 'sha256-"
                               + base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
                               + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})

_COLUMNS = (("dispatched", "派单"), ("accepted", "签收"), ("acceptance_rate", "签收率"), ("arrived", "到场"),
            ("on_time_arrival_rate", "按时到场率"), ("results", "办结"), ("resolution_rate", "解决率"),
            ("callbacks_answered", "已回访"), ("callbacks_unanswered", "未回访"), ("satisfaction", "满意度"),
            ("supervised", "督办"), ("escalated", "提级"), ("repeat_calls", "重复来电"), ("refused", "拒收"),
            ("assisting", "协办"))
_PLATFORM_COLUMNS = _COLUMNS + (("joint", "双哨联办"), ("joint_cases", "联合调处"), ("bounced_in", "回流"))
_DEFINITION_TITLES = (("period", "统计口径"), ("handovers", "转办与回流"), ("acceptance_rate", "签收率"),
                      ("on_time_arrival_rate", "按时到场率"), ("resolution_rate", "解决率"),
                      ("satisfaction", "满意度"), ("supervised", "督办、提级"), ("repeat_calls", "重复来电"),
                      ("joint", "联合调处、协办、拒收"), ("zero", "无分母"), ("exchange", "交互通道"))


def _table(head: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return '<p class="empty">本期无数据</p>'
    th = "".join(f"<th>{_esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any, key: str) -> str:
    return _pct(value) if key in RATES else str(value)


def render_html(report: dict[str, Any], title: str, period: str) -> str:
    handovers, platforms, units = report["handovers"], report["platforms"], report["units"]
    parts = [f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
             f"<style>{_CSS}</style></head><body><h1>{_esc(title)}</h1><p>统计期：{_esc(period)}</p>"]
    parts.append("<h2>平台间转办（一键转接 / 三方通话 / 系统推送）</h2>")
    parts.append(_table(["方向", *MODES, "合计", "其中回流"],
                        [[way, *(str(m[k]) for k in MODES), str(sum(m[k] for k in MODES)), str(m[BOUNCED])]
                         for way, m in handovers.items()]))
    parts.append(_chart("各方向转办量（按方式）", MODES,
                        [(way, tuple(float(m[k]) for k in MODES)) for way, m in handovers.items()],
                        percent=False, stacked=True))
    if report.get("exchange") is not None:
        parts.append("<h2>交互通道（按消息统计，两地报告一致）</h2>")
        parts.append(_table(["方向", *EXCHANGE_FIGURES],
                            [[way, *(str(f[k]) for k in EXCHANGE_FIGURES)] for way, f in report["exchange"].items()]))
    parts.append("<h2>按平台</h2>")
    parts.append(_table(["平台", *(label for _, label in _PLATFORM_COLUMNS)],
                        [[site, *(_cell(f[k], k) for k, _ in _PLATFORM_COLUMNS)] for site, f in platforms.items()]))
    rate_names = ("签收率", "按时到场率", "解决率", "满意度")
    parts.append(_chart("各平台比率", rate_names,
                        [(site, tuple(f[k] for k in RATES)) for site, f in platforms.items()], percent=True))
    parts.append("<h2>按联动单位</h2>")
    parts.append(_table(["单位", *(label for _, label in _COLUMNS)],
                        [[f"{f['name']}（{unit}）" if f["name"] else unit, *(_cell(f[k], k) for k, _ in _COLUMNS)]
                         for unit, f in units.items()]))
    named = [(f["name"] or unit, f) for unit, f in units.items()]
    rates = (("on_time_arrival_rate", "按时到场率"), ("resolution_rate", "解决率"), ("satisfaction", "满意度"))
    for key, label in rates:
        # units with nothing to divide by show "—" in the table and no bar here
        parts.append(_chart(f"各单位{label}", (label,), [(n, (f[key],)) for n, f in named if f[key] is not None], True))
    parts.append(_chart("督办与提级", ("督办", "提级"),
                        [(n, (float(f["supervised"]), float(f["escalated"]))) for n, f in named
                         if f["supervised"] or f["escalated"]], percent=False, stacked=True))
    parts.append(callback_figures.render_html(report.get("callback_queue") or {}))
    parts.append("<h2>口径</h2><dl>")
    definitions = report.get("definitions", DEFINITIONS)
    parts += [f"<dt>{_esc(name)}</dt><dd>{_esc(definitions.get(key, DEFINITIONS[key]))}</dd>"
              for key, name in _DEFINITION_TITLES]
    parts.append("</dl></body></html>")
    return "".join(parts)
