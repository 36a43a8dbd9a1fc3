"""The append-only story of every call and ticket (可查、可看、可追溯), in Redis Streams.

Every call event that matters (started, routed, answered, transferred, conferenced, ended,
a case received from the other platform) is appended to ``hl:timeline:call:{call_id}``
and, once the call has a ticket, to ``hl:timeline:ticket:{ticket_id}``. Redis runs with AOF
persistence (the sandbox starts it so), so the log survives a restart.

Events arrive from the in-process bus synchronously; they are queued and written in order
by one task, so call handling never waits for Redis. The start of a call a number made to a
platform also goes into that number's history (``tickets.number_history``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Mapping
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from hotline_link.core.bus import BusEvent, EventBus
from hotline_link.core.events import (
    CallAnswered,
    CallEnded,
    CallRouted,
    CallStarted,
    ConferenceDialling,
    ConferenceEnded,
    ConferenceJoined,
    ConferenceLeft,
    TicketReceived,
    TicketUpdated,
    TransferAnswered,
    TransferCallerGone,
    TransferDialling,
    TransferFailed,
    TransferRinging,
)
from hotline_link.core.logs import mask_number
from hotline_link.core.redis_client import as_str_entries, as_str_list
from hotline_link.core.tasks import cancel_and_wait
from tickets.number_history import stage_call
from tickets.peer_story import PeerStory, first_answered_across, peer_tickets
from tickets.redis_keys import handed_over_key, open_calls_key, ticket_calls_key, timeline_once_key
from tickets.redis_keys import timeline_call_key as call_key
from tickets.redis_keys import timeline_ticket_key as ticket_key
from tickets.sharing import shareable
from tickets.store import TICKET_TTL_S, Ticket, TicketStore

log = structlog.get_logger(__name__)

# the names of the events recorded (names, as the stored entries and the dev tools have them)
RECORDED = frozenset(kind.NAME for kind in (
    CallStarted, CallRouted, CallAnswered, CallEnded, TicketReceived,
    TransferDialling, TransferRinging, TransferAnswered, TransferFailed,
    TransferCallerGone, ConferenceDialling, ConferenceJoined, ConferenceLeft,
    ConferenceEnded, TicketUpdated))
MAX_BACKLOG = 200_000  # events waiting to be written while Redis is away (about an hour of a busy city)
STREAM_MAXLEN = 10_000  # per call or ticket: far more than any real case produces
# What every server instance hears from AMI and the call book yields once per call: with
# several instances each would append it, so the first write wins (a key per call and
# event, set in the same Lua step as the append). The other events come from one instance
# only (the one that ran the AGI, owns the transfer or the room).
ONCE_PER_CALL = frozenset(kind.NAME for kind in (CallStarted, CallAnswered, CallEnded))
ONCE_TTL_S = 2 * 86400  # the instances' copies of an event arrive within seconds
# A call another instance started after this one's channel snapshot is not in it: only
# calls that started this long before the resync are ended as unheard. The resync runs as
# soon as the snapshot is answered (it is first in the connection's queue), so this covers
# the snapshot's own time and the clock skew between instances on one site.
RESYNC_MARGIN_S = 2.0
OPEN_CALL_MAX_S = 2 * 86400  # an open call older than this lost its end for good: forgotten
# A call whose first leg we originated (回访, a duty phone, a three-way call's third party,
# which presents the caller's number) is not one the number made: not in its history.
ORIGINATED = "Local/"
_APPEND = """
local ttl = tonumber(ARGV[2])
if ARGV[1] == '1' and not redis.call('set', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[5])) then return 0 end
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
for i = 2, math.min(#KEYS, 3) do
  redis.call('xadd', KEYS[i], 'MAXLEN', '~', ARGV[3], '*', unpack(fields))
  redis.call('expire', KEYS[i], ttl)
end
if #KEYS == 4 then
  redis.call('sadd', KEYS[4], ARGV[4])
  redis.call('expire', KEYS[4], ttl)
end
return 1
"""


def entry_of(event: BusEvent, now: float) -> dict[FieldT, EncodableT]:
    """The stored form of an event: flat strings, caller numbers masked. Pure."""
    data = {k: v for k, v in event.data.items() if v is not None}
    if "caller" in data:
        data["caller"] = mask_number(str(data["caller"]))
    return {"event": event.name, "at": repr(now), "data": json.dumps(data, ensure_ascii=False)}


def add_story_entry(pipe: Pipeline, ticket_id: str, leg: str, entry: Mapping[FieldT, EncodableT]) -> None:
    """Queue on ``pipe`` a step of a ticket's story that another capability writes (e.g. the
    closed loop): ``entry`` (see ``entry_of``) is appended to the stream of that
    capability's pseudo call ``leg``, which is listed among the ticket's calls, so
    ``for_ticket`` shows it in time order. Both are kept as long as the tickets."""
    pipe.xadd(call_key(leg), dict(entry), maxlen=STREAM_MAXLEN, approximate=True)
    pipe.expire(call_key(leg), TICKET_TTL_S)
    pipe.sadd(ticket_calls_key(ticket_id), leg)
    pipe.expire(ticket_calls_key(ticket_id), TICKET_TTL_S)


def first_answered(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """首接: the platform whose agent answered the case first. Pure."""
    answered = [e for e in entries if e["event"] == CallAnswered.NAME]
    if not answered:
        return None
    first = min(answered, key=lambda e: e["at"])
    return {"site": first["data"].get("site"), "agent": first["data"].get("answered_by"),
            "at": first["at"], "call_id": first["data"].get("call_id")}


class TicketTimeline:
    def __init__(self, redis: Redis, tickets: TicketStore, bus: EventBus,
                 center_sites: frozenset[str]) -> None:
        self.redis = redis
        self.tickets = tickets
        self.center_sites = center_sites
        self._queue: asyncio.Queue[tuple[BusEvent, float]] = asyncio.Queue()
        self.dropped = 0  # events not recorded because the backlog was full
        self._task: asyncio.Task[None] | None = None
        self._append = redis.register_script(_APPEND)
        self.peer: PeerStory | None = None
        bus.listen(self._enqueue)

    def attach_peer(self, peer: PeerStory) -> None:
        """The other platform runs its own deployment (the exchange plugin attaches its
        channel): its part of a story comes from messages from now on."""
        self.peer = peer

    def _enqueue(self, event: BusEvent) -> None:
        if event.name not in RECORDED:
            return
        if self._queue.qsize() >= MAX_BACKLOG:  # Redis away for long: memory stays bounded
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.error("timeline.backlog_full", backlog=self._queue.qsize(), dropped=self.dropped)
            return
        self._queue.put_nowait((event, time.time()))

    def start(self) -> None:
        self._task = asyncio.create_task(self._write_loop(), name="ticket-timeline")

    async def flush(self, timeout: float = 5.0) -> None:
        """Return once every event queued so far is written."""
        await asyncio.wait_for(self._queue.join(), timeout)

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await self.flush()
        await cancel_and_wait([self._task])

    async def _write_loop(self) -> None:
        while True:
            event, at = await self._queue.get()
            try:
                await self._write(event, at)
            except RedisError as exc:  # keep the event: retry once Redis is back
                log.warning("timeline.write_failed", ticket_event=event.name, error=str(exc))
                await asyncio.sleep(0.5)
                self._queue.put_nowait((event, at))
            except Exception:  # a bug or bad data: retrying cannot help; say so once, go on
                log.exception("timeline.write_bug", ticket_event=event.name,
                              call_id=str(event.data.get("call_id", "")))
            finally:
                self._queue.task_done()

    async def _write(self, event: BusEvent, at: float) -> None:
        # every recorded event's payload is stored as it is; each names its call
        call_id = str(event.data.get("call_id", ""))
        if not call_id:
            return
        if event.is_(CallAnswered):
            answered = event.as_(CallAnswered)
            if answered.site in self.center_sites:
                await self.tickets.open_for_call(answered.site, call_id, now=at, caller=answered.caller)
        entry = entry_of(event, at)
        ticket = await self.tickets.for_call(call_id)
        keys = [timeline_once_key(call_id, event.name), call_key(call_id)]
        if ticket is not None:
            keys += [ticket_key(ticket.id), ticket_calls_key(ticket.id)]
        once = "1" if event.name in ONCE_PER_CALL else "0"
        fields = [item for pair in entry.items() for item in pair]
        # one atomic step; every key kept as long as the tickets themselves
        args: list[EncodableT] = [once, TICKET_TTL_S, STREAM_MAXLEN, call_id, ONCE_TTL_S, *fields]
        if not await self._append(keys=keys, args=args):
            log.debug("timeline.already_written", ticket_event=event.name, call_id=call_id)
        if event.is_(CallStarted):
            started = event.as_(CallStarted)
            if started.site:
                await self.redis.zadd(open_calls_key(started.site), {call_id: at}, nx=True)
            # a caller's call: not one the server originated (Local/, or an agent's phone rung
            # first for a callback, which dials no number of ours)
            if (started.site in self.center_sites and not started.channel.startswith(ORIGINATED)
                    and started.dialled.isdigit()):
                pipe = self.redis.pipeline(transaction=False)
                stage_call(pipe, started.site, started.caller, call_id, at)
                await pipe.execute()
        elif event.is_(CallEnded):
            # read loosely: the call.ended of on_resync is the timeline's own, not a whole CallEnded
            site = str(event.data.get("site", ""))
            if site:
                await self.redis.zrem(open_calls_key(site), call_id)

    async def on_resync(self, site: str, channels: list[dict[str, str]]) -> None:
        """After an AMI (re)connect: a call the timeline holds open whose channels are all
        gone ended while no server heard it (the server was stopped, or the link down); its
        story gets its end, ``call.ended`` with reason ``ended_unheard``. Written to the
        timeline only: the bus's listeners never knew the call, or had it ended by the call
        book's own resync (then this write is the duplicate the once-key drops)."""
        live = {ch.get("Linkedid", "") for ch in channels}
        now = time.time()
        key = open_calls_key(site)
        await self.redis.zremrangebyscore(key, "-inf", now - OPEN_CALL_MAX_S)
        # calls started just now may be another instance's, begun after this snapshot was taken
        for call_id in await self.redis.zrangebyscore(key, "-inf", now - RESYNC_MARGIN_S):
            if call_id not in live:
                self._queue.put_nowait((BusEvent(CallEnded.NAME, {
                    "call_id": call_id, "site": site, "reason": "ended_unheard", "cause": "",
                    "answered_by": None}), now))
                log.info("timeline.ended_unheard", call_id=call_id, site=site)

    async def _read(self, key: str) -> list[dict[str, Any]]:
        rows = as_str_entries(await self.redis.xrange(key))
        return [{"id": rid, "event": f["event"], "at": float(f["at"]), "data": json.loads(f["data"])}
                for rid, f in rows]

    async def for_call(self, call_id: str) -> list[dict[str, Any]]:
        return await self._read(call_key(call_id))

    async def _across_deployments(self, ticket: Ticket) -> dict[str, Any]:
        """The story with the other platform in its own deployment: our ticket's calls only
        (the exchange notes among them, one pseudo call), since the other platform's keys are
        not ours to read; its tickets and 首接 as the messages tell them."""
        entries: dict[str, dict[str, Any]] = {}
        for call_id in as_str_list(await self.redis.smembers(ticket_calls_key(ticket.id))):
            for entry in await self.for_call(call_id):
                entries[f"{call_id}/{entry['id']}"] = {**entry, "ticket_id": ticket.id}
        story = sorted(entries.values(), key=lambda e: (e["at"], e["id"]))
        return {"ticket": ticket, "related_tickets": peer_tickets(story, ticket.id),
                "first_answered": first_answered_across(story), "events": story}

    async def for_ticket(self, ticket_id: str) -> dict[str, Any] | None:
        """The whole story: this ticket's calls, and the ticket it was handed over from (or
        to) on the other platform, in time order, with who answered first (首接)."""
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            return None
        if self.peer is not None:
            return await self._across_deployments(ticket)
        related = {ticket_id}
        if ticket.source_ticket:
            related.add(ticket.source_ticket)
        related |= set(as_str_list(await self.redis.smembers(handed_over_key(ticket_id))))
        for tid in sorted(related - {ticket_id}):
            other = await self.tickets.get(tid)
            # the other platform's side of a restricted matter stays there (shareable)
            if other is not None and other.site != ticket.site and not shareable(other):
                related.discard(tid)
        entries: dict[str, dict[str, Any]] = {}
        for tid in related:
            for call_id in as_str_list(await self.redis.smembers(ticket_calls_key(tid))):
                for entry in await self.for_call(call_id):
                    entries[f"{call_id}/{entry['id']}"] = {**entry, "ticket_id": tid}
        story = sorted(entries.values(), key=lambda e: (e["at"], e["id"]))
        return {"ticket": ticket, "related_tickets": sorted(related - {ticket_id}),
                "first_answered": first_answered(story), "events": story}
