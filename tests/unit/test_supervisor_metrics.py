"""/metrics text: every figure of the dashboard, in the Prometheus exposition format."""

from __future__ import annotations

import re

from hotline_link.core.events import OverflowChanged, TransferAnswered
from seat_pool.selection import SeatView
from seat_pool.state import SeatState
from supervisor.figures import Dashboard
from supervisor.metrics import render

T0 = 1_800_000_000.0
SAMPLE = re.compile(r'^[a-z_]+(\{([a-z_]+="[^"\\]*(\\.[^"\\]*)*",?)+\})? -?[0-9.e+-]+$')


def test_metrics_have_help_type_and_the_same_figures():
    d = Dashboard(("12345", "110"), {"1001": "12345", "2001": "110"})
    d.set_seats("12345", [SeatView("12345", "1001", SeatState.TALKING, T0 - 3),
                          SeatView("12345", "1002", SeatState.IDLE, T0 - 9)])
    d.apply(OverflowChanged("12345", True, 75), T0)
    d.apply(TransferAnswered("1001", "t", "c", "110", "", "answered", None), T0)
    text = render(d.snapshot(T0))
    lines = text.splitlines()
    for line in lines:
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or SAMPLE.match(line), line
    assert 'hotline_occupancy_ratio{site="12345"} 0.5' in lines
    assert 'hotline_overflow_active{site="12345"} 1' in lines
    assert 'hotline_overflow_active{site="110"} 0' in lines
    assert 'hotline_seats{site="12345",state="talking"} 1.0' in lines
    assert 'hotline_seat_state_seconds{site="12345",seat="1002",state="idle"} 9.0' in lines
    assert 'hotline_transfers_answered_last_hour{source="12345",target="110"} 1.0' in lines
    assert not any(line.startswith('hotline_occupancy_ratio{site="110"}') for line in lines)  # None: left out
    assert text.endswith("\n")


def test_the_exchange_link_is_a_gauge_only_where_it_runs():
    d = Dashboard(("12345",), {"1001": "12345"})
    assert "hotline_exchange" not in render(d.snapshot(T0))  # one deployment: off, nothing to watch
    d.set_exchange({"enabled": True, "platform": "12345", "peer_platform": "110", "state": "down",
                    "waiting": 4, "waiting_by_direction": {"12345->110": 3, "110->12345": 1},
                    "oldest_at": T0 - 90, "stopped_count": 1, "dead_count": 2})
    lines = render(d.snapshot(T0)).splitlines()
    for line in lines:
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or SAMPLE.match(line), line
    assert 'hotline_exchange_link{state="down"} 1' in lines and 'hotline_exchange_link{state="up"} 0' in lines
    assert 'hotline_exchange_waiting_messages{direction="12345->110"} 3.0' in lines
    assert 'hotline_exchange_waiting_messages{direction="110->12345"} 1.0' in lines
    assert "hotline_exchange_oldest_waiting_seconds 90.0" in lines
    assert "hotline_exchange_stopped_queues 1.0" in lines and "hotline_exchange_dead_letters 2.0" in lines
