"""The report packs (月交流、季会商、年总结): which periods have ended, the packs' names, and
the summary rendered as JSON, CSV and HTML. Pure.

A pack is ``{platform}-{kind}-{period}.{json,csv,html}``: ``12345-monthly-2026-11``,
``12345-quarterly-2026-Q4``, ``110-yearly-2026``; periods are the hotline's (Asia/Shanghai).
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import html
import io
import json
import re
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from hotline_link.core.spreadsheet import safe_cell
from hotline_link.core.zone import HOTLINE_ZONE

KINDS = ("monthly", "quarterly", "yearly")
FORMATS = ("html", "csv", "json")
KIND_TITLES = MappingProxyType({"monthly": "月交流", "quarterly": "季会商", "yearly": "年总结"})
REPORT_NAME = re.compile(r"(?P<platform>[0-9A-Za-z]{1,16})-(?P<kind>monthly|quarterly|yearly)-"
                         r"(?P<period>[0-9]{4}(?:-[0-9]{2}|-Q[1-4])?)\.(?P<format>html|csv|json)")
_PERIOD_OF_KIND = {"monthly": re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])"), "quarterly": re.compile(r"[0-9]{4}-Q[1-4]"),
                   "yearly": re.compile(r"[0-9]{4}")}
CONTENT_TYPES = MappingProxyType({"html": "text/html", "csv": "text/csv", "json": "application/json"})


def parse_name(name: str) -> tuple[str, str, str, str] | None:
    """(platform, kind, period, format) of a well-formed pack file name, else None."""
    match = REPORT_NAME.fullmatch(name)
    if match is None or not _PERIOD_OF_KIND[match["kind"]].fullmatch(match["period"]):
        return None
    return match["platform"], match["kind"], match["period"], match["format"]


def period_start(period: str) -> tuple[int, int]:
    """(year, first month) of a period: for ordering packs, newest first."""
    year, _, rest = period.partition("-")
    if rest.startswith("Q"):
        return int(year), (int(rest[1:]) - 1) * 3 + 1
    return int(year), int(rest or 1)


def pack_name(platform: str, kind: str, period: str) -> str:
    return f"{platform}-{kind}-{period}"


def _start(year: int, month: int, zone: ZoneInfo) -> float:
    return dt.datetime(year, month, 1, tzinfo=zone).timestamp()


def ended_periods(now: float, zone: ZoneInfo = HOTLINE_ZONE) -> list[tuple[str, str, float, float]]:
    """The last month, quarter and year that ended before ``now``: (kind, period, start, end)."""
    today = dt.datetime.fromtimestamp(now, zone)
    y, m = today.year, today.month
    py, pm = (y, m - 1) if m > 1 else (y - 1, 12)
    q = (m - 1) // 3  # this quarter, 0-based
    qy, qn = (y, q - 1) if q > 0 else (y - 1, 3)
    return [
        ("monthly", f"{py:04d}-{pm:02d}", _start(py, pm, zone), _start(y, m, zone)),
        ("quarterly", f"{qy:04d}-Q{qn + 1}", _start(qy, qn * 3 + 1, zone), _start(y, q * 3 + 1, zone)),
        ("yearly", f"{y - 1:04d}", _start(y - 1, 1, zone), _start(y, 1, zone)),
    ]


def render_json(summary: dict[str, Any], platform: str, kind: str, period: str) -> str:
    return json.dumps({"platform": platform, "kind": kind, "period": period, **summary}, ensure_ascii=False,
                      indent=1) + "\n"


_LISTS = (("by_category", "category"), ("by_division", "division_code"), ("by_channel", "channel"),
          ("by_day", "day"), ("tags", "tag"), ("repeat_callers", "caller"), ("top_places", "division_code"),
          ("frequent_questions", "category"))


def render_csv(summary: dict[str, Any]) -> str:
    """Rows (section, name, figure, value), every cell safe from formula injection."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("section", "name", "figure", "value"))
    writer.writerow(("total", "", "count", summary["total"]))
    for section, key in _LISTS:
        for row in summary[section]:
            writer.writerow(tuple(safe_cell(v) for v in (section, row[key], "count", row["count"])))
    for row in summary["disputed"]:
        for figure in ("bounced", "refused", "redispatched", "total"):
            writer.writerow(tuple(safe_cell(v) for v in ("disputed", row["category"], figure, row[figure])))
    return out.getvalue()


_CSS = """
@page { size: A4; margin: 15mm 12mm; }
body { font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; font-size: 10pt; color: #111; max-width: 186mm; margin: auto; }
h1 { font-size: 16pt; } h2 { font-size: 12pt; margin: 1em 0 .3em; }
table { border-collapse: collapse; width: 100%; margin: .4em 0; font-size: 8.5pt; }
th, td { border: 1px solid #999; padding: 2px 3px; text-align: right; } th { background: #edf2f7; }
th:first-child, td:first-child { text-align: left; word-break: break-all; }
tr { break-inside: avoid; page-break-inside: avoid; } .empty { color: #555; }
"""  # noqa: E501 - the stylesheet byte for byte as served: its hash is in HTML_HEADERS' CSP

# what the route serving a pack's HTML sends: the page runs no script and fetches nothing
HTML_HEADERS = MappingProxyType({
    "Content-Security-Policy": "default-src 'none'; style-src 'sha256-"
                               + base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
                               + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})

_SECTIONS = (("by_category", "按类别", ("category", "类别")), ("by_division", "按区划", ("division_code", "区划代码")),
             ("by_channel", "按渠道", ("channel", "渠道")), ("by_day", "按日", ("day", "日期")),
             ("tags", "专题/标签", ("tag", "标签")), ("repeat_callers", "重复来电", ("caller", "来电号码")),
             ("top_places", "热点地区", ("division_code", "区划代码")))


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(head: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return '<p class="empty">本期无数据</p>'
    th = "".join(f"<th>{_esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def render_html(summary: dict[str, Any], platform: str, kind: str, period: str) -> str:
    title = f"{platform} {KIND_TITLES.get(kind, kind)} {period} 融合研判"
    parts = [f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
             f"<style>{_CSS}</style></head><body><h1>{_esc(title)}</h1>"
             f"<p>统计期：{_esc(period)}，工单 {_esc(summary['total'])} 件</p>"]
    for section, heading, (key, label) in _SECTIONS:
        parts.append(f"<h2>{_esc(heading)}</h2>")
        parts.append(_table([label, "件数"], [[row[key] or "—", row["count"]] for row in summary[section]]))
    parts.append("<h2>高频咨询</h2>")
    parts.append(_table(["类别", "件数", "示例"], [[r["category"], r["count"], r["example"]]
                                                   for r in summary["frequent_questions"]]))
    parts.append("<h2>争议工单（回流、拒收、重新派单）</h2>")
    parts.append(_table(["类别", "回流", "拒收", "重新派单", "合计"],
                        [[r["category"] or "—", r["bounced"], r["refused"], r["redispatched"], r["total"]]
                         for r in summary["disputed"]]))
    parts.append("</body></html>")
    return "".join(parts)


def render(summary: dict[str, Any], platform: str, kind: str, period: str) -> dict[str, str]:
    """The pack's files by format."""
    return {"json": render_json(summary, platform, kind, period), "csv": render_csv(summary),
            "html": render_html(summary, platform, kind, period)}
