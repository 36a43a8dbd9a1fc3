"""The screen pop (弹屏): what an agent's desk shows of the call ringing at it, assembled
from plain inputs. Pure: no I/O, the clock is passed in; ``call_control.screen_reads``
reads the inputs.

The rules, in one place:

* the caller's number is masked, as in every HTTP answer;
* a ticket of another platform shows its content only if it may leave that platform
  (``tickets.sharing.shareable``): a restricted one shows its number only;
* a number without a history (withheld, malformed, a service number or an extension:
  ``tickets.number_history.history_identity``) gets none, whatever the inputs hold;
* the other open tickets and the recent calls are the newest ``max_items``; the number is
  a repeat caller when it called this platform within ``repeat_window_s`` before now.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from call_control.calls import Call
from call_control.schema import (
    AgentScreen,
    ScreenOpenTicket,
    ScreenRecentCall,
    ScreenRecommendation,
    ScreenTicket,
)
from hotline_link.core.logs import mask_number
from linkage.lifecycle import DispatchState
from tickets.number_history import PastCall, history_identity
from tickets.recommend import Recommendation
from tickets.sharing import is_restricted, shareable
from tickets.store import Ticket

REPEAT_WINDOW_S = 24 * 3600.0
MAX_ITEMS = 5


@dataclass(frozen=True)
class ScreenRules:
    repeat_window_s: float = REPEAT_WINDOW_S  # an earlier call this recent makes a repeat caller
    max_items: int = MAX_ITEMS  # open tickets and recent calls shown, each


DEFAULT_RULES = ScreenRules()


@dataclass(frozen=True)
class CallerHistory:
    """What the caller's number did before on this platform, as read: its tickets (the
    call's own among them, maybe), their closed-loop states by ticket id (none where no
    closed loop runs), and its calls (this one among them, maybe)."""

    tickets: Sequence[Ticket] = ()
    statuses: Mapping[str, str] = field(default_factory=dict)
    calls: Sequence[PastCall] = ()


def _shown(ticket: Ticket, platform: str) -> bool:
    """May an agent of ``platform`` see the ticket's content?"""
    return ticket.site == platform or shareable(ticket)


def _ticket(ticket: Ticket, source: Ticket | None, platform: str) -> ScreenTicket:
    shown = _shown(ticket, platform)
    known_source = source if source is not None and source.id == ticket.source_ticket and \
        _shown(source, platform) else None
    return ScreenTicket(
        id=ticket.id,
        category=ticket.category if shown else None,
        summary=ticket.summary if shown else None,
        division_code=(ticket.division_code or None) if shown else None,
        emergency=ticket.emergency if shown else None,
        severity=ticket.severity if shown else None,
        restricted=is_restricted(ticket),
        source_platform=ticket.source_platform or None,
        source_ticket=ticket.source_ticket or None,
        source_category=(known_source.category or None) if known_source else None,
        source_summary=(known_source.summary or None) if known_source else None)


def note_of(ticket: Ticket | None, source: Ticket | None, platform: str) -> str:
    """The text the catalog's recommendation is made from: the ticket's category and
    summary, else what its source said (only what the agent may see); '' for none."""
    for candidate in (ticket, source):
        if candidate is not None and _shown(candidate, platform):
            text = " ".join(part for part in (candidate.category, candidate.summary) if part.strip())
            if text:
                return text
    return ""


def _recommendation(recommendation: Recommendation | None) -> ScreenRecommendation | None:
    if recommendation is None:
        return None
    return ScreenRecommendation(platform=recommendation.platform, category=recommendation.category,
                                emergency=recommendation.emergency, confidence=recommendation.confidence)


# the closed loop's states with a result: no longer open (without a closed loop here, every
# ticket counts as open)
_CLOSED = frozenset(state.value for state in DispatchState if not state.open)


def _open_tickets(history: CallerHistory, identity: str, own: str | None, platform: str,
                  limit: int) -> list[ScreenOpenTicket]:
    kept = [t for t in history.tickets
            if t.id != own and history.statuses.get(t.id) not in _CLOSED
            # an entry of a ticket whose caller was corrected since is not this number's
            and (not t.caller or history_identity(t.caller) == identity)]
    kept.sort(key=lambda t: (t.created_at, t.id), reverse=True)
    return [ScreenOpenTicket(id=t.id, category=t.category if _shown(t, platform) else None,
                             summary=t.summary if _shown(t, platform) else None,
                             created_at=t.created_at, status=history.statuses.get(t.id))
            for t in kept[:limit]]


def agent_screen(call: Call, agent: str, *, in_conference: bool, ticket: Ticket | None, source: Ticket | None,
                 recommendation: Recommendation | None, history: CallerHistory, now: float,
                 rules: ScreenRules = DEFAULT_RULES) -> AgentScreen:
    """The screen of ``call`` for ``agent``: ``ticket`` is the call's, ``source`` the
    ticket it was handed over from as this deployment knows it (held here, or as the
    handover message carried it), ``history`` the caller number's."""
    platform = call.site
    state: Literal["ringing", "talking", "conference"]
    if in_conference:
        state = "conference"
    elif call.answered_agent_channel(agent) is not None:
        state = "talking"
    else:
        state = "ringing"  # this agent's phone rings, whoever else answered before
    identity = history_identity(call.caller)
    open_tickets: list[ScreenOpenTicket] = []
    earlier: list[PastCall] = []
    if identity is not None:
        open_tickets = _open_tickets(history, identity, ticket.id if ticket else None, platform, rules.max_items)
        earlier = sorted((c for c in history.calls if c.call_id != call.call_id),
                         key=lambda c: (c.started_at, c.call_id), reverse=True)
    return AgentScreen(
        call_id=call.call_id, site=call.site, caller=mask_number(call.caller), state=state,
        ticket=_ticket(ticket, source, platform) if ticket is not None else None,
        recommendation=_recommendation(recommendation),
        open_tickets=open_tickets,
        recent_calls=[ScreenRecentCall(call_id=c.call_id, started_at=c.started_at, answered_by=c.answered_by)
                      for c in earlier[:rules.max_items]],
        repeat_caller=any(c.started_at >= now - rules.repeat_window_s for c in earlier))
