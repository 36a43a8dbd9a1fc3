"""Seat states and how Asterisk's signals map onto them. Pure: no I/O."""

from __future__ import annotations

from enum import Enum


class SeatState(str, Enum):
    OFFLINE = "offline"
    IDLE = "idle"
    RINGING = "ringing"
    TALKING = "talking"
    WRAP_UP = "wrap_up"  # after a call, for wrap_up_s: notes, the ticket; no new call
    PAUSED = "paused"  # the agent (or a supervisor) said so, with a reason


_DEVICE_STATES = {
    "NOT_INUSE": SeatState.IDLE,
    "RINGING": SeatState.RINGING,
    "RINGINUSE": SeatState.TALKING,
    "INUSE": SeatState.TALKING,
    "BUSY": SeatState.TALKING,
    "ONHOLD": SeatState.TALKING,
    "UNAVAILABLE": SeatState.OFFLINE,
    "INVALID": SeatState.OFFLINE,
}

REGISTERED_CONTACT_STATUSES = frozenset({"created", "reachable", "nonqualified", "updated", "unknown"})
GONE_CONTACT_STATUSES = frozenset({"removed", "unreachable"})


def contact_registered(status: str) -> bool | None:
    """True/False for a contact status that says registered/gone, None if it says neither."""
    lowered = status.strip().lower()
    if lowered in REGISTERED_CONTACT_STATUSES:
        return True
    if lowered in GONE_CONTACT_STATUSES:
        return False
    return None


def derive_state(registered: bool, device_state: str) -> SeatState:
    if not registered:
        return SeatState.OFFLINE
    state = _DEVICE_STATES.get(device_state.strip().upper(), SeatState.IDLE)
    # A registered contact whose device still reads UNAVAILABLE is about to flip; the
    # registration is the fresher signal.
    return SeatState.IDLE if state is SeatState.OFFLINE else state


def seat_from_device(device: str) -> str | None:
    """``PJSIP/1001`` -> ``1001``; other technologies and malformed names -> None."""
    tech, sep, name = device.partition("/")
    if tech.upper() != "PJSIP" or not sep or not name or "/" in name:
        return None
    return name


def effective_state(base: SeatState, paused_reason: str, wrap_until: float, now: float,
                    logged_out: bool = False) -> SeatState:
    """What the seat is now, from what Asterisk says (``base``) and what the agent said.
    A call in progress wins over a pause; a pause wins over wrap-up. A seat a supervisor
    logged out is offline (once its call, if any, ends) until it logs in again. Pure."""
    if base in (SeatState.OFFLINE, SeatState.RINGING, SeatState.TALKING):
        return base
    if logged_out:
        return SeatState.OFFLINE
    if paused_reason:
        return SeatState.PAUSED
    if now < wrap_until:
        return SeatState.WRAP_UP
    return base
