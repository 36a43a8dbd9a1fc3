"""The small exception hierarchy of hotline-link.

Every error a user or operator can cause derives from ``HotlineError``; the CLI prints
its message as one line and exits non-zero instead of showing a traceback.
"""


class HotlineError(Exception):
    """Base of every error hotline-link reports to a person."""


class HttpError(HotlineError):
    """An error a client's request causes: the class *is* the HTTP answer, a status and a
    stable code a client can act on (``{"error": {"code", "message"}}``). Each capability
    derives its own family from it (``CallControlError``, ``IvrError``, ``LinkageError``)."""

    status = 400
    code = "bad_request"


class ConfigError(HotlineError):
    """Settings, templates or data files are wrong."""


class SandboxError(HotlineError):
    """The local Asterisk/Redis sandbox cannot be built, started or reached."""


class AmiError(HttpError):
    """An AMI action failed or the connection is not usable. Reaching an HTTP client, it is
    Asterisk's failure, not the request's: 502."""

    status = 502
    code = "asterisk_error"


class AmiDisconnected(AmiError):
    """The AMI connection dropped before the action got its answer."""


class UnsafeAmiAction(AmiError):
    """An AMI action with a line break or NUL in a name or value: sent, it would be read by
    Asterisk as more headers (an injected action). Refused before anything is written."""


class AgiProtocolError(HotlineError):
    """A FastAGI peer sent something that is not AGI."""


class TooManyStreams(HttpError):
    """Every event stream or WebSocket this server allows at once is open."""

    status = 503
    code = "too_many_streams"
