"""Every Redis key of the exchange channel's edges, built in this one place. Pure.

The outbox (``exchange.outbox_store``), the inbox (``exchange.inbox_store``) and their audit
(``exchange.audit``) build their keys here; nothing else spells them. The strings are the
stored data's names: changing one orphans what Redis already holds.
"""

from __future__ import annotations

PREFIX = "hl:exchange:"

# --- the receiver (exchange.inbox_store) -------------------------------------------------

APPLIED = "hl:exchange:applied"  # stream: the admitted messages the plugin applies
APPLIED_GROUP = "appliers"  # the consumer group of APPLIED (not a key: a group name)
APPLIED_DEAD = "hl:exchange:applied-dead"  # list: entries no consumer could read, with why


def inbox_stream_key(peer_platform: str, peer_ticket: str) -> str:
    """The state (JSON) of one incoming stream: the peer's ticket, as ``inbox.Stream``."""
    return f"hl:exchange:in:stream:{peer_platform}:{peer_ticket}"


# --- the sender (exchange.outbox_store) --------------------------------------------------

OUTBOX_DUE = "hl:exchange:out:due"  # sorted set: in-flight head (message id) by when it is due
OUTBOX_BACKLOG = "hl:exchange:out:backlog"  # sorted set: message id not yet taken, by when queued
OUTBOX_STOPPED = "hl:exchange:out:stopped"  # hash: "<to platform>:<ticket>" -> why and when (JSON)


def outbox_queue_key(to_platform: str, ticket: str) -> str:
    """The state (JSON) of one of our tickets' queue to the other platform, as
    ``sequencing.Queue``."""
    return f"hl:exchange:out:queue:{to_platform}:{ticket}"


def outbox_message_key(message_id: str) -> str:
    """A hash: one outgoing message (its envelope, its queue, where it stands)."""
    return f"hl:exchange:out:message:{message_id}"


def stopped_field(to_platform: str, ticket: str) -> str:
    """A queue's field in ``OUTBOX_STOPPED``."""
    return f"{to_platform}:{ticket}"


# --- the audit (exchange.audit) ----------------------------------------------------------

LOG = "hl:exchange:log"  # capped stream: every message in and out, and its outcome
RETRIES = "hl:exchange:retries"  # small capped stream: attempts to be made again (no outcome)
# a sorted set of one member (``DAYS_SINCE_MEMBER``) scored by the earliest ``at`` counted into
# a day's counters (ZADD LT): before it, the report counts from the log
DAYS_SINCE = "hl:exchange:days-since"
DAYS_SINCE_MEMBER = "first"  # not a key: the one member of DAYS_SINCE


def day_key(day: str) -> str:
    """A hash: the messages taken on one local day (``YYYY-MM-DD``, Beijing time), what the
    report counts between the platforms, one field per kind of message
    (``linkage.exchange_days.day_fields``) and how many; kept longer than a year's report."""
    return f"hl:exchange:days:{day}"


def about_key(ticket_id: str) -> str:
    """A stream: the audit entries about one of our tickets."""
    return f"hl:exchange:about:{ticket_id}"


def about_stream_key(peer_platform: str, peer_ticket: str) -> str:
    """A stream: the audit entries of an incoming stream no ticket of ours is linked to yet
    (a handover before the case is opened here)."""
    return f"hl:exchange:about-stream:{peer_platform}:{peer_ticket}"


# a SCAN pattern matching both ``about_key`` and ``about_stream_key``: every audit index
ABOUT_PATTERN = "hl:exchange:about*"


def linked_key(ticket_id: str) -> str:
    """A set: the incoming streams (``<platform>:<ticket>``) linked to one of our tickets."""
    return f"hl:exchange:linked:{ticket_id}"


# --- the plugin (exchange.service) -------------------------------------------------------


def opened_key(message_id: str) -> str:
    """A string: the ticket of ours a received handover opened (or was linked to), so the
    applier, which runs at least once, opens one ticket per handover."""
    return f"hl:exchange:opened:{message_id}"


def handed_key(ticket_id: str) -> str:
    """A set: the platforms we handed one of our tickets to (a 签收 from one of them links)."""
    return f"hl:exchange:handed:{ticket_id}"


def opened_by_call_key(peer_platform: str, peer_ticket: str) -> str:
    """A string: the sending platform's call (``X-Ticket-Call``) named by the transferred
    call that claimed ``opened_for_key`` before the case's handover message came; the
    message completes that ticket only if its ``source_call`` is the same call."""
    return f"hl:exchange:opened-by-call:{peer_platform}:{peer_ticket}"


def opened_for_key(peer_platform: str, peer_ticket: str) -> str:
    """A string: the one ticket of ours opened for a case the other platform handed over,
    claimed (SET NX) by whichever comes first, its handover message or its transferred
    call; the other attaches to it."""
    return f"hl:exchange:opened-for:{peer_platform}:{peer_ticket}"


def signed_for_key(ticket_id: str) -> str:
    """A string: the agent who first answered a call of one of our tickets opened for a
    handed-over case, whose 签收 goes once the handover linked it."""
    return f"hl:exchange:signed-for:{ticket_id}"


# a sorted set: the cases exchanged with the other platform, one member per (our ticket,
# direction) (``exchange.cases.member``), scored by when the first handover of that way was
# recorded; kept as long as tickets (``exchange.case_index``)
CASES = "hl:exchange:cases"
# a string: the version of the cases' index whose backfill from the audit ran to its end
# here (``exchange.case_backfill``); no expiry
CASES_BACKFILLED = "hl:exchange:cases-backfilled"


def noted_key(message_id: str) -> str:
    """A string: a message's step is on our ticket's timeline (written once)."""
    return f"hl:exchange:noted:{message_id}"
