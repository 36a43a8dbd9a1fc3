import pytest

from seat_pool.selection import SeatView, idle_longest_first
from seat_pool.state import (
    SeatState,
    contact_registered,
    derive_state,
    effective_state,
    seat_from_device,
)


@pytest.mark.parametrize("registered, device, expected", [
    (False, "NOT_INUSE", SeatState.OFFLINE),
    (True, "NOT_INUSE", SeatState.IDLE),
    (True, "RINGING", SeatState.RINGING),
    (True, "INUSE", SeatState.TALKING),
    (True, "ONHOLD", SeatState.TALKING),
    (True, "UNAVAILABLE", SeatState.IDLE),
    (True, "UNKNOWN", SeatState.IDLE),
    (True, " inuse ", SeatState.TALKING),
])
def test_derive_state(registered, device, expected):
    assert derive_state(registered, device) is expected


def test_contact_status():
    assert contact_registered("Reachable") is True
    assert contact_registered("NonQualified") is True
    assert contact_registered("Removed") is False
    assert contact_registered("Unreachable") is False
    assert contact_registered("garbage") is None


@pytest.mark.parametrize("device, seat", [
    ("PJSIP/1001", "1001"), ("pjsip/1001", "1001"), ("Local/1001@x", None),
    ("PJSIP/", None), ("PJSIP", None), ("PJSIP/a/b", None),
])
def test_seat_from_device(device, seat):
    assert seat_from_device(device) == seat


def test_longest_idle_first_and_only_idle():
    seats = [SeatView("s", "1", SeatState.IDLE, 30), SeatView("s", "2", SeatState.TALKING, 1),
             SeatView("s", "3", SeatState.IDLE, 10), SeatView("s", "4", SeatState.IDLE, 10),
             SeatView("s", "5", SeatState.OFFLINE, 0)]
    assert [s.seat for s in idle_longest_first(seats)] == ["3", "4", "1"]
    assert idle_longest_first([]) == []


@pytest.mark.parametrize("base, paused, wrap_until, now, expected", [
    (SeatState.IDLE, "", 0, 100, SeatState.IDLE),
    (SeatState.IDLE, "", 130, 100, SeatState.WRAP_UP),
    (SeatState.IDLE, "", 90, 100, SeatState.IDLE),
    (SeatState.IDLE, "lunch", 130, 100, SeatState.PAUSED),
    (SeatState.TALKING, "lunch", 130, 100, SeatState.TALKING),
    (SeatState.RINGING, "", 130, 100, SeatState.RINGING),
    (SeatState.OFFLINE, "lunch", 130, 100, SeatState.OFFLINE),
])
def test_effective_state(base, paused, wrap_until, now, expected):
    assert effective_state(base, paused, wrap_until, now) is expected
