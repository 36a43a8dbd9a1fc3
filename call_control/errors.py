"""Errors of call control. Each class *is* an HTTP answer: a status and a stable code that
an agent's desktop can act on."""

from __future__ import annotations

from hotline_link.core.errors import HttpError


class CallControlError(HttpError):
    """400 bad_request unless a subclass says otherwise."""


class CallNotFound(CallControlError):
    status, code = 404, "call_not_found"


class NotYourCall(CallControlError):
    status, code = 403, "not_your_call"


class UnknownTarget(CallControlError):
    status, code = 400, "unknown_target"


class SamePlatform(CallControlError):
    status, code = 400, "same_platform"


class OperationInProgress(CallControlError):
    status, code = 409, "operation_in_progress"


class TargetBusy(CallControlError):
    status, code = 409, "target_busy"


class NoAnswer(CallControlError):
    status, code = 504, "no_answer"


class TargetUnreachable(CallControlError):
    status, code = 502, "target_unreachable"


class CallerHungUp(CallControlError):
    status, code = 410, "caller_hung_up"


class AsteriskRefused(CallControlError):
    status, code = 502, "asterisk_refused"


class CallerWouldBeAlone(CallControlError):
    status, code = 409, "caller_would_be_alone"


class NotInConference(CallControlError):
    status, code = 404, "not_in_conference"


class ConferenceExists(CallControlError):
    status, code = 409, "conference_exists"


class ConsultNotAnswered(CallControlError):
    status, code = 409, "consult_not_answered"


class NoConsult(CallControlError):
    status, code = 404, "no_consult"


# why a transfer or a consult failed (its ``reason``) -> what the agent is answered
ERROR_OF_REASON: dict[str, type[CallControlError]] = {
    "target_busy": TargetBusy, "no_answer": NoAnswer, "target_unreachable": TargetUnreachable,
    "caller_gone": CallerHungUp, "asterisk_refused": AsteriskRefused}
