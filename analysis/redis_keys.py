"""Every Redis key of the analysis capability, built in this one place. Pure."""

from __future__ import annotations

PREFIX = "hl:analysis:"
ALERTS = PREFIX + "alerts"  # sorted set: an alert (JSON) by when it was raised
LEAD = PREFIX + "lead"  # the instance that scans and writes the reports (a lease)
BACKFILLED = PREFIX + "time-index-backfilled"  # set once the old tickets were put in the time index


def alert_state_key(site: str) -> str:
    """Hash: each watched key (kind, category, division, cue as JSON) -> its alert state."""
    return f"{PREFIX}alert-state:{site}"


def disputes_key(ticket_id: str) -> str:
    """Hash of a ticket's disputes heard on the bus: bounced, refused, lead_dispatches."""
    return f"{PREFIX}disputes:{ticket_id}"


def report_claim_key(name: str) -> str:
    """Set by the instance that writes a report pack (``name`` without its extension)."""
    return f"{PREFIX}report:{name}"
