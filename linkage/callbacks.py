"""回访 (the satisfaction callback): once a unit reported its result the caller is called
within the calling hours and asked 1 满意 / 2 基本满意 / 3 不满意; the answer (or 未回访
after two unanswered tries, or one an agent records) closes the loop. Callers may opt out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from hotline_link.core.events import LinkageCallback, LinkageCallbackSkipped
from linkage import lifecycle
from linkage.errors import LinkageError, NoCallback
from linkage.journal import Clock, Journal
from linkage.lifecycle import Action, Kind, Loop, LoopEvent
from linkage.phone import PhoneAsks, Step, callback_prompt
from linkage.records import DispatchRecords
from linkage.redis_keys import LinkageKeys
from linkage.repeats import normalise_number
from tickets.store import Ticket, TicketStore

CALLBACK_RESULTS = ("满意", "基本满意", "不满意", "未回访")


class Callbacks:
    def __init__(self, redis: Redis, keys: LinkageKeys, records: DispatchRecords, tickets: TicketStore,
                 journal: Journal, *, clock: Clock, window: Callable[[float], float]) -> None:
        self.redis = redis
        self.keys = keys
        self.records = records
        self.tickets = tickets
        self.journal = journal
        self.clock = clock
        # when a 回访 call may go out: the next moment within the calling hours
        self.window = window
        self.phone: PhoneAsks | None = None

    async def opt_out(self, number: str) -> None:
        """The caller asked never to be called back (回访)."""
        if number := normalise_number(number):
            await self.redis.sadd(self.keys.callback_optout, number)

    async def opt_in(self, number: str) -> None:
        """Undo ``opt_out``: the number may be called back again."""
        if number := normalise_number(number):
            await self.redis.srem(self.keys.callback_optout, number)

    async def opted_out(self, number: str) -> bool:
        number = normalise_number(number)
        return bool(number) and bool(await self.redis.sismember(self.keys.callback_optout, number))

    async def ask_satisfaction(self, ticket_id: str) -> None:
        """回访 by phone once the unit reported its result: the caller is called within the
        calling hours (``window``: by default the working calendar's) and asked
        1 满意 / 2 基本满意 / 3 不满意; two tries unanswered record 未回访. Never for a
        restricted ticket, an anonymous caller or a number that opted out."""
        ticket = await self.tickets.get(ticket_id)
        if self.phone is None or ticket is None:
            return
        number = normalise_number(ticket.caller)
        reason = ("restricted" if ticket.restricted else "anonymous" if not number else
                  "opted_out" if await self.opted_out(number) else "")
        if reason:
            await self.journal.record(LinkageCallbackSkipped(ticket_id=ticket_id, site=ticket.site, reason=reason))
            return
        await self.phone.schedule_ask("callback", ticket_id, ticket.site, [number, number], callback_prompt(),
                                      at=self.window(self.clock()))

    async def callback(self, ticket: Ticket, result: str, by: str) -> None:
        """Record the satisfaction callback's answer (满意/基本满意/不满意, or 未回访)."""
        if result not in CALLBACK_RESULTS:
            raise LinkageError(f"result must be one of {', '.join(CALLBACK_RESULTS)}")
        loop = Loop.of(ticket.id, await self.records.get(ticket.id))
        eligible = not ticket.restricted and bool(normalise_number(ticket.caller))
        transition = lifecycle.step(loop, LoopEvent(Kind.CALLBACK, eligible=eligible))
        if Action.RECORD_CALLBACK in transition.actions:
            await self.records.save(ticket.id, callback=result)
            await self.journal.record(LinkageCallback(ticket_id=ticket.id, unit=loop.unit, site=ticket.site,
                                                      result=result, by=by))

    async def phone_answered(self, ask: dict[str, Any], step: Step) -> None:
        """The 回访 call's last word: the key pressed, or 未回访 after two unanswered tries."""
        ticket = await self.tickets.get(ask["ticket_id"])
        answer = step.answer if step.action == "done" else "未回访"
        if ticket is not None:
            with contextlib.suppress(NoCallback):  # already answered another way
                await self.callback(ticket, answer, by="phone")
