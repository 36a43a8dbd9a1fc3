"""The linkage report (月交流、季会商、年总结): figures computed from the event log, rendered
as JSON, CSV or HTML (inline SVG charts, A4 print CSS, no outside assets). Pure.

Definitions (documented in the README):
- handovers: calls and tickets from one platform to another, by mode (一键转接 = answered
  transfers, 三方通话 = three-way calls dialled, 系统推送 = pushes received); 回流 = bounced
  pushes received by a platform.
- per platform and per unit: dispatched, accepted, arrived, on-time arrivals, results
  (resolved or not), 督办 (supervised) and 提级 (escalated) counts, callbacks;
  acceptance rate = accepted / dispatched; on-time arrival rate = arrivals within the
  deadline / accepted; 解决率 = results marked resolved / results; 满意度 = (满意 + 基本满意)
  / answered callbacks (未回访 not counted); repeat calls and 双哨联办 flags per platform.
A rate with nothing to divide by is null (shown as "-").
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from linkage.errors import BadRange

MODES = ("一键转接", "三方通话", "系统推送")
COUNTS = ("dispatched", "accepted", "arrived", "on_time_arrivals", "results", "resolved",
          "supervised", "escalated", "callbacks", "satisfied", "callbacks_answered")
PLATFORM_COUNTS = COUNTS + ("repeat_calls", "joint", "bounced_in")
MAX_DAYS = 400


def parse_range(start: str, end: str, timezone: str = "Asia/Shanghai") -> tuple[float, float]:
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
    return {"acceptance_rate": _ratio(c["accepted"], c["dispatched"]),
            "on_time_arrival_rate": _ratio(c["on_time_arrivals"], c["accepted"]),
            "resolution_rate": _ratio(c["resolved"], c["results"]),
            "satisfaction": _ratio(c["satisfied"], c["callbacks_answered"])}


def compute(events: Iterable[dict[str, Any]], start: float, end: float,
            unit_names: dict[str, str] | None = None) -> dict[str, Any]:
    """The report's figures from logged events (``{"event", "at", "data"}``) with
    ``start <= at < end``."""
    unit_names = unit_names or {}
    handovers: dict[str, dict[str, int]] = {}
    platforms: dict[str, dict[str, int]] = {}
    units: dict[str, dict[str, int]] = {}

    def bump(site: str, unit: str, name: str, by: int = 1) -> None:
        if site:
            platforms.setdefault(site, dict.fromkeys(PLATFORM_COUNTS, 0))[name] += by
        if unit:
            units.setdefault(unit, dict.fromkeys(COUNTS, 0))[name] += by

    for event in events:
        if not start <= float(event["at"]) < end:
            continue
        name, data = event["event"], event["data"]
        site, unit = str(data.get("site") or ""), str(data.get("unit") or "")
        if name == "linkage.handover":
            way = f"{data.get('source') or '?'}->{data.get('target') or '?'}"
            row = handovers.setdefault(way, dict.fromkeys(MODES, 0))
            if data.get("mode") in row:
                row[data["mode"]] += 1
            if data.get("bounced"):
                bump(str(data.get("target") or ""), "", "bounced_in")
        elif name == "linkage.dispatched":
            bump(site, unit, "dispatched")
        elif name == "linkage.accepted":
            bump(site, unit, "accepted")
        elif name == "linkage.arrived":
            bump(site, unit, "arrived")
            if data.get("on_time"):
                bump(site, unit, "on_time_arrivals")
        elif name == "linkage.resolved":
            bump(site, unit, "results")
            if data.get("resolved"):
                bump(site, unit, "resolved")
        elif name in ("linkage.supervised", "linkage.escalated"):
            # these carry the unit; the platform is the ticket id's first part
            site = site or str(data.get("ticket_id", "")).split("-", 1)[0]
            bump(site, unit, "supervised" if name == "linkage.supervised" else "escalated")
        elif name == "linkage.callback":
            bump(site, unit, "callbacks")
            if data.get("result") != "未回访":
                bump(site, unit, "callbacks_answered")
            if data.get("result") in ("满意", "基本满意"):
                bump(site, unit, "satisfied")
        elif name == "linkage.repeat":
            bump(site, "", "repeat_calls")
        elif name == "linkage.joint":
            bump(site, "", "joint")
    return {
        "from": start, "to": end,
        "handovers": {k: handovers[k] for k in sorted(handovers)},
        "platforms": {k: {**v, **_rates(v)} for k, v in sorted(platforms.items())},
        "units": {k: {"name": unit_names.get(k, ""), **v, **_rates(v)} for k, v in sorted(units.items())},
    }


# --- rendering ------------------------------------------------------------------------

def _rows(report: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    rows: list[tuple[str, str, str, Any]] = []
    for way, modes in report["handovers"].items():
        rows += [("handover", way, mode, n) for mode, n in modes.items()]
    for scope in ("platforms", "units"):
        for name, figures in report[scope].items():
            rows += [(scope[:-1], name, key, value) for key, value in figures.items() if key != "name"]
    return rows


def render_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("scope", "name", "figure", "value"))
    for row in _rows(report):
        writer.writerow(tuple("" if v is None else v for v in row))
    return out.getvalue()


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _bars(title: str, items: list[tuple[str, float | None]], percent: bool) -> str:
    """A horizontal bar chart as inline SVG."""
    height = 22 * len(items) + 30
    top = max([v for _, v in items if v is not None] + [1e-9])
    scale = 1.0 if percent else top
    parts = [f'<svg class="chart" viewBox="0 0 640 {height}" width="640" height="{height}" role="img" '
             f'aria-label="{html.escape(title)}"><text x="0" y="16" class="t">{html.escape(title)}</text>']
    for i, (label, value) in enumerate(items):
        y = 26 + 22 * i
        width = 0 if value is None else 400 * value / scale
        shown = _pct(value) if percent else ("-" if value is None else f"{value:g}")
        parts.append(f'<text x="0" y="{y + 14}">{html.escape(label)}</text>'
                     f'<rect x="170" y="{y}" width="{width:.1f}" height="16"/>'
                     f'<text x="{176 + width:.1f}" y="{y + 14}">{shown}</text>')
    return "".join(parts) + "</svg>"


_CSS = """
@page { size: A4; margin: 15mm; }
body { font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; font-size: 10.5pt; color: #111; max-width: 180mm; margin: auto; }
h1 { font-size: 16pt; } h2 { font-size: 12.5pt; margin-top: 1.2em; }
table { border-collapse: collapse; width: 100%; margin: .5em 0; }
th, td { border: 1px solid #999; padding: 2px 4px; text-align: right; } th:first-child, td:first-child { text-align: left; }
.chart { display: block; margin: .5em 0; max-width: 100%; } .chart rect { fill: #2b6cb0; } .chart text { font-size: 11px; } .chart .t { font-weight: bold; }
section, table, .chart { break-inside: avoid; page-break-inside: avoid; }
@media print { a { color: inherit; text-decoration: none; } }
"""

_UNIT_COLUMNS = (("dispatched", "派单"), ("accepted", "签收"), ("arrived", "到场"),
                 ("on_time_arrival_rate", "按时到场率"), ("resolution_rate", "解决率"),
                 ("satisfaction", "满意度"), ("supervised", "督办"), ("escalated", "提级"))


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any, key: str) -> str:
    return _pct(value) if key.endswith(("rate", "satisfaction")) else str(value)


def render_html(report: dict[str, Any], title: str, period: str) -> str:
    parts = [f"<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1><p>{html.escape(period)}</p>"]
    parts.append("<section><h2>平台间转办（一键转接 / 三方通话 / 系统推送）</h2>")
    parts.append(_table(["方向", *MODES], [[way, *(str(m[k]) for k in MODES)] for way, m in report["handovers"].items()]))
    parts.append(_bars("转办量", [(way, float(sum(m.values()))) for way, m in report["handovers"].items()], False))
    parts.append("</section><section><h2>按平台</h2>")
    head = ["平台", *(label for _, label in _UNIT_COLUMNS), "重复来电", "双哨联办", "回流"]
    parts.append(_table(head, [[site, *(_cell(f[k], k) for k, _ in _UNIT_COLUMNS), str(f["repeat_calls"]),
                                str(f["joint"]), str(f["bounced_in"])] for site, f in report["platforms"].items()]))
    parts.append("</section><section><h2>按联动单位</h2>")
    parts.append(_table(["单位", *(label for _, label in _UNIT_COLUMNS)],
                        [[f"{f['name'] or unit} ({unit})", *(_cell(f[k], k) for k, _ in _UNIT_COLUMNS)]
                         for unit, f in report["units"].items()]))
    units = report["units"]
    parts.append(_bars("按时到场率", [(f["name"] or u, f["on_time_arrival_rate"]) for u, f in units.items()], True))
    parts.append(_bars("解决率", [(f["name"] or u, f["resolution_rate"]) for u, f in units.items()], True))
    parts.append(_bars("满意度", [(f["name"] or u, f["satisfaction"]) for u, f in units.items()], True))
    parts.append("</section></body></html>")
    return "".join(parts)
