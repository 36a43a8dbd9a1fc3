"""A real softphone for the tests: Debian's baresip (1.0.0 on bookworm), driven from asyncio.

SIPp plays phones whose every message we wrote; baresip is a phone we did not write, so a
test with it sees what an agent's real phone does: it answers, holds, dials a consult call
and transfers by itself (SIP REFER), as an agent does from the handset.

Each phone is one ``baresip -f DIR -s`` with a config and an accounts file of its own in
``DIR``, and no sound card: a sine source (``ausine``) and a player that drops what it gets
(``aubridge`` with no source on its device). It is driven over the ``ctrl_tcp`` module:
netstring-framed JSON commands (those of the ``menu`` module: ``accept``, ``dial``,
``hold``, ``transfer``, ``callfind``...) answered with JSON, and JSON events (``CALL_INCOMING``,
``CALL_ESTABLISHED``, ``TRANSFER``, ``CALL_CLOSED``...). ``-s`` traces every SIP message to
the phone's log, which ``sip_messages()`` reads back: the evidence of what went on the wire.

What baresip 1.0.0 does about transfers (checked peer to peer on loopback):

- **Blind**: ``/transfer URI`` sends REFER (``Refer-To: URI``, no ``Referred-By``) in the
  call's dialog, and closes the call once the transferee's NOTIFY reports 200. As a
  transferee it accepts a REFER (202, NOTIFY 100 then 200) and calls the target itself.
- **Attended**: no command for it (``/atransferstart`` came in later releases). ``/transfer``
  sends the URI it is given verbatim as ``Refer-To``, so ``attended_transfer`` builds
  ``target?Replaces=<Call-ID>;to-tag=..;from-tag=..`` (escaped) from the consult call's dialog,
  read from the SIP trace: the REFER with Replaces that Asterisk (``res_pjsip_refer``) turns
  into an attended transfer. Debian's linphonec 5.1.65 as transferee and target completed
  such a transfer peer to peer (tried by hand: its INVITE to the target carried
  ``Replaces``, the target ended the consult call, the NOTIFY said 200). As a *transferee*
  or *target*, baresip 1.0.0 cannot take part in one: it dials the Refer-To URI with the
  Replaces left in the request URI (its percent escapes garbled to ``?``), not as a
  ``Replaces`` header, and it does not implement Replaces on an incoming INVITE.

The trace is read for UDP (the transport these phones use): a message is ours when it left
from our SIP address.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

from hotline_link.core.errors import SandboxError

MODULE_DIR = Path("/usr/lib/baresip/modules")

# A phone takes a block of PORT_BLOCK ports: SIP on the first (UDP and TCP; baresip 1.0.0
# also binds TLS on the next one, whether or not it has a certificate), its control channel
# on the third, RTP and RTCP on the last twelve (a pair per call: rtcp_mux is off).
# The blocks come from a range kept apart from the sandbox's own ports (SIP and AMI
# 25038-25089, Redis 26379, Asterisk's RTP 30000-32999) and from SIPp's (10000-29999). It
# lies in Linux's ephemeral range (32768-60999): a port the kernel gives another socket
# between our check and baresip's bind makes that phone fail to start, with the reason.
PORT_BLOCK = 16
PHONE_PORTS = range(41000, 42000)
_pick = random.SystemRandom()


class PhoneError(SandboxError):
    """A softphone did not start, refused a command, or did not do what was asked in time."""


@dataclass(frozen=True)
class PhonePorts:
    sip: int
    control: int
    rtp: tuple[int, int]

    @classmethod
    def block(cls, base: int) -> PhonePorts:
        return cls(sip=base, control=base + 2, rtp=(base + 4, base + PORT_BLOCK - 1))

    def all(self) -> list[int]:
        return [self.sip, self.sip + 1, self.control, *range(self.rtp[0], self.rtp[1] + 1)]


def _bindable(host: str, port: int) -> bool:
    """Whether baresip could bind ``port`` for UDP and for TCP. Its TCP sockets set
    SO_REUSEADDR, so a port left in TIME_WAIT (by a phone of an earlier test, whose control
    channel or SIP over TCP it closed first) is free to it, and to this check."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            if kind == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def free_phone_ports(count: int = 1, host: str = "127.0.0.1", ports: range = PHONE_PORTS,
                     exclude: Collection[int] = ()) -> list[PhonePorts]:
    """``count`` distinct port blocks whose every port is free (UDP and TCP) right now, none
    of them in ``exclude`` (blocks handed out already, whose phones have not bound them yet)."""
    bases = list(range(ports.start, ports.stop - PORT_BLOCK + 1, PORT_BLOCK))
    _pick.shuffle(bases)
    found: list[PhonePorts] = []
    for base in bases:
        if len(found) == count:
            break
        block = PhonePorts.block(base)
        if not set(block.all()) & set(exclude) and all(_bindable(host, port) for port in block.all()):
            found.append(block)
    if len(found) < count:
        raise PhoneError(f"no {count} free port blocks for softphones in {ports.start}-{ports.stop - 1}")
    return found


@dataclass(frozen=True)
class PhoneEvent:
    """One event baresip reported: ``type`` as baresip names it (``CALL_INCOMING``...), the
    SIP Call-ID of the call it concerns (``call_id``), the far end's URI, ``incoming`` or
    ``outgoing``, and baresip's parameter (for ``TRANSFER``: the Refer-To URI)."""

    type: str
    call_id: str = ""
    peer_uri: str = ""
    direction: str = ""
    param: str = ""
    fields: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PhoneEvent:
        return cls(type=str(data.get("type", "")), call_id=str(data.get("id", "")),
                   peer_uri=str(data.get("peeruri", "")), direction=str(data.get("direction", "")),
                   param=str(data.get("param", "")), fields=data)


@dataclass(frozen=True)
class SipMessage:
    """A SIP message from the phone's trace, as it went on the wire."""

    outgoing: bool
    transport: str
    source: str
    destination: str
    start_line: str
    headers: tuple[tuple[str, str], ...]
    body: str

    @property
    def method(self) -> str:
        """The request's method; "" for a response."""
        return "" if self.start_line.startswith("SIP/2.0 ") else self.start_line.split(" ", 1)[0]

    @property
    def status(self) -> int:
        """The response's status code; 0 for a request."""
        return int(self.start_line.split(" ", 2)[1]) if self.start_line.startswith("SIP/2.0 ") else 0

    def header(self, name: str) -> str:
        """The first header named ``name`` (case-insensitive), "" if there is none."""
        return next((value for key, value in self.headers if key.lower() == name.lower()), "")

    @property
    def call_id(self) -> str:
        return self.header("Call-ID") or self.header("i")

    @property
    def cseq_method(self) -> str:
        parts = self.header("CSeq").split()
        return parts[1] if len(parts) > 1 else ""


_TRACE = re.compile(r"\x1b\[36;1m#\n(\w+) (\S+) -> (\S+)\n(.*?)\x1b\[;m", re.DOTALL)
_TAG = re.compile(r";\s*tag=([^;>\s]+)")


def parse_trace(text: str, local: str) -> list[SipMessage]:
    """The SIP messages in baresip's ``-s`` trace; ``local`` is the phone's ``host:port``."""
    messages = []
    for transport, source, destination, raw in _TRACE.findall(text):
        head, _, body = raw.replace("\r\n", "\n").partition("\n\n")
        lines = head.split("\n")
        headers = tuple((name.strip(), value.strip()) for name, _, value in
                        (line.partition(":") for line in lines[1:] if ":" in line))
        messages.append(SipMessage(outgoing=source == local, transport=transport, source=source,
                                   destination=destination, start_line=lines[0].strip(), headers=headers,
                                   body=body))
    return messages


@dataclass(frozen=True)
class Dialog:
    """A call's SIP dialog as this phone sees it: what a Replaces header names."""

    call_id: str
    local_tag: str
    remote_tag: str
    remote_uri: str

    def replaces(self) -> str:
        """The Replaces value naming this dialog to the far end (RFC 3891: tags as in a
        request we would send it, so its own tag is the to-tag)."""
        return f"{self.call_id};to-tag={self.remote_tag};from-tag={self.local_tag}"


@dataclass(frozen=True)
class IncomingCall:
    call_id: str
    peer_uri: str
    display_name: str = ""
    from_header: str = ""  # the INVITE's From, as it arrived ("" if the trace is off)


def _name_addr_uri(value: str) -> str:
    """The URI of a From/To value: ``"Bob" <sip:b@h>;tag=x`` -> ``sip:b@h``."""
    if "<" in value:
        return value.split("<", 1)[1].split(">", 1)[0]
    return value.split(";", 1)[0].strip()


class Baresip:
    """One baresip softphone. Use as ``async with Baresip(...) as phone:``; ``stop()`` always
    ends and reaps the process.

    ``user`` is the account's user. With ``registrar`` (``host:port``, Asterisk's SIP
    address) the account is ``sip:user@registrar`` and registers every ``regint`` seconds
    with ``password``; without, it is ``sip:user@host:sip_port`` and does not register (peers
    call it at ``phone.uri``). ``auto_answer`` answers every call at once; otherwise a test
    answers with ``answer()``."""

    def __init__(self, workdir: Path, user: str, ports: PhonePorts, *, registrar: str = "",
                 password: str = "", regint: int = 0, auto_answer: bool = False,
                 host: str = "127.0.0.1", name: str = "") -> None:
        if registrar and regint <= 0:
            regint = 600
        self.workdir = workdir
        self.user = user
        self.ports = ports
        self.host = host
        self.registrar = registrar
        self.password = password
        self.regint = regint if registrar else 0
        self.auto_answer = auto_answer
        self.name = name or user
        self.log_file = workdir / "baresip.log"
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._listener: asyncio.Task[None] | None = None
        self._events: list[PhoneEvent] = []
        self._changed = asyncio.Condition()
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tokens = 0
        self._closed = False
        self._announced: set[str] = set()  # the incoming calls wait_incoming returned

    # -- addresses and files ------------------------------------------------------------

    @property
    def local(self) -> str:
        return f"{self.host}:{self.ports.sip}"

    @property
    def uri(self) -> str:
        """Where a peer reaches this phone directly (no registrar in between)."""
        return f"sip:{self.user}@{self.local}"

    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{self.registrar or self.local}"

    def config_text(self) -> str:
        low, high = self.ports.rtp
        lines = [
            ("poll_method", "epoll"),
            ("sip_listen", self.local),
            ("net_interface", self.host),  # the address in Contact and SDP
            ("call_local_timeout", "120"),
            ("call_max_calls", "4"),
            # no sound card: ausine makes a 440 Hz tone (it only runs at 48 kHz in stereo);
            # aubridge plays into a device no source reads, so what arrives is dropped
            ("audio_source", "ausine,440"),
            ("ausrc_srate", "48000"),
            ("ausrc_channels", "2"),
            ("audio_player", "aubridge,speaker"),
            ("audio_alert", "aubridge,ringer"),
            ("rtp_ports", f"{low}-{high}"),
            ("rtcp_mux", "no"),
            ("module_path", str(MODULE_DIR)),
            ("module", "g711.so"),
            ("module", "ausine.so"),
            ("module", "aubridge.so"),
            ("module_tmp", "account.so"),  # reads the accounts file at start
            ("module_app", "menu.so"),  # the commands, and follows a REFER as transferee
            ("module_app", "ctrl_tcp.so"),
            ("ctrl_tcp_listen", f"{self.host}:{self.ports.control}"),
        ]
        return "".join(f"{key:<20}{value}\n" for key, value in lines)

    def account_line(self) -> str:
        params = [f"regint={self.regint}", f"answermode={'auto' if self.auto_answer else 'manual'}"]
        if self.password:
            params.insert(0, f"auth_pass={self.password}")
        return f"<{self.aor}>;" + ";".join(params) + "\n"

    def _write_files(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "config").write_text(self.config_text())
        accounts = os.open(self.workdir / "accounts", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(accounts, "w") as fh:  # it holds the SIP password
            fh.write(self.account_line())

    # -- the process ------------------------------------------------------------------------

    async def __aenter__(self) -> Baresip:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self.stop()

    async def start(self, timeout: float = 10.0) -> None:
        """Start baresip and connect to its control channel."""
        if shutil.which("baresip") is None:
            raise PhoneError("baresip is not installed (Debian package baresip); run 'make install'")
        self._write_files()
        with self.log_file.open("wb") as out:
            # a session of its own, as the SIPp peers: the phone is a device of its own
            self.process = await asyncio.create_subprocess_exec(
                "baresip", "-f", str(self.workdir), "-s", stdin=asyncio.subprocess.DEVNULL,
                stdout=out, stderr=asyncio.subprocess.STDOUT, cwd=self.workdir, start_new_session=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.process.returncode is not None:
                raise PhoneError(f"baresip {self.name} exited with {self.process.returncode} while starting: "
                                 f"{self.log_tail()}")
            try:
                self._reader, self._writer = await asyncio.open_connection(self.host, self.ports.control)
                break
            except OSError:
                if loop.time() > deadline:
                    raise PhoneError(f"baresip {self.name} did not open its control port {self.ports.control} "
                                     f"in {timeout:g} s; see {self.log_file}") from None
                await asyncio.sleep(0.05)  # it binds the port once its modules are loaded
        self._listener = asyncio.create_task(self._listen(self._reader), name=f"baresip-{self.name}")

    async def stop(self, timeout: float = 5.0, grace: float = 3.0) -> int | None:
        """Quit baresip (it unregisters first) and wait ``timeout`` for it to exit; then
        SIGTERM, and SIGKILL ``grace`` later. Always reaps it. Returns its exit status (None
        if it never started)."""
        process = self.process
        if process is None:
            return None
        if process.returncode is None and self._writer is not None and not self._closed:
            with contextlib.suppress(PhoneError, OSError, TimeoutError):
                await self.command("quit", timeout=min(2.0, timeout))
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            for sig, wait_s in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(sig)
                try:
                    await asyncio.wait_for(process.wait(), wait_s)
                    break
                except TimeoutError:
                    continue
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        return process.returncode

    def log_tail(self, lines: int = 12) -> str:
        if not self.log_file.exists():
            return ""
        text = re.sub(r"\x1b\[[0-9;]*m", "", self.log_file.read_text(errors="replace"))
        return " | ".join(line for line in text.splitlines()[-lines:] if line.strip())

    # -- the control channel ------------------------------------------------------------

    async def _listen(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                size = await reader.readuntil(b":")
                frame = await reader.readexactly(int(size[:-1]) + 1)
                message = json.loads(frame[:-1])
                if message.get("response"):
                    reply = self._replies.pop(str(message.get("token", "")), None)
                    if reply is not None and not reply.done():
                        reply.set_result(message)
                elif message.get("event"):
                    async with self._changed:
                        self._events.append(PhoneEvent.from_json(message))
                        self._changed.notify_all()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            self._closed = True
            for reply in self._replies.values():
                if not reply.done():
                    reply.set_exception(PhoneError(f"baresip {self.name} closed its control channel"))
            async with self._changed:
                self._changed.notify_all()

    async def command(self, name: str, params: str = "", timeout: float = 5.0) -> str:
        """Run one of baresip's commands (without the slash); its printed answer."""
        if self._writer is None or self._closed:
            raise PhoneError(f"baresip {self.name} is not running")
        self._tokens += 1
        token = f"t{self._tokens}"
        request: dict[str, str] = {"command": name, "token": token}
        if params:
            request["params"] = params
        payload = json.dumps(request).encode()
        reply = asyncio.get_running_loop().create_future()
        self._replies[token] = reply
        self._writer.write(str(len(payload)).encode() + b":" + payload + b",")
        await self._writer.drain()
        try:
            answer = await asyncio.wait_for(reply, timeout)
        except TimeoutError:
            raise PhoneError(f"baresip {self.name} did not answer /{name} in {timeout:g} s") from None
        finally:
            self._replies.pop(token, None)
        data = str(answer.get("data", ""))
        if not answer.get("ok"):
            raise PhoneError(f"baresip {self.name} refused /{name} {params}: {data.strip()}")
        return data

    # -- events -------------------------------------------------------------------------

    def events(self) -> list[PhoneEvent]:
        """Every event the phone reported since its control channel opened, in order."""
        return list(self._events)

    async def wait_event(self, types: Collection[str] | str, *, call_id: str = "", since: int = 0,
                         timeout: float = 10.0, fails: Collection[str] = (),
                         where: Callable[[PhoneEvent], bool] | None = None) -> PhoneEvent:
        """The first event from index ``since`` of one of ``types`` (for ``call_id``, if
        given, and matching ``where``). One of ``fails`` for that call first raises."""
        wanted = {types} if isinstance(types, str) else set(types)

        def found() -> PhoneEvent | None:
            for event in self._events[since:]:
                if call_id and event.call_id != call_id:
                    continue
                if event.type in fails:
                    raise PhoneError(f"baresip {self.name}: {event.type} {event.param!r} "
                                     f"while waiting for {'/'.join(sorted(wanted))}")
                if event.type in wanted and (where is None or where(event)):
                    return event
            if self._closed:
                raise PhoneError(f"baresip {self.name} stopped while waiting for {'/'.join(sorted(wanted))}")
            return None

        async def wait() -> PhoneEvent:
            async with self._changed:
                while (event := found()) is None:
                    await self._changed.wait()
                return event

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            seen = ", ".join(f"{e.type}({e.call_id})" for e in self._events[since:]) or "none"
            raise PhoneError(f"baresip {self.name}: no {'/'.join(sorted(wanted))}"
                             f"{' for ' + call_id if call_id else ''} in {timeout:g} s (events: {seen})") from None

    def _calls(self) -> dict[str, PhoneEvent]:
        """Each call's latest call event, by Call-ID."""
        calls: dict[str, PhoneEvent] = {}
        for event in self._events:
            if event.call_id and event.fields.get("class") == "call":
                calls[event.call_id] = event
        return calls

    def active_calls(self) -> list[str]:
        return [call_id for call_id, event in self._calls().items() if event.type != "CALL_CLOSED"]

    # -- registration -------------------------------------------------------------------

    async def wait_registered(self, timeout: float = 10.0) -> None:
        """Return once the account is registered. The control channel opens after the first
        REGISTER may have gone out, so this reads ``/reginfo`` as well as the events."""
        if not self.registrar:
            raise PhoneError(f"baresip {self.name} has no registrar")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        status = ""
        while loop.time() < deadline:
            if any(e.type == "REGISTER_OK" for e in self._events):
                return
            status = re.sub(r"\x1b\[[0-9;]*m", "", await self.command("reginfo"))
            line = next((ln for ln in status.splitlines() if self.aor in ln), "")
            if re.search(r"\sOK\s", line):
                return
            if " ERR " in line or any(e.type == "REGISTER_FAIL" for e in self._events):
                fail = next((e.param for e in self._events if e.type == "REGISTER_FAIL"), line.strip())
                raise PhoneError(f"baresip {self.name} could not register {self.aor}: {fail}")
            await asyncio.sleep(0.1)  # polling baresip's own view; events may have come before we connected
        raise PhoneError(f"baresip {self.name} did not register {self.aor} in {timeout:g} s: {status.strip()}")

    # -- calls ----------------------------------------------------------------------------

    async def _select(self, call_id: str) -> None:
        """Make ``call_id`` the current call: baresip's call commands act on that one."""
        answer = await self.command("callfind", call_id)
        if "not found" in answer:
            raise PhoneError(f"baresip {self.name} has no call {call_id}")

    async def wait_incoming(self, timeout: float = 10.0) -> IncomingCall:
        """The next call that rang here: the first one this method has not returned yet,
        with its Call-ID and who calls."""
        event = await self.wait_event("CALL_INCOMING", timeout=timeout,
                                      where=lambda e: e.call_id not in self._announced)
        self._announced.add(event.call_id)
        invite = await self._message(lambda m: not m.outgoing and m.method == "INVITE"
                                     and m.call_id == event.call_id, timeout=2.0, required=False)
        return IncomingCall(event.call_id, event.peer_uri, str(event.fields.get("peerdisplayname", "")),
                            invite.header("From") if invite else "")

    async def answer(self, call_id: str = "", timeout: float = 10.0) -> str:
        """Answer a ringing call (the latest, or ``call_id``); returns once it is established."""
        if not call_id:
            ringing = [cid for cid, e in self._calls().items() if e.type == "CALL_INCOMING"]
            if not ringing:
                raise PhoneError(f"baresip {self.name} has no ringing call to answer")
            call_id = ringing[-1]
        mark = len(self._events)
        await self._select(call_id)
        await self.command("accept")
        await self.wait_event("CALL_ESTABLISHED", call_id=call_id, since=mark, timeout=timeout,
                              fails={"CALL_CLOSED"})
        return call_id

    async def dial(self, uri: str, timeout: float = 10.0) -> str:
        """Place a call (to a URI, or a number at the registrar); returns its Call-ID as soon
        as it exists. ``wait_established`` waits for the answer."""
        known = set(self._calls())
        mark = len(self._events)
        await self.command("dial", uri)
        event = await self.wait_event(
            {"CALL_RINGING", "CALL_PROGRESS", "CALL_ESTABLISHED", "CALL_CLOSED"}, since=mark, timeout=timeout,
            where=lambda e: e.direction == "outgoing" and e.call_id not in known)
        return event.call_id

    async def wait_established(self, call_id: str, timeout: float = 10.0) -> PhoneEvent:
        return await self.wait_event("CALL_ESTABLISHED", call_id=call_id, timeout=timeout, fails={"CALL_CLOSED"})

    async def wait_closed(self, call_id: str, timeout: float = 10.0) -> PhoneEvent:
        return await self.wait_event("CALL_CLOSED", call_id=call_id, timeout=timeout)

    async def hangup(self, call_id: str = "", timeout: float = 10.0) -> None:
        """Hang up ``call_id`` (or the current call); returns once baresip reports it closed."""
        mark = len(self._events)
        call_id = call_id or self._current()
        await self._select(call_id)
        await self.command("hangup")
        await self.wait_event("CALL_CLOSED", call_id=call_id, since=mark, timeout=timeout)

    async def hold(self, call_id: str = "") -> None:
        """Put a call on hold (re-INVITE with ``a=sendonly``), as an agent does before a consult call."""
        if call_id:
            await self._select(call_id)
        await self.command("hold")

    async def resume(self, call_id: str = "") -> None:
        if call_id:
            await self._select(call_id)
        await self.command("resume")

    # -- transfers ------------------------------------------------------------------------

    async def blind_transfer(self, uri: str, call_id: str = "") -> str:
        """Send REFER (``Refer-To: uri``) in ``call_id``'s dialog (or the current call's);
        returns that call's id. ``wait_transferred`` then waits for the outcome."""
        call_id = call_id or self._current()
        await self._select(call_id)
        await self.command("transfer", uri)
        return call_id

    async def attended_transfer(self, held_call_id: str, consult_call_id: str, timeout: float = 5.0) -> str:
        """Join the far end of ``held_call_id`` to the far end of ``consult_call_id``: REFER in
        the held call's dialog with ``Refer-To: <consult peer>?Replaces=<consult dialog>``.
        Baresip 1.0.0 has no command for it; its ``/transfer`` sends this URI as given.
        Returns the Refer-To URI."""
        dialog = await self.dialog(consult_call_id, timeout=timeout)
        refer_to = f"{dialog.remote_uri}?Replaces={quote(dialog.replaces(), safe='')}"
        await self._select(held_call_id)
        await self.command("transfer", refer_to)
        return refer_to

    async def wait_transferred(self, call_id: str, timeout: float = 10.0) -> PhoneEvent:
        """Wait until the transferee reports the transfer done (its NOTIFY with 200: baresip
        then ends ``call_id``); a failure report (NOTIFY with an error, REFER refused) raises."""
        return await self.wait_event("CALL_CLOSED", call_id=call_id, timeout=timeout,
                                     fails={"TRANSFER_FAILED"})

    def _current(self) -> str:
        active = self.active_calls()
        if not active:
            raise PhoneError(f"baresip {self.name} has no call")
        return active[-1]

    # -- the SIP trace --------------------------------------------------------------------

    def sip_messages(self) -> list[SipMessage]:
        """Every SIP message the phone sent or received so far, from its trace."""
        if not self.log_file.exists():
            return []
        return parse_trace(self.log_file.read_text(errors="replace"), self.local)

    async def _message(self, match: Callable[[SipMessage], bool], timeout: float,
                       required: bool = True) -> SipMessage | None:
        """The first traced message matching ``match``; the trace is written by baresip as
        the message goes, so it may lag the event that told us about it by a moment."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = next((m for m in self.sip_messages() if match(m)), None)
            if found is not None or loop.time() > deadline:
                break
            await asyncio.sleep(0.05)  # the trace is a file baresip appends to; nothing to await
        if found is None and required:
            raise PhoneError(f"baresip {self.name}: the awaited SIP message is not in {self.log_file}")
        return found

    async def dialog(self, call_id: str, timeout: float = 5.0) -> Dialog:
        """The established dialog of ``call_id``, from the INVITE's 2xx in the trace."""
        ok = await self._message(lambda m: m.call_id == call_id and 200 <= m.status < 300
                                 and m.cseq_method == "INVITE", timeout=timeout)
        assert ok is not None
        from_tag = _tag(ok.header("From"))
        to_tag = _tag(ok.header("To"))
        if ok.outgoing:  # we answered: the caller is the far end
            return Dialog(call_id, local_tag=to_tag, remote_tag=from_tag, remote_uri=_name_addr_uri(ok.header("From")))
        return Dialog(call_id, local_tag=from_tag, remote_tag=to_tag, remote_uri=_name_addr_uri(ok.header("To")))


def _tag(value: str) -> str:
    found = _TAG.search(value)
    return found.group(1) if found else ""

