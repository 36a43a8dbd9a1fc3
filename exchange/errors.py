"""Errors of the exchange channel; each is its HTTP answer (status, code)."""

from __future__ import annotations

from hotline_link.core.errors import HttpError


class ExchangeError(HttpError):
    """400 bad_request unless a subclass says otherwise."""


class BadMessage(ExchangeError):
    """A message that is not one of the catalogue's: bad JSON, a missing or wrong field, an
    unknown type or version. ``field`` names the field at fault ("" for the whole body)."""

    status, code = 400, "bad_message"

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class NotSendable(ExchangeError):
    """A message the sender cannot build: a handover to its own platform or an unknown one,
    a bounce without a reason."""

    status, code = 400, "not_sendable"


class UnknownKey(ExchangeError):
    """A message signed with a key id this deployment does not know."""

    status, code = 401, "unknown_key"


class WrongKey(ExchangeError):
    """A message signed with the key of another direction (a reflected message)."""

    status, code = 401, "wrong_key"


class TooLarge(ExchangeError):
    """A request body larger than any message: refused before its signature is checked."""

    status, code = 413, "too_large"


class ChannelOff(ExchangeError):
    """The exchange channel does not run on this deployment (no ``exchange_peer_url``, or it serves
    both platforms itself): nothing can be sent over it, nothing received."""

    status, code = 503, "exchange_off"


class NotStopped(ExchangeError):
    """An operator's resume of a ticket's queue that is not stopped."""

    status, code = 404, "not_stopped"


class BadQuery(ExchangeError):
    """A query parameter of the cases API this server cannot take: a bound that is no date
    or time, ``to`` before ``from``, a period too long, a cursor it did not give. The
    message names the parameter."""

    status, code = 400, "bad_request"
