"""The baresip driver (``devtools.sip.baresip``) against real baresip phones on loopback,
calling each other directly: no Asterisk. A calls B; B answers; B transfers A to C, blind
(REFER) or attended (REFER with Replaces after a consult call to C). What each phone
reported (its events) and what went on the wire (its SIP trace) are the evidence.

They need only Debian's baresip; without it they skip, or fail when
``HOTLINE_REQUIRE_SANDBOX=1`` (``make test``). Each test takes its own port blocks and
temp dirs, and its phones are stopped and reaped when it ends.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from devtools.sandbox.processes import pid_alive
from devtools.sip import baresip as driver
from devtools.sip.baresip import Baresip, Dialog, PhoneError, PhonePorts, free_phone_ports, parse_trace
from hotline_link.core.settings import Settings
from tests.conftest import _unavailable

# -- no baresip needed -------------------------------------------------------------------------


def test_phone_ports_stay_apart_from_the_sandbox_and_the_sipp_peers() -> None:
    from devtools.sip import peers

    settings = Settings()
    sandbox = {26379}
    for site in settings.sites:
        sandbox |= {site.sip_port, site.ami_port, site.sip_port + 9, *range(site.rtp_start, site.rtp_end + 1)}
    sipp = set(peers._SIGNALLING_PORTS) | {p + d for p in peers._MEDIA_PORTS for d in (0, 2)}
    blocks = [PhonePorts.block(base) for base in range(driver.PHONE_PORTS.start,
                                                       driver.PHONE_PORTS.stop - driver.PORT_BLOCK + 1,
                                                       driver.PORT_BLOCK)]
    used = [port for block in blocks for port in block.all()]
    assert len(used) == len(set(used))  # the blocks do not overlap
    assert not set(used) & (sandbox | sipp)
    assert set(used) <= set(driver.PHONE_PORTS)


def test_free_phone_ports_are_distinct_blocks() -> None:
    blocks = free_phone_ports(3)
    assert len({block.sip for block in blocks}) == 3
    with pytest.raises(PhoneError, match="no 2 free port blocks"):
        free_phone_ports(2, ports=range(41000, 41000 + driver.PORT_BLOCK))


def test_the_config_plays_no_sound_card_and_the_account_registers_only_with_a_registrar(tmp_path: Path) -> None:
    ports = PhonePorts.block(41200)
    peer = Baresip(tmp_path, "b", ports)
    config = peer.config_text()
    assert re.search(r"^sip_listen\s+127\.0\.0\.1:41200$", config, re.M)
    assert re.search(r"^ctrl_tcp_listen\s+127\.0\.0\.1:41202$", config, re.M)
    assert re.search(r"^rtp_ports\s+41204-41215$", config, re.M)
    assert re.search(r"^audio_source\s+ausine,440$", config, re.M)
    assert "alsa" not in config
    assert peer.account_line() == "<sip:b@127.0.0.1:41200>;regint=0;answermode=manual\n"
    agent = Baresip(tmp_path, "101", ports, registrar="127.0.0.1:25060", password="s3cret", auto_answer=True)
    assert agent.account_line() == "<sip:101@127.0.0.1:25060>;auth_pass=s3cret;regint=600;answermode=auto\n"


_TRACE = (
    "baresip is ready.\n"
    "\x1b[36;1m#\nUDP 127.0.0.1:41003 -> 127.0.0.1:41005\n"
    "INVITE sip:c@127.0.0.1:41005 SIP/2.0\n"
    "From: <sip:b@127.0.0.1:41003>;tag=btag\nTo: <sip:c@127.0.0.1:41005>\n"
    "Call-ID: cons@x\nCSeq: 7 INVITE\nContent-Length: 4\n\nv=0\n\x1b[;m\n"
    "call: connecting\n"
    "\x1b[36;1m#\nUDP 127.0.0.1:41005 -> 127.0.0.1:41003\n"
    "SIP/2.0 200 OK\n"
    "To: <sip:c@127.0.0.1:41005>;tag=ctag\nFrom: <sip:b@127.0.0.1:41003>;tag=btag\n"
    "Call-ID: cons@x\nCSeq: 7 INVITE\nContent-Length: 0\n\n\x1b[;m\n"
)


def test_the_trace_reads_back_as_sip_messages_with_their_direction() -> None:
    invite, ok = parse_trace(_TRACE, "127.0.0.1:41003")
    assert (invite.outgoing, invite.method, invite.call_id, invite.body) == (True, "INVITE", "cons@x", "v=0\n")
    assert (ok.outgoing, ok.status, ok.cseq_method, ok.header("to")) == (
        False, 200, "INVITE", "<sip:c@127.0.0.1:41005>;tag=ctag")


def test_a_replaces_names_the_far_end_tag_as_to_tag() -> None:
    dialog = Dialog("cons@x", local_tag="btag", remote_tag="ctag", remote_uri="sip:c@127.0.0.1:41005")
    assert dialog.replaces() == "cons@x;to-tag=ctag;from-tag=btag"


# -- real baresip phones -------------------------------------------------------------------------


class Phones:
    """Makes phones with port blocks and dirs of their own (``async with`` starts them)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.taken: set[int] = set()

    def ports(self) -> PhonePorts:
        block = free_phone_ports(1, exclude=self.taken)[0]
        self.taken |= set(block.all())
        return block

    def __call__(self, user: str, **options: Any) -> Baresip:
        return Baresip(self.workdir / user, user, self.ports(), **options)


@pytest.fixture
def phones(tmp_path: Path) -> Phones:
    if shutil.which("baresip") is None or not (driver.MODULE_DIR / "ctrl_tcp.so").exists():
        _unavailable("baresip is not installed (Debian package baresip)")
    return Phones(tmp_path)


@pytest.fixture
async def abc(phones: Phones) -> AsyncIterator[tuple[Baresip, Baresip, Baresip]]:
    """Three running phones, a (the caller), b (the agent) and c (the transfer target); all
    stopped and reaped after the test, whatever it did."""
    async with AsyncExitStack() as stack:
        trio = [await stack.enter_async_context(phones(user)) for user in ("a", "b", "c")]
        yield trio[0], trio[1], trio[2]
    for phone in trio:
        assert phone.process is not None and phone.process.returncode is not None


async def _answered(a: Baresip, b: Baresip) -> str:
    """A calls B, B answers: the call's Call-ID."""
    call_id = await a.dial(b.uri)
    incoming = await b.wait_incoming()
    assert incoming.call_id == call_id
    await b.answer(call_id)
    await a.wait_established(call_id)
    return call_id


async def test_a_call_rings_with_the_callers_from_is_answered_and_hung_up(abc) -> None:
    a, b, _ = abc
    call_id = await a.dial(b.uri)
    incoming = await b.wait_incoming()
    assert (incoming.call_id, incoming.peer_uri) == (call_id, a.uri)
    assert incoming.from_header.startswith(f"<{a.uri}>;tag=")
    await b.answer()
    await a.wait_established(call_id)
    assert b.active_calls() == [call_id]
    await b.hangup(call_id)
    assert (await a.wait_closed(call_id)).param == "Connection reset by peer"
    assert not b.active_calls()


async def test_blind_transfer_refers_the_caller_who_calls_the_target(abc) -> None:
    a, b, c = abc
    ab = await _answered(a, b)

    await b.blind_transfer(c.uri, ab)
    refer = await a.wait_event("TRANSFER", call_id=ab)  # a, the transferee, got the REFER
    assert refer.param == c.uri
    incoming = await c.wait_incoming()  # and called the target itself
    assert incoming.peer_uri == a.uri and incoming.call_id != ab
    await c.answer(incoming.call_id)
    await a.wait_established(incoming.call_id)
    closed = await b.wait_transferred(ab)  # a's NOTIFY said 200: b leaves the call
    assert closed.param == "Call transfered"
    await a.wait_closed(ab)

    sent = [m for m in b.sip_messages() if m.outgoing and m.method == "REFER"]
    assert [(m.call_id, m.header("Refer-To")) for m in sent] == [(ab, c.uri)]
    notified = [m.body.strip() for m in b.sip_messages() if not m.outgoing and m.method == "NOTIFY"]
    assert notified[0].startswith("SIP/2.0 100") and notified[-1].startswith("SIP/2.0 200")
    invite = next(m for m in c.sip_messages() if m.method == "INVITE" and m.call_id == incoming.call_id)
    assert invite.source == a.local
    assert invite.header("Referred-By") == ""  # baresip 1.0.0 sends none, in the REFER or the INVITE
    await c.hangup(incoming.call_id)
    await a.wait_closed(incoming.call_id)


async def test_attended_transfer_refers_with_replaces_naming_the_consult_dialog(abc) -> None:
    """B holds A, consults C, then REFERs A to C with Replaces naming the B-C dialog: what
    Asterisk (the transferee in the sandbox) turns into an attended transfer. Baresip as the
    transferee here dials C with the Replaces left in the request URI, and C does not replace
    anything: between baresip peers, only the REFER can be checked."""
    a, b, c = abc
    ab = await _answered(a, b)
    await b.hold(ab)
    bc = await b.dial(c.uri)
    consult = await c.wait_incoming()
    assert consult.call_id == bc
    await c.answer(bc)
    await b.wait_established(bc)

    refer_to = await b.attended_transfer(ab, bc)
    seen_by_c = await c.dialog(bc)
    target, _, replaces = unquote(refer_to).partition("?Replaces=")
    assert target == c.uri
    assert replaces == f"{bc};to-tag={seen_by_c.local_tag};from-tag={seen_by_c.remote_tag}"

    sent = next(m for m in b.sip_messages() if m.outgoing and m.method == "REFER")
    assert (sent.call_id, sent.header("Refer-To")) == (ab, refer_to)
    assert (await a.wait_event("TRANSFER", call_id=ab)).param.startswith(f"{c.uri}?Replaces={bc}")
    followed = await c.wait_incoming()  # a follows the REFER and calls c
    assert followed.peer_uri == a.uri and followed.call_id not in (ab, bc)
    assert set(b.active_calls()) == {ab, bc}  # no one completed the transfer


async def test_an_auto_answering_phone_answers_by_itself(phones: Phones) -> None:
    async with phones("a") as a, phones("b", auto_answer=True) as b:
        call_id = await a.dial(b.uri)
        await b.wait_established(call_id)
        await a.wait_established(call_id)
        await a.hangup(call_id)
        await b.wait_closed(call_id)


async def test_a_refused_command_and_a_missing_call_raise(phones: Phones) -> None:
    async with phones("a") as a:
        with pytest.raises(PhoneError, match="refused /nosuchcommand"):
            await a.command("nosuchcommand")
        with pytest.raises(PhoneError, match="no ringing call"):
            await a.answer()
        with pytest.raises(PhoneError, match="has no call"):
            await a.blind_transfer("sip:x@127.0.0.1:41999")


async def test_stop_quits_and_reaps_the_phone(phones: Phones) -> None:
    phone = phones("a")
    await phone.start()
    assert phone.process is not None
    pid = phone.process.pid
    assert await phone.stop() == 0  # /quit: baresip exits by itself
    assert phone.process.returncode == 0 and not pid_alive(pid)
    assert await phone.stop() == 0  # stopping twice is harmless


async def test_a_phone_that_ignores_quit_is_terminated(phones: Phones) -> None:
    phone = phones("a")
    await phone.start()
    assert phone.process is not None
    os.kill(phone.process.pid, signal.SIGSTOP)  # it can no longer answer /quit, nor end on SIGTERM
    try:
        code = await phone.stop(timeout=0.3, grace=0.3)
    finally:
        if phone.process.returncode is None:  # never leave it stopped and alive
            phone.process.kill()
            await phone.process.wait()
    assert code == -signal.SIGKILL


# -- registration, against a small registrar of the test's own -----------------------------------


class Registrar(asyncio.DatagramProtocol):
    """Answers REGISTER with a digest challenge, then 200 when the credentials match."""

    realm, nonce = "sandbox", "n0nce"

    def __init__(self, password: str) -> None:
        self.password = password
        self.registers: list[str] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.DatagramTransport) -> None:  # type: ignore[override]
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        text = data.decode(errors="replace")
        if not text.startswith("REGISTER "):
            return
        self.registers.append(text)
        head = dict(line.split(":", 1) for line in text.split("\r\n\r\n")[0].split("\r\n")[1:] if ":" in line)
        head = {k.strip().lower(): v.strip() for k, v in head.items()}
        copied = "".join(f"{name}: {head[name.lower()]}\r\n" for name in ("Via", "From", "To", "Call-ID", "CSeq"))
        if self._authorised(head.get("authorization", "")):
            reply = (f"SIP/2.0 200 OK\r\n{copied}Contact: {head.get('contact', '')};expires=600\r\n"
                     "Content-Length: 0\r\n\r\n")
        else:
            reply = (f"SIP/2.0 401 Unauthorized\r\n{copied}"
                     f'WWW-Authenticate: Digest realm="{self.realm}", nonce="{self.nonce}", algorithm=MD5\r\n'
                     "Content-Length: 0\r\n\r\n")
        assert self.transport is not None
        self.transport.sendto(reply.encode(), addr)

    def _authorised(self, authorization: str) -> bool:
        fields = dict(re.findall(r'(\w+)="?([^",]*)"?', authorization))
        if not fields:
            return False
        md5 = lambda text: hashlib.md5(text.encode()).hexdigest()  # noqa: E731 - SIP digest is MD5
        ha1 = md5(f"{fields['username']}:{self.realm}:{self.password}")
        expected = md5(f"{ha1}:{self.nonce}:{md5('REGISTER:' + fields['uri'])}")
        return fields.get("response") == expected


async def test_the_agent_registers_with_its_password_and_unregisters_on_stop(phones: Phones) -> None:
    port = phones.ports().sip
    loop = asyncio.get_running_loop()
    transport, registrar = await loop.create_datagram_endpoint(lambda: Registrar("s3cret"),
                                                               local_addr=("127.0.0.1", port))
    try:
        async with phones("101", registrar=f"127.0.0.1:{port}", password="s3cret", regint=60) as agent:
            await agent.wait_registered()
        first, answered, *_, last = registrar.registers  # challenged, registered, ..., unregistered on quit
        assert "Authorization" not in first and 'username="101"' in answered
        assert re.search(r"^Contact: <[^>]+>;expires=0\r$", last, re.M) and 'username="101"' in last
    finally:
        transport.close()


async def test_a_wrong_password_is_reported(phones: Phones) -> None:
    port = phones.ports().sip
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: Registrar("right"), local_addr=("127.0.0.1", port))
    try:
        async with phones("101", registrar=f"127.0.0.1:{port}", password="wrong", regint=60) as agent:
            with pytest.raises(PhoneError, match="could not register"):
                await agent.wait_registered(timeout=5)
    finally:
        transport.close()
