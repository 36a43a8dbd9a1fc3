"""The dashboard's figures in the Prometheus text format (version 0.0.4). Pure."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_SITE_GAUGES = (
    ("hotline_seats_logged_in", "logged_in", "Seats not offline"),
    ("hotline_seats_occupied", "occupied", "Seats ringing, talking or in wrap-up"),
    ("hotline_occupancy_ratio", "occupancy", "Occupied seats over logged-in seats"),
    ("hotline_calls_waiting", "waiting", "Calls in the waiting queue"),
    ("hotline_calls_waiting_emergency", "waiting_emergency", "Emergency calls in the waiting queue"),
    ("hotline_longest_wait_seconds", "longest_wait_s", "Wait of the longest-waiting queued call"),
    ("hotline_ivr_in_progress", "ivr_in_progress", "Callers in the surge IVR now"),
    ("hotline_calls_offered_last_hour", "offered_last_hour", "Calls answered or lost in the last hour"),
    ("hotline_calls_answered_last_hour", "answered_last_hour", "Calls answered in the last hour"),
    ("hotline_calls_lost_last_hour", "lost_last_hour", "Calls ended unanswered in the last hour"),
    ("hotline_calls_overflowed_last_hour", "overflowed_last_hour", "Calls sent to remote seats in the last hour"),
    ("hotline_answer_rate_ratio", "answer_rate", "Answered over answered+lost, last hour (接通率)"),
    ("hotline_service_level_ratio", "service_level", "Answered within service_level_s over answered+lost, last hour"),
)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in labels.items()) + "}"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return repr(float(value))


def _family(name: str, help_text: str, samples: Iterable[tuple[str, Any]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    lines += [f"{name}{labels} {_value(value)}" for labels, value in samples if value is not None]
    return lines


def render(snapshot: dict[str, Any]) -> str:
    sites = snapshot["sites"]
    lines: list[str] = []
    for name, key, help_text in _SITE_GAUGES:
        lines += _family(name, help_text, ((_labels(site=s), f[key]) for s, f in sites.items()))
    lines += _family("hotline_overflow_active", "1 while the site overflows to remote seats",
                     ((_labels(site=s), f["overflow"]["active"]) for s, f in sites.items()))
    lines += _family("hotline_overflow_estimated_wait_seconds", "Estimated wait the overflow policy reported",
                     ((_labels(site=s), f["overflow"]["estimated_wait_s"]) for s, f in sites.items()))
    lines += _family("hotline_seats", "Seats per state",
                     ((_labels(site=s, state=state), n) for s, f in sites.items()
                      for state, n in f["seat_counts"].items()))
    lines += _family("hotline_seat_state_seconds", "Seconds each seat has been in its current state",
                     ((_labels(site=s, seat=seat["seat"], state=seat["state"]), seat["in_state_s"])
                      for s, f in sites.items() for seat in f["seats"]))
    for family, done, what in (("transfers", "answered", "one-click transfers (一键转接)"),
                               ("conferences", "joined", "three-way calls (三方通话)")):
        for stage in ("started", done):
            lines += _family(f"hotline_{family}_{stage}_last_hour", f"{what} {stage} in the last hour",
                             ((_labels(source=d.split("->")[0], target=d.split("->")[-1]), n[stage])
                              for d, n in snapshot[family].items()))
    lines += _exchange(snapshot.get("exchange") or {})
    lines.append(f"# HELP hotline_service_level_target_seconds service_level_s\n"
                 f"# TYPE hotline_service_level_target_seconds gauge\n"
                 f"hotline_service_level_target_seconds {_value(snapshot['service_level_s'])}")
    return "\n".join(lines) + "\n"


EXCHANGE_STATES = ("unknown", "up", "down", "refused", "key_alert")


def _exchange(panel: dict[str, Any]) -> list[str]:
    """The exchange link (交互通道), only where it runs: 1 for its state, 0 for the others
    (alert on ``hotline_exchange_link{state="down"} == 1``), and its backlog."""
    if not panel.get("enabled"):
        return []
    lines = _family("hotline_exchange_link", "1 for the exchange link's state as this instance sees it",
                    ((_labels(state=state), panel["state"] == state) for state in EXCHANGE_STATES))
    lines += _family("hotline_exchange_waiting_messages", "Exchange messages waiting, per direction",
                     ((_labels(direction=d), n) for d, n in panel["waiting_by_direction"].items()))
    lines += _family("hotline_exchange_oldest_waiting_seconds", "Age of the oldest message the peer has not taken",
                     [("", panel["oldest_waiting_s"] or 0)])
    lines += _family("hotline_exchange_stopped_queues", "Exchange queues stopped by a final refusal",
                     [("", panel["stopped_count"])])
    lines += _family("hotline_exchange_dead_letters", "Applied exchange messages given up or unreadable",
                     [("", panel["dead_count"])])
    return lines
