"""Errors of tickets; each is its HTTP answer (status, code)."""

from __future__ import annotations

from hotline_link.core.errors import HttpError


class TicketError(HttpError):
    """400 bad_request unless a subclass says otherwise."""


class TicketNotFound(TicketError):
    status, code = 404, "ticket_not_found"


class CallNotOnRecord(TicketError):
    """No story of this call id in the timeline."""

    status, code = 404, "call_not_found"


class RecordingNotFound(TicketError):
    status, code = 404, "recording_not_found"
