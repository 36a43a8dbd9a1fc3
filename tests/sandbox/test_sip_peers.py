"""The test softphone's REGISTER against a registrar played by SIPp: under load the first
REGISTER is retransmitted and each copy draws its own 401, so a second challenge can come
while the answered one waits for its 200 (seen in a loaded CI run). The softphone answers
it again; a registrar that never accepts still fails it."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from devtools.sip.peers import SipPeers, free_udp_port
from hotline_link.core.errors import SandboxError
from hotline_link.core.settings import SiteSettings

_SEND_401 = """
  <send>
    <![CDATA[
      SIP/2.0 401 Unauthorized
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]registrar[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      WWW-Authenticate: Digest realm="sandbox",nonce="nonce{n}",algorithm=MD5
      Content-Length: 0

    ]]>
  </send>
"""
_RECV = """
  <recv request="REGISTER"/>
"""
_ACCEPT = """
  <recv request="REGISTER">
    <action>
      <ereg regexp="Authorization: Digest" search_in="msg" check_it="true" assign_to="auth"/>
    </action>
  </recv>
  <nop>
    <action>
      <log message="answered with [$auth]"/>
    </action>
  </nop>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]registrar[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Contact:]
      Content-Length: 0

    ]]>
  </send>
"""


# as Asterisk does when the first REGISTER was retransmitted: each copy draws a 401, so a
# second 401 comes while the softphone answers the first (SIPp drops it as a retransmission
# when it waits for a response; on a nop it would abort the call, as the loaded run saw)
_LATE_DUPLICATE = _RECV + _SEND_401.format(n="a") + _SEND_401.format(n="b") + _ACCEPT


def _registrar(path: Path, challenges: int, accept: bool) -> Path:
    body = "".join(_RECV + _SEND_401.format(n=n) for n in range(challenges))
    path.write_text('<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="registrar">'
                    + body + (_ACCEPT if accept else "") + "</scenario>\n")
    return path


async def _run_registrar(scenario: Path, port: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        "sipp", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port), "-m", "1",
        "-timeout", "20s", "-timeout_error", "-nostdin", "-default_behaviors", "all,-abortunexp",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL, cwd=scenario.parent)


def _site(port: int) -> SiteSettings:
    return dataclasses.replace(SiteSettings("12345", "12345", port, 0, 0, 0, ("1001",)), sip_port=port)


@pytest.mark.parametrize("challenges", [1, 2, 3])
async def test_the_softphone_answers_every_challenge_up_to_three(tmp_path, peers: SipPeers, challenges):
    port = free_udp_port()
    registrar = await _run_registrar(_registrar(tmp_path / "registrar.xml", challenges, accept=True), port)
    try:
        await asyncio.sleep(0.3)  # the registrar binds its port
        await peers.register(_site(port), "1001", "secret-pw", free_udp_port(), timeout_s=10)
        assert await asyncio.wait_for(registrar.wait(), 10) == 0  # it saw every REGISTER it expected
    finally:
        if registrar.returncode is None:
            registrar.kill()
            await registrar.wait()


async def test_a_registrar_that_keeps_challenging_fails_the_softphone(tmp_path, peers: SipPeers):
    port = free_udp_port()
    registrar = await _run_registrar(_registrar(tmp_path / "registrar.xml", 4, accept=False), port)
    try:
        await asyncio.sleep(0.3)
        with pytest.raises(SandboxError, match="could not register"):
            await peers.register(_site(port), "1001", "wrong-pw", free_udp_port(), timeout_s=4)
        assert await asyncio.wait_for(registrar.wait(), 10) == 0  # the 4th REGISTER came and was refused
    finally:
        if registrar.returncode is None:
            registrar.kill()
            await registrar.wait()


async def test_a_late_duplicate_challenge_is_answered_too(tmp_path, peers: SipPeers):
    """The loaded CI run's case: the first REGISTER was retransmitted and both copies are
    challenged; the second 401 reaches the softphone after it answered the first."""
    port = free_udp_port()
    scenario = tmp_path / "registrar.xml"
    scenario.write_text('<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="slow registrar">'
                        + _LATE_DUPLICATE + "</scenario>\n")
    registrar = await _run_registrar(scenario, port)
    try:
        await asyncio.sleep(0.3)
        await peers.register(_site(port), "1001", "secret-pw", free_udp_port(), timeout_s=10)
        assert await asyncio.wait_for(registrar.wait(), 10) == 0
    finally:
        if registrar.returncode is None:
            registrar.kill()
            await registrar.wait()
