"""Which calls were missed at intake (漏接): a call to a platform's intake that asked for an
agent (it joined the waiting queue, or the route hook sent it to a seat: ``queue.joined``,
``call.routed`` with a seat) and ended with nobody answering (``call.ended`` without
``answered_by``; the router's ``Outcome.ABANDONED`` is one such end). Each becomes a
``call.missed`` on the bus. A call that never asked for an agent (the IVR's self-service,
a callback the server originated) is not missed.

The queue and routing events come from the instance that ran the call's route hook, so one
instance tells each missed call. Memory is bounded: the oldest calls are forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from hotline_link.core.bus import BusEvent, EventBus
from hotline_link.core.events import CallAnswered, CallEnded, CallMissed, CallRouted, CallStarted, QueueJoined

MAX_TRACKED = 20_000


class MissedCalls:
    def __init__(self, bus: EventBus, centers: frozenset[str], clock: Callable[[], float],
                 max_tracked: int = MAX_TRACKED) -> None:
        self.bus = bus
        self.centers = centers
        self.clock = clock
        self._limit = max_tracked
        self._callers: OrderedDict[str, str] = OrderedDict()  # call id -> caller, calls to an intake
        self._waiting: OrderedDict[str, str] = OrderedDict()  # call id -> site: asked for an agent

    def attach(self) -> None:
        self.bus.listen(self.on_event)

    def _put(self, table: OrderedDict[str, str], key: str, value: str) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self._limit:
            table.popitem(last=False)

    def on_event(self, event: BusEvent) -> None:
        """Called synchronously on publish (a bus listener): bookkeeping only."""
        call_id = str(event.data.get("call_id") or "")
        if not call_id:
            return
        site = str(event.data.get("site") or "")
        if event.is_(CallStarted):
            if site in self.centers:
                self._put(self._callers, call_id, str(event.data.get("caller") or ""))
        elif event.is_(QueueJoined) or (event.is_(CallRouted) and event.data.get("seat")):
            if site in self.centers:
                self._put(self._waiting, call_id, site)
        elif event.is_(CallAnswered):
            self._waiting.pop(call_id, None)
            self._callers.pop(call_id, None)
        elif event.is_(CallEnded):
            caller = self._callers.pop(call_id, "")
            asked = self._waiting.pop(call_id, None)
            if asked is None or event.data.get("answered_by"):
                return
            self.bus.emit(CallMissed(call_id=call_id, site=asked,
                                     caller=caller or str(event.data.get("caller") or ""), ended_at=self.clock()))
