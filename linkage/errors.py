"""Errors of the closed loop; each is its HTTP answer (status, code)."""

from __future__ import annotations

from hotline_link.core.errors import HttpError


class LinkageError(HttpError):
    """400 bad_request unless a subclass says otherwise."""


class UnknownUnit(LinkageError):
    status, code = 400, "unknown_unit"


class NotDispatched(LinkageError):
    status, code = 404, "not_dispatched"


class AlreadyDispatched(LinkageError):
    status, code = 409, "already_dispatched"


class WrongStep(LinkageError):
    status, code = 409, "wrong_step"


class NotYourTicket(LinkageError):
    status, code = 403, "not_your_ticket"


class NoCallback(LinkageError):
    status, code = 409, "no_callback"


class BadRange(LinkageError):
    status, code = 400, "bad_range"


class BadNumber(LinkageError):
    status, code = 400, "bad_number"


class VoiceNoteNotFound(LinkageError):
    status, code = 404, "voice_note_not_found"


class NoLead(LinkageError):
    """An assisting unit for a case no lead unit holds."""

    status, code = 409, "no_lead"


class PoliceOwnPlatform(LinkageError):
    """联动110 asked on a 110 ticket: the police centre dispatches police itself."""

    status, code = 409, "police_own_platform"


class PoliceNotHandedOver(LinkageError):
    """联动110 asked on a restricted ticket: it never leaves the platform."""

    status, code = 409, "restricted_ticket"
