"""Tickets opened without a call: reports that reach the platform by the web, SMS, an app
or a 公众号 (通过电话、短信、网络渠道接到...; 拓宽互联网报警渠道).

A connected system (a channel token) or an agent sends the report; the ticket is opened on
the deployment's intake platform (``intake_site``), or an agent's own platform, with the
channel and its source on it, and the catalog recommender's advice in the answer. The
report's first step on the ticket's story is ``ticket.opened``. A report with an emergency
cue (the recommender's emergency flag: danger to life) alerts the supervisors at once
(``ticket.intake_alert``); ``callback`` asks the 回访 queue for a call back
(``ticket.callback_requested`` with no call id); a ticket opened from an SMS may answer the
sender through the outbox (``sms_reply_url``).

Rules (``check_report``, pure): ``received_at`` (when the channel got it, POSIX seconds)
at most ``MAX_AGE_S`` back and at most ``MAX_AHEAD_S`` ahead of this server's clock; the
caller a number (``CallerNumber.parse_written``), or anonymous where the channel allows
it (not by SMS, which always has a sender, and never with ``callback``); the text not
blank. Idempotent on ``external_id`` per source: a channel retrying a message after a
timeout gets the first ticket back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from redis.asyncio.client import Pipeline

from hotline_link.core.bus import BusEvent, EventBus
from hotline_link.core.errors import HttpError
from hotline_link.core.events import TicketCallbackRequested, TicketIntakeAlert, TicketOpened
from hotline_link.core.numbers import ANONYMOUS, CallerNumber
from hotline_link.core.settings import Settings
from tickets.config import TicketsConfig
from tickets.errors import TicketError
from tickets.outbox import Outbox
from tickets.recommend import Recommendation, RecommenderSource
from tickets.redis_keys import intake_claim_key
from tickets.store import Ticket, TicketStore
from tickets.timeline import add_story_entry, entry_of

log = structlog.get_logger(__name__)

CHANNELS = ("web", "sms", "app", "wechat")  # 网站, 短信, 移动应用, 微信公众号
# where a citizen may report without leaving a number (匿名举报); an SMS always has a sender
ANONYMOUS_CHANNELS = frozenset({"web", "app", "wechat"})
MAX_TEXT_CHARS = 500  # what a push carries of a summary; a longer form is the channel's to cut
MAX_AGE_S = 30 * 86400  # received_at at most 30 days back
MAX_AHEAD_S = 300.0  # and ahead of this server's clock by at most this skew (as a signed push)
INTAKE_LEG_PREFIX = "intake-"  # the pseudo call whose story is the ticket's opening
SMS_REPLY_TEXT = "您的诉求已受理，工单号{ticket_id}。请勿回复本短信。"


class BadReceivedAt(TicketError):
    status, code = 422, "bad_received_at"


class BadCaller(TicketError):
    status, code = 400, "bad_number"


class EmptyText(TicketError):
    status, code = 400, "empty_text"


class NoIntakeSite(HttpError):
    status, code = 409, "no_intake_site"


@dataclass(frozen=True)
class Report:
    """A report as a channel sent it (the body of ``POST /api/tickets`` or an SMS)."""

    channel: str
    caller: str
    text: str
    division_code: str = ""
    category: str = ""
    received_at: float | None = None
    callback: bool = False
    external_id: str = ""


@dataclass(frozen=True)
class Checked:
    caller: str  # the number as kept on a ticket ("" if anonymous)
    received_at: float
    text: str


@dataclass(frozen=True)
class Opened:
    ticket: Ticket
    recommendation: Recommendation
    created: bool  # False: the channel's message had opened this ticket before


def check_report(report: Report, now: float) -> Checked:
    """The report's caller, time and text as a ticket keeps them; a clear 4xx otherwise. Pure."""
    if report.channel not in CHANNELS:
        raise TicketError(f"channel must be one of {', '.join(CHANNELS)}")
    received = now if report.received_at is None else report.received_at
    if received < now - MAX_AGE_S:
        raise BadReceivedAt(f"received_at is {(now - received) / 86400:.1f} days back; at most "
                            f"{MAX_AGE_S // 86400} days are taken")
    if received > now + MAX_AHEAD_S:
        raise BadReceivedAt(f"received_at is {received - now:.0f} s in the future (more than "
                            f"{MAX_AHEAD_S:.0f} s of clock skew)")
    written = report.caller.strip()
    number = CallerNumber.parse_written(written)
    if number.is_anonymous:
        if written not in ("", ANONYMOUS):
            raise BadCaller("caller is not a phone number (3 to 20 digits, an optional leading +)")
        if report.channel not in ANONYMOUS_CHANNELS:
            raise BadCaller(f"a report by {report.channel} needs the sender's number")
        if report.callback:
            raise BadCaller("a call back needs the caller's number")
    text = report.text.strip()
    if not text:
        raise EmptyText("text is blank")
    if len(text) > MAX_TEXT_CHARS:
        raise TicketError(f"text is longer than {MAX_TEXT_CHARS} characters")
    return Checked("" if number.is_anonymous else number.digits, received, text)


def intake_site(settings: Settings) -> str | None:
    """The platform tickets from channels open on: ``[tickets] intake_site`` if set, else
    the one platform this deployment serves, or 12345 (the hotline's 网络渠道) when it
    serves both; None when it serves none."""
    configured = settings.section(TicketsConfig).intake_site
    platforms = settings.platform_ids
    if configured:
        return configured if configured in platforms else None
    if len(platforms) == 1:
        return next(iter(platforms))
    if "12345" in platforms:
        return "12345"
    return min(platforms) if platforms else None


def intake_leg(ticket_id: str) -> str:
    return INTAKE_LEG_PREFIX + ticket_id


class IntakeService:
    def __init__(self, settings: Settings, tickets: TicketStore, outbox: Outbox, recommender: RecommenderSource,
                 bus: EventBus, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.config = settings.section(TicketsConfig)
        self.tickets = tickets
        self.outbox = outbox
        self.recommender = recommender
        self.bus = bus
        self.clock = clock

    def site_for(self, agent_site: str | None = None) -> str:
        """Where a report opens its ticket: an agent's own platform, else the intake site."""
        site = agent_site if agent_site is not None else intake_site(self.settings)
        if site is None or site not in self.settings.platform_ids:
            raise NoIntakeSite("this deployment has no platform to open the ticket on (intake_site)")
        return site

    async def _advice(self, text: str) -> Recommendation:
        recommender = await self.recommender.get()
        return await asyncio.to_thread(recommender.recommend, text)

    async def open(self, report: Report, source: str, site: str) -> Opened:
        """Open the report's ticket on ``site`` (or find the one its ``external_id`` opened
        before), then tell whom it concerns."""
        now = self.clock()
        checked = check_report(report, now)
        claim = intake_claim_key(source, report.external_id) if report.external_id else ""
        if claim:
            existing = await self.tickets.claimed(claim)
            if existing is not None:
                return Opened(existing, await self._advice(existing.summary), created=False)
        advice = await self._advice(checked.text)
        ticket = Ticket(
            await self.tickets.new_id(site, now), site, "", category=report.category or advice.category,
            summary=checked.text, created_at=now, caller=checked.caller, division_code=report.division_code,
            emergency=advice.emergency, channel=report.channel, channel_source=source,
            received_at=checked.received_at, external_id=report.external_id)
        opened = TicketOpened(ticket_id=ticket.id, call_id="", site=site, channel=report.channel, source=source,
                              caller=CallerNumber.parse(checked.caller).masked if checked.caller else ANONYMOUS,
                              category=ticket.category, emergency=ticket.emergency,
                              received_at=checked.received_at)

        def story(pipe: Pipeline, saved: Ticket) -> None:
            add_story_entry(pipe, saved.id, intake_leg(saved.id), entry_of(BusEvent.of(opened), now))

        ticket, created = await self.tickets.open_without_call(ticket, claim=claim, stage=story)
        if not created:  # a retry that raced the first try: the first one's ticket
            return Opened(ticket, await self._advice(ticket.summary), created=False)
        log.info("ticket.opened", ticket_id=ticket.id, site=site, channel=report.channel, source=source,
                 emergency=ticket.emergency, caller=opened.caller)
        self.bus.emit(opened)
        if advice.emergency:
            reason = "、".join(advice.reasons)[:200] or advice.matter
            log.warning("ticket.intake_alert", ticket_id=ticket.id, site=site, channel=report.channel)
            self.bus.emit(TicketIntakeAlert(ticket_id=ticket.id, site=site, channel=report.channel, source=source,
                                            reason=reason))
        if report.callback:
            self.bus.emit(TicketCallbackRequested(ticket_id=ticket.id, call_id="", site=site, caller=opened.caller,
                                                  category=ticket.category))
        if report.channel == "sms" and ticket.caller:
            await self._reply_by_sms(ticket)
        return Opened(ticket, advice, created=True)

    async def _reply_by_sms(self, ticket: Ticket) -> None:
        """受理回执: the sender learns the ticket id, through the outbox (signed, retried),
        when the SMS gateway's send URL is configured; nothing otherwise."""
        url = self.config.sms_reply_url
        if not url:
            return
        body: dict[str, Any] = {"to": ticket.caller, "ticket_id": ticket.id, "in_reply_to": ticket.external_id,
                                "text": SMS_REPLY_TEXT.format(ticket_id=ticket.id)}
        await self.outbox.enqueue(f"sms-reply-{ticket.id}", url, body, secret_ref=self.config.sms_reply_secret_ref)
