"""Every Redis key of the tickets capability, built in this one place. Pure.

Other packages never spell these: they call the owner's API (``TicketStore``,
``tickets.timeline``, ``Outbox``, ``PushService``), which builds its keys here. The strings
are the stored data's names: changing one orphans what Redis already holds.
"""

from __future__ import annotations

import hashlib

# --- tickets (tickets.store) ------------------------------------------------------------


def ticket_key(ticket_id: str) -> str:
    """The hash of a ticket's fields (a pattern such as ``12345-*`` makes a SCAN match)."""
    return f"hl:ticket:{ticket_id}"


def call_ticket_key(call_id: str) -> str:
    """The ticket of a call."""
    return f"hl:call-ticket:{call_id}"


def ticket_seq_key(site: str, day: str) -> str:
    """The day's ticket counter of a platform (``day``: yyyymmdd)."""
    return f"hl:ticket-seq:{site}:{day}"


def handed_over_key(ticket_id: str) -> str:
    """The tickets the other platform opened for a case this ticket handed over."""
    return f"hl:handed-over:{ticket_id}"


def handover_sent_key(ticket_id: str) -> str:
    """The platforms this ticket was handed to (by a transfer or a three-way call)."""
    return f"hl:handover-sent:{ticket_id}"


def ticket_time_key(site: str) -> str:
    """The time index of a platform's tickets: a sorted set of ticket ids scored by when the
    case came in (``received_at`` when a channel gave it, else ``created_at``)."""
    return f"hl:ticket-time:{site}"


TICKET_KEY_PATTERN = "hl:ticket:*"  # every ticket's hash (a SCAN over tickets saved before the index)


def intake_claim_key(source: str, external_id: str) -> str:
    """The ticket opened for a channel's message ``external_id`` from the system ``source``
    (a channel token's system name): a retried message opens no second ticket."""
    digest = hashlib.sha256(f"{source}\n{external_id}".encode()).hexdigest()[:32]
    return f"hl:intake-claim:{digest}"


# --- a caller number's history (tickets.number_history) ---------------------------------


def _number_digest(identity: str) -> str:
    """A caller's identity hashed: no caller number appears in a key name."""
    return hashlib.sha256(identity.encode()).hexdigest()[:24]


def number_tickets_key(site: str, identity: str) -> str:
    """The tickets a caller number has on a platform (sorted set by opening time)."""
    return f"hl:number-tickets:{site}:{_number_digest(identity)}"


def number_calls_key(site: str, identity: str) -> str:
    """The calls a caller number made to a platform (sorted set by start)."""
    return f"hl:number-calls:{site}:{_number_digest(identity)}"


# --- the timeline (tickets.timeline) -----------------------------------------------------


def timeline_call_key(call_id: str) -> str:
    """The story (a stream) of one call, or of a pseudo call such as a ticket's closed loop."""
    return f"hl:timeline:call:{call_id}"


def timeline_ticket_key(ticket_id: str) -> str:
    return f"hl:timeline:ticket:{ticket_id}"


def ticket_calls_key(ticket_id: str) -> str:
    """The calls (and pseudo calls) whose stories make up a ticket's timeline."""
    return f"hl:ticket-calls:{ticket_id}"


def timeline_once_key(call_id: str, event: str) -> str:
    """Set with the first write of an event heard by every server instance."""
    return f"hl:timeline:once:{call_id}:{event}"


def open_calls_key(site: str) -> str:
    """The calls of ``site`` whose story has a start and no end yet (sorted set by start)."""
    return f"hl:calls:open-since:{site}"


# --- the outbox (tickets.outbox) ---------------------------------------------------------

OUTBOX_DUE = "hl:outbox:due"  # sorted set: job id by when it is due
OUTBOX_DEAD = "hl:outbox:dead"  # hash: job id -> {status, reason, at}
OUTBOX_DEAD_AT = "hl:outbox:dead-at"  # sorted set: job id by the time it died (for the TTL)


def outbox_job_key(job_id: str) -> str:
    return f"hl:outbox:job:{job_id}"


# --- system push (tickets.push) ----------------------------------------------------------


def push_stats_key(platform: str) -> str:
    return f"hl:stats:push:{platform}"


def push_received_key(push_id: str) -> str:
    """This platform's ticket of a received push (the receiver is idempotent on it)."""
    return f"hl:push-received:{push_id}"


def push_saving_key(push_id: str) -> str:
    """The lease of the one try saving a received push's ticket."""
    return f"hl:push-saving:{push_id}"
