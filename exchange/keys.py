"""The keys of the exchange channel: one HMAC key per direction, named by a key id. Pure:
no I/O (the secrets come in as a mapping, read from the secrets file by the caller).

A message goes with three headers: ``X-HL-Key`` (the key id), ``X-HL-Timestamp`` and
``X-HL-Signature`` (``tickets.signing``: HMAC-SHA256 over ``timestamp.body``, its clock-skew
bound). The key of 12345→110 signs only what 12345 sends to 110: a message of one direction
reflected back the other way is refused (``WrongKey``), as is a key id this deployment does
not know (``UnknownKey``). A direction may have several keys while one replaces another
(rotation): each verifies; the ``active`` one signs.

In the secrets file a key is ``exchange_key_<from>_to_<to>_<key id>``, e.g.
``exchange_key_12345_to_110_2026a``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from exchange.errors import UnknownKey, WrongKey
from exchange.messages import Envelope
from hotline_link.core.errors import ConfigError
from tickets import signing
from tickets.push_policy import PLATFORMS

KEY_HEADER = "X-HL-Key"
TIMESTAMP_HEADER = "X-HL-Timestamp"
SIGNATURE_HEADER = "X-HL-Signature"
MIN_SECRET_CHARS = 32
KEY_ID = re.compile(r"[A-Za-z0-9-]{1,32}", re.ASCII)
SECRET_NAME = re.compile(r"exchange_key_(?P<src>[0-9]{1,16})_to_(?P<dst>[0-9]{1,16})_(?P<key_id>[A-Za-z0-9-]{1,32})",
                         re.ASCII)

Direction = tuple[str, str]  # (from platform, to platform)


def key_name(from_platform: str, to_platform: str, key_id: str) -> str:
    """The secrets-file name of a key."""
    return f"exchange_key_{from_platform}_to_{to_platform}_{key_id}"


@dataclass(frozen=True)
class Key:
    key_id: str
    from_platform: str
    to_platform: str
    secret: str = field(repr=False)

    @property
    def direction(self) -> Direction:
        return self.from_platform, self.to_platform


class KeyRing:
    """The keys a deployment holds: those that sign what it sends, those that check what it
    receives."""

    def __init__(self, keys: Iterable[Key], active: Mapping[Direction, str] | None = None) -> None:
        self._by_id: dict[str, Key] = {}
        for key in keys:
            if not KEY_ID.fullmatch(key.key_id):
                raise ConfigError(f"exchange key id {key.key_id[:40]!r}: letters, digits and '-', at most 32")
            if key.from_platform not in PLATFORMS or key.to_platform not in PLATFORMS \
                    or key.from_platform == key.to_platform:
                raise ConfigError(f"exchange key {key.key_id}: its direction must be 12345 to 110 or 110 to 12345")
            if len(key.secret) < MIN_SECRET_CHARS:
                raise ConfigError(f"exchange key {key.key_id}: the secret must have at least "
                                  f"{MIN_SECRET_CHARS} characters")
            if key.key_id in self._by_id:
                raise ConfigError(f"exchange key id {key.key_id} is given twice: a key id names one key")
            self._by_id[key.key_id] = key
        self._active: dict[Direction, Key] = {}
        chosen = dict(active or {})
        for direction in {key.direction for key in self._by_id.values()}:
            ids = sorted(k.key_id for k in self._by_id.values() if k.direction == direction)
            key_id = chosen.pop(direction, ids[0] if len(ids) == 1 else "")
            if not key_id:
                raise ConfigError(f"exchange keys {', '.join(ids)} all sign {direction[0]} to {direction[1]}: "
                                  f"say which one is active")
            if key_id not in ids:
                raise ConfigError(f"the active exchange key {key_id} of {direction[0]} to {direction[1]} "
                                  f"is not one of its keys")
            self._active[direction] = self._by_id[key_id]
        if chosen:
            raise ConfigError(f"an active exchange key is named for a direction without keys: {sorted(chosen)}")

    @classmethod
    def from_secrets(cls, secrets: Mapping[str, str], active: Mapping[Direction, str] | None = None) -> KeyRing:
        """The keys among a secrets file's entries (``exchange_key_...``); others are ignored."""
        keys = []
        for name, secret in secrets.items():
            match = SECRET_NAME.fullmatch(name)
            if match:
                keys.append(Key(match["key_id"], match["src"], match["dst"], secret))
        return cls(keys, active)

    def key(self, key_id: str) -> Key:
        try:
            return self._by_id[key_id]
        except KeyError:
            shown = key_id if KEY_ID.fullmatch(key_id) else "(malformed)"
            raise UnknownKey(f"unknown exchange key id {shown}") from None

    def signing_key(self, from_platform: str, to_platform: str) -> Key:
        try:
            return self._active[(from_platform, to_platform)]
        except KeyError:
            raise ConfigError(f"no exchange key signs {from_platform} to {to_platform} "
                              f"(secrets file: {key_name(from_platform, to_platform, '<key id>')})") from None

    def sign(self, from_platform: str, to_platform: str, timestamp: str, body: bytes) -> dict[str, str]:
        """The headers that sign ``body``, sent at ``timestamp``, from one platform to the other."""
        key = self.signing_key(from_platform, to_platform)
        return {KEY_HEADER: key.key_id, TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: signing.sign(key.secret, timestamp, body)}

    def verify(self, key_id: str, timestamp: str, signature: str, body: bytes, now: float, *,
               receiver_platform: str) -> Key:
        """The key that signed ``body``, if it is one of ours, signs messages to
        ``receiver_platform``, and the signature and its time hold (``BadSignature``)."""
        key = self.key(key_id)
        if key.to_platform != receiver_platform:
            raise WrongKey(f"key {key.key_id} signs messages to {key.to_platform}, this is {receiver_platform}")
        signing.verify(key.secret, timestamp, signature, body, now)
        return key


def check_direction(key: Key, envelope: Envelope) -> None:
    """The message goes the way its key signs: 12345's key for 12345 to 110, and so on."""
    if key.direction != (envelope.from_platform, envelope.to_platform):
        raise WrongKey(f"key {key.key_id} signs {key.from_platform} to {key.to_platform}, the message "
                       f"goes {envelope.from_platform} to {envelope.to_platform}")
