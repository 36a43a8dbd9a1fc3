"""Errors of the IVR and harassment screening. Each class *is* an HTTP answer."""

from __future__ import annotations

from hotline_link.core.errors import HttpError


class IvrError(HttpError):
    """400 bad_request unless a subclass says otherwise."""


class BadNumber(IvrError):
    status, code = 400, "bad_number"


class BadReason(IvrError):
    status, code = 400, "bad_reason"


class NotFlagged(IvrError):
    status, code = 404, "not_flagged"
