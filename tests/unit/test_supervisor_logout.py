"""A seat a supervisor logged out: offline in the pool, but a call in progress still shows."""

from __future__ import annotations

import pytest

from seat_pool.state import SeatState, effective_state


@pytest.mark.parametrize("base,paused,wrap_until,expected", [
    (SeatState.IDLE, "", 0.0, SeatState.OFFLINE),
    (SeatState.IDLE, "培训", 0.0, SeatState.OFFLINE),
    (SeatState.IDLE, "", 200.0, SeatState.OFFLINE),  # wrap-up or not, the agent is gone
    (SeatState.TALKING, "", 0.0, SeatState.TALKING),  # the call goes on; offline once it ends
    (SeatState.RINGING, "", 0.0, SeatState.RINGING),
    (SeatState.OFFLINE, "", 0.0, SeatState.OFFLINE),
])
def test_logged_out_seat(base, paused, wrap_until, expected):
    assert effective_state(base, paused, wrap_until, now=100.0, logged_out=True) is expected


def test_not_logged_out_is_unchanged():
    assert effective_state(SeatState.IDLE, "", 0.0, now=100.0) is SeatState.IDLE
    assert effective_state(SeatState.IDLE, "", 200.0, now=100.0, logged_out=False) is SeatState.WRAP_UP
