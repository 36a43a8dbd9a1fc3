"""The callback queue's columns of the linkage report (回电), per platform, from the
``callback.step`` entries the callback queue writes to the event log
(``call_control.callbacks``). Pure. Kept apart from ``linkage.report`` so the report's own
figures and these change independently.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from types import MappingProxyType
from typing import Any

STEP = "callback.step"  # hotline_link.core.events.CallbackStep.NAME, as the log names it
FIGURES = ("requests", "done", "failed", "agent_no_answer", "missed_made", "missed_skipped_answered")
COLUMNS = MappingProxyType({
    "requests": "回电请求", "done": "回电接通", "failed": "回电未接通", "agent_no_answer": "坐席未接",
    "missed_made": "漏接已回拨", "missed_skipped_answered": "漏接已接通免回拨"})
DEFINITION = ("回电：回电请求 = 统计期内新建的回电请求（自助语音按键、网上申请、漏接来电；"
              "同一号码未完成的请求合并为一条）；"
              "回电接通 = 市民接听的回电；回电未接通 = 多次尝试均未接听的回电；坐席未接 = 分配给坐席但坐席未接听的次数"
              "（不计入尝试次数，改派其他坐席）；漏接已回拨 = 为漏接来电拨出的回电（每条请求计一次）；"
              "漏接已接通免回拨 = 漏接后市民再次来电已接通、无需回拨的请求。")


def _figure(data: dict[str, Any]) -> str | None:
    step, source = data.get("step"), data.get("source")
    if step == "requested":
        return "requests"
    if step == "connected":
        return "done"
    if step == "failed":
        return "failed"
    if step == "agent_no_answer":
        return "agent_no_answer"
    if source == "missed" and step == "agent_answered" and data.get("attempt") == 1:
        return "missed_made"
    if source == "missed" and step == "skipped" and data.get("reason") == "answered":
        return "missed_skipped_answered"
    return None


def compute(events: Iterable[dict[str, Any]], start: float, end: float) -> dict[str, dict[str, int]]:
    """Per platform, the callback figures of the logged steps with ``start <= at < end``."""
    out: dict[str, dict[str, int]] = {}
    for event in events:
        if event.get("event") != STEP or not start <= float(event.get("at", 0)) < end:
            continue
        data = event.get("data") or {}
        site, figure = str(data.get("site") or ""), _figure(data)
        if site and figure:
            out.setdefault(site, dict.fromkeys(FIGURES, 0))[figure] += 1
    return {site: out[site] for site in sorted(out)}


def rows(figures: dict[str, dict[str, int]]) -> list[tuple[str, str, str, Any]]:
    """The CSV rows: (scope, name, figure, value)."""
    return [("callback_queue", site, key, value) for site, f in figures.items() for key, value in f.items()]


def render_html(figures: dict[str, dict[str, int]]) -> str:
    """The report's 回电 section: a table per platform and the definition."""
    esc = html.escape
    parts = ["<h2>回电（回电请求与漏接来电回拨）</h2>"]
    if not figures:
        parts.append('<p class="empty">本期无数据</p>')
    else:
        head = "".join(f"<th>{esc(h)}</th>" for h in ("平台", *COLUMNS.values()))
        body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in (site, *(f[k] for k in COLUMNS))) + "</tr>"
                       for site, f in figures.items())
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    parts.append(f"<p>{esc(DEFINITION)}</p>")
    return "".join(parts)
