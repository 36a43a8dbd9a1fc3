"""Errors of the seat pool; each is its HTTP answer (status, code)."""

from __future__ import annotations

from hotline_link.core.errors import HttpError


class SeatPoolError(HttpError):
    """400 bad_request unless a subclass says otherwise."""


class AgentNotFound(SeatPoolError):
    status, code = 404, "agent_not_found"
