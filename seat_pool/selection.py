"""Which seat gets the next call. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from seat_pool.state import SeatState


@dataclass(frozen=True)
class SeatView:
    site: str
    seat: str
    state: SeatState
    since: float  # when the seat entered its state (epoch seconds)


def idle_longest_first(seats: list[SeatView]) -> list[SeatView]:
    """Idle seats, the one idle the longest first (ties broken by seat id, stable)."""
    idle = [s for s in seats if s.state is SeatState.IDLE]
    return sorted(idle, key=lambda s: (s.since, s.seat))
