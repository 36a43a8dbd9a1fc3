"""Errors of the desk. Each class *is* an HTTP answer: a status and a stable code."""

from __future__ import annotations

from hotline_link.core.errors import HttpError


class DeskError(HttpError):
    """400 bad_request unless a subclass says otherwise."""


class AgentNotFound(DeskError):
    status, code = 404, "agent_not_found"


class SoftphoneUnconfigured(DeskError):
    """The agent's browser phone has no SIP password on this server: the operator's to fix."""

    status, code = 503, "softphone_unconfigured"
