"""Routing decisions for one inbound call. Pure: no I/O; the router carries them out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from seat_pool.overflow_policy import WaitingCall, answer_order


class Outcome(str, Enum):
    SEAT = "seat"  # a local seat rings
    REMOTE = "remote"  # a remote seat of another site rings (overflow)
    IVR = "ivr"  # the caller goes to the surge IVR
    BUSY = "busy"  # a case handed over by the other platform finds no seat: back to sender
    FALLBACK = "fallback"  # the server gives up on the call; the dialplan rings every seat
    ABANDONED = "abandoned"  # the caller hung up while waiting
    WARNED = "warned"  # a harassing number hears the warning


@dataclass(frozen=True)
class CallFacts:
    """What the route hook knows about the call when it arrives."""

    site: str
    call_id: str
    handed_over: bool  # transferred in by the other platform, ticket attached
    ivr_done: bool  # already went through the IVR (and chose to keep waiting)
    emergency: bool  # a 110 call: first in line, never to the IVR, never overflowed
    handed_from: str = ""  # the platform that handed the case over, if any
    first_round: bool = True  # the hook's first run for this call (not back from a seat that rang out)


def takes_seat_now(waiting: Iterable[WaitingCall], call_id: str, free_seats: int) -> bool:
    """A queued call may take a free seat when fewer calls are ahead of it (in answer
    order: 110 first, then longest-waiting) than there are free seats."""
    order = [call.call_id for call in answer_order(waiting)]
    position = order.index(call_id) if call_id in order else len(order)
    return position < free_seats


def offer_ivr(call: CallFacts, ivr_sites: frozenset[str], overflow_active: bool,
              expected_wait_s: float, offer_wait_s: float) -> bool:
    """Send a caller who would have to wait to the surge IVR? Never a 110 call, never a
    case handed over by the other platform, never twice."""
    if call.emergency or call.handed_over or call.ivr_done or call.site not in ivr_sites:
        return False
    return overflow_active or expected_wait_s > offer_wait_s
