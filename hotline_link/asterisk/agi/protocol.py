"""AGI wire format: the request header block and command replies. Pure parsing, no I/O.

Everything a peer sends is untrusted: size limits are enforced and anything that is not
AGI raises ``AgiProtocolError`` with a reason, never another exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hotline_link.core.errors import AgiProtocolError
from hotline_link.core.numbers import caller_number

MAX_HEADER_BYTES = 16 * 1024
MAX_LINE_BYTES = 4 * 1024
_KEY = re.compile(r"^agi_[a-z0-9_]+$")
_REPLY = re.compile(r"^(\d{3})[ -](?:result=(-?\d+))?\s*(?:\((.*)\))?\s*(.*)$")
_SAFE_VALUE = re.compile(r"^[^\"\r\n\\]*$")


@dataclass(frozen=True)
class AgiRequest:
    env: dict[str, str]
    args: tuple[str, ...] = field(default=())

    @property
    def script(self) -> str:
        """The route: ``agi://host:port/route?x`` gives ``route`` (query and slashes dropped)."""
        raw = self.env.get("agi_network_script") or self.env.get("agi_request", "")
        if "://" in raw:
            raw = raw.split("://", 1)[1].partition("/")[2]
        return raw.split("?", 1)[0].strip("/")

    @property
    def uniqueid(self) -> str:
        return self.env.get("agi_uniqueid", "")

    @property
    def channel(self) -> str:
        return self.env.get("agi_channel", "")

    @property
    def caller(self) -> str:
        """The caller's number if plausible, else ``anonymous`` (see ``caller_id``)."""
        return caller_number(self.env.get("agi_callerid", ""))


@dataclass(frozen=True)
class AgiReply:
    code: int
    result: int | None
    data: str
    text: str

    @property
    def ok(self) -> bool:
        return self.code == 200 and (self.result is None or self.result >= 0)


def parse_request_header(block: bytes) -> AgiRequest:
    """Parse the ``agi_key: value`` lines Asterisk sends before the first command."""
    if len(block) > MAX_HEADER_BYTES:
        raise AgiProtocolError(f"AGI header larger than {MAX_HEADER_BYTES} bytes")
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        text = block.decode("latin-1")
    env: dict[str, str] = {}
    last = ""
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep or not _KEY.match(key):
            if not last:
                raise AgiProtocolError(f"AGI header line {number} is not 'agi_name: value'")
            # Asterisk writes a value as it is: a caller id with a line break in it (a SIP
            # From with %0A) goes on in the next line. It stays part of that value.
            env[last] += "\n" + line
            continue
        if key in env:  # a caller's value posing as a header line of its own
            raise AgiProtocolError(f"AGI header line {number} repeats {key}")
        env[key] = value[1:] if value.startswith(" ") else value
        last = key
    if "agi_network_script" not in env and "agi_request" not in env:
        raise AgiProtocolError("AGI header has no agi_network_script or agi_request")
    args = []
    index = 1
    while f"agi_arg_{index}" in env:
        args.append(env[f"agi_arg_{index}"])
        index += 1
    return AgiRequest(env=env, args=tuple(args))


def parse_reply(line: bytes | str) -> AgiReply:
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    text = text.rstrip("\r\n")
    match = _REPLY.match(text)
    if match is None:
        raise AgiProtocolError(f"not an AGI reply: {text[:80]!r}")
    code, result, data, rest = match.groups()
    return AgiReply(int(code), int(result) if result is not None else None, data or "", rest)


def set_variable_command(name: str, value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise AgiProtocolError(f"bad channel variable name {name!r}")
    if not _SAFE_VALUE.fullmatch(value):
        raise AgiProtocolError(f"value for {name} has quotes, backslashes or line breaks")
    return f'SET VARIABLE {name} "{value}"'
