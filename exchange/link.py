"""The exchange link as this server instance sees it: is the other deployment's server
there, and does it take what we send? Pure: no I/O, no clock (every event carries its time).

``step(link, event) -> (link, actions)``. The events are what the sender and the probe
learn: an attempt or a probe the peer's endpoint answered (``Answered``), one that got no
answer (``Unanswered``: a timeout, a refused connection, a 5xx), a key, clock or address
the peer does not take (``Alerted``: a 401, an answer that is not the exchange's), a final
refusal that stopped a ticket's queue (``Refused``), and how many queues are stopped
(``Stopped``, read from the outbox). The state follows from what they left, the first that holds:

- ``off``: the channel does not run here (one deployment for both platforms, no peer URL);
  no event changes it;
- ``down``: the last ``DOWN_AFTER`` attempts or probes in a row got no answer (the attempts
  of one round of the sender, side by side at one time, count once);
- ``key_alert``: the peer refused our signature (a key or the clock to fix), or the peer URL
  is not its exchange; until the peer takes a message or a probe;
- ``refused``: queues stopped by a final refusal wait for an operator (``resume``);
- ``up``: the peer answered, and none of the above;
- ``unknown``: the channel runs but nothing was learned yet (just started).

So a key alert or stopped queues under a partition show again once the peer is back, and
the state changes (``Changed``, which the service announces on the bus) only when one of
those facts does. Each server instance keeps its own: reachability is a host's view, and
every instance probes (``exchange_probe_s``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from exchange import wire

DOWN_AFTER = 3  # rounds of attempts, or probes, in a row without an answer: the link is down
MAX_ERROR_CHARS = 300


class LinkState(StrEnum):
    OFF = "off"
    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"
    REFUSED = "refused"
    KEY_ALERT = "key_alert"


@dataclass(frozen=True)
class Link:
    """Where the link stands and the facts it follows from."""

    state: LinkState = LinkState.UNKNOWN
    since: float | None = None  # when it entered ``state`` (None: not since any event)
    failures: int = 0  # attempts and probes in a row without an answer, at distinct times (at most DOWN_AFTER)
    failed_at: float | None = None  # the time of the last of them
    last_error: str = ""  # the last of them, in words
    alert: str = ""  # the key, clock or address to fix, until the peer takes a message or a probe
    refusal: str = ""  # the last final refusal, while queues are stopped
    stopped: int = 0  # queues stopped by a final refusal
    answered: bool = False  # the peer's endpoint answered at least once

    @property
    def error(self) -> str:
        """Why the link is in its state, in words ("" when up, unknown or off)."""
        if self.state is LinkState.DOWN:
            return self.last_error
        if self.state is LinkState.KEY_ALERT:
            return self.alert
        if self.state is LinkState.REFUSED:
            count = f"{self.stopped} queue{'s' if self.stopped != 1 else ''} stopped"
            return f"{count}: {self.refusal}" if self.refusal else f"{count} by a final refusal: resume once mended"
        return ""


OFF = Link(LinkState.OFF)


# --- events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answered:
    """The peer's exchange endpoint took a signed request: a receipt (acknowledged, or
    retry later from its inbox) or a probe's hello. Reachable, our key and clock taken."""

    at: float


@dataclass(frozen=True)
class Unanswered:
    """No answer (a timeout, a refused connection, a reset) or one saying the peer cannot
    take anything now (a 5xx, 408, 429 without a receipt)."""

    at: float
    error: str


@dataclass(frozen=True)
class Alerted:
    """The peer refused our signature (a key or the clock), or the peer URL answered but is
    not its exchange endpoint; no key signs our direction here. Retried; an operator fixes it."""

    at: float
    error: str


@dataclass(frozen=True)
class Refused:
    """A final refusal: a ticket's queue stopped until an operator resumes it."""

    at: float
    error: str


@dataclass(frozen=True)
class Stopped:
    """How many queues the outbox holds stopped now (read at each round of the link loop,
    and after a resume)."""

    at: float
    count: int


Event = Answered | Unanswered | Alerted | Refused | Stopped


@dataclass(frozen=True)
class Changed:
    """The state changed: announce it (``exchange.link`` on the bus, the log)."""

    previous: LinkState
    link: Link


Action = Changed


def _state(link: Link) -> LinkState:
    if link.failures >= DOWN_AFTER:
        return LinkState.DOWN
    if link.alert:
        return LinkState.KEY_ALERT
    if link.stopped:
        return LinkState.REFUSED
    return LinkState.UP if link.answered else LinkState.UNKNOWN


def _learn(link: Link, event: Event) -> Link:
    if isinstance(event, Answered):
        return replace(link, failures=0, failed_at=None, alert="", answered=True)
    if isinstance(event, Unanswered):  # a round's attempts side by side are one sign, not several
        failures = link.failures if event.at == link.failed_at else min(DOWN_AFTER, link.failures + 1)
        return replace(link, failures=failures, failed_at=event.at, last_error=event.error[:MAX_ERROR_CHARS])
    if isinstance(event, Alerted):
        return replace(link, failures=0, failed_at=None, alert=event.error[:MAX_ERROR_CHARS] or "alert",
                       answered=True)
    if isinstance(event, Refused):
        return replace(link, failures=0, failed_at=None, refusal=event.error[:MAX_ERROR_CHARS],
                       stopped=max(1, link.stopped), answered=True)
    count = max(0, event.count)
    return replace(link, stopped=count, refusal=link.refusal if count else "")


def step(link: Link, event: Event) -> tuple[Link, tuple[Action, ...]]:
    """What ``event`` makes of ``link``; ``Changed`` when its state changes. Off stays off."""
    if link.state is LinkState.OFF:
        return link, ()
    learned = _learn(link, event)
    state = _state(learned)
    if state is link.state:
        return replace(learned, state=state), ()
    changed = replace(learned, state=state, since=event.at)
    return changed, (Changed(link.state, changed),)


# --- what the sender and the probe learned, as events ------------------------------------


def _words(outcome: wire.RetryLater | wire.Rejected) -> str:
    if isinstance(outcome, wire.RetryLater) and outcome.reason == "unreachable":
        return f"cannot connect to the peer ({outcome.detail})" if outcome.detail else "cannot connect to the peer"
    if isinstance(outcome, wire.RetryLater) and outcome.reason == "timeout":
        return outcome.detail or "no answer in time"
    return f"{outcome.reason}: {outcome.detail}" if outcome.detail else outcome.reason


def of_delivery(delivery: wire.Delivery, at: float) -> Event:
    """What one attempt at a message says of the link."""
    if isinstance(delivery, wire.Acked):
        return Answered(at)
    if isinstance(delivery, wire.Rejected):
        return Refused(at, _words(delivery))
    if delivery.alert:
        return Alerted(at, _words(delivery))
    if delivery.receipt is not None:  # the inbox asked for later (hold full, outside its window)
        return Answered(at)
    return Unanswered(at, _words(delivery))


def of_probe(outcome: wire.Hello | wire.RetryLater | wire.Rejected, at: float) -> Event:
    """What one probe (``wire.hello_of``) says of the link. A probe stops no queue: a final
    answer to it (an older peer without the hello, a 404 at that URL) is an alert."""
    if isinstance(outcome, wire.Hello):
        return Answered(at)
    if isinstance(outcome, wire.Rejected):
        return Alerted(at, f"probe: {_words(outcome)}")
    if outcome.alert:
        return Alerted(at, f"probe: {_words(outcome)}")
    return Unanswered(at, f"probe: {_words(outcome)}")


# --- the backlog ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Backlog:
    """What waits on this deployment, as its Redis holds it."""

    outgoing: int  # our messages the peer has not taken (the outbox's backlog)
    incoming: int  # the peer's messages taken here and not applied yet (waiting for their link)
    oldest_at: float | None  # when the oldest of ``outgoing`` was queued
    stopped: int  # our tickets' queues stopped by a final refusal
    dead: int  # applied messages given up or unreadable (the dead list)


NO_BACKLOG = Backlog(0, 0, None, 0, 0)


def counts(platform: str | None, peer_platform: str | None, backlog: Backlog) -> dict[str, Any]:
    """The backlog's counts as the status API and the supervisor page show them: messages
    waiting, in all and each way (``<from>-><to>``; none when off), stopped queues, dead."""
    by_direction = {f"{platform}->{peer_platform}": backlog.outgoing,
                    f"{peer_platform}->{platform}": backlog.incoming} if platform and peer_platform else {}
    return {"waiting": backlog.outgoing + backlog.incoming, "waiting_by_direction": by_direction,
            "stopped_count": backlog.stopped, "dead_count": backlog.dead}


def oldest_waiting_s(oldest_at: float | None, now: float) -> float | None:
    """The age of the oldest message the peer has not taken, in seconds (None: none waits)."""
    return None if oldest_at is None else round(max(0.0, now - oldest_at), 1)


def figures(platform: str | None, peer_platform: str | None, backlog: Backlog, now: float) -> dict[str, Any]:
    """``counts`` and the age of the oldest outgoing message at ``now``."""
    return {**counts(platform, peer_platform, backlog), "oldest_waiting_s": oldest_waiting_s(backlog.oldest_at, now)}
