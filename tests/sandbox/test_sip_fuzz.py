"""Hostile SIP input, fuzzed: SIPp callers to 12345 with hostile values in the From (user
part and display name), P-Asserted-Identity, Contact and each X-Ticket-* header: line
breaks raw and %-encoded, quotes, ';' ',' '|', ``${...}``, NUL, 2 KiB strings and bytes that
are not UTF-8. Every call is answered by a live seat or refused by Asterisk's SIP stack;
no AMI action the server sends carries any of it, no caller number is stored but digits
or ``anonymous``, nothing ran, no handler failed, the server stays healthy and no channel
is left."""

from __future__ import annotations

import asyncio
import re
import secrets

import aiohttp

from devtools.sandbox import Sandbox
from devtools.sandbox.residue import count_channels
from devtools.sip.peers import free_udp_port
from tests.sandbox.callflows import online_agent

MARK = "hlfuzz"  # every hostile value carries it, so anything that leaks is found


def hostile_values(marker: str) -> list[tuple[str, str]]:
    """(name, value) pairs; ``marker`` names a file that would appear if a value ran."""
    shell = f"touch /tmp/{marker}"
    return [
        ("lf-encoded",
         f"138{MARK}%0AApplication%3A%20System%0AData%3A%20{shell.replace(' ', '%20').replace('/', '%2F')}"),
        ("crlf-encoded", f"139{MARK}%0D%0AAction%3A%20Originate"),
        ("nul-encoded", f"137{MARK}%00x"),
        ("dialplan-function", f"%24%7BSHELL({shell.replace(' ', '%20').replace('/', '%2F')})%7D{MARK}"),
        ("separators", f"136{MARK};x=1,2|3"),
        ("quote", f"135{MARK}%22%3Cx%3E"),
        ("long", "1" * 2048 + MARK),
        ("plain", "13800001111"),  # the control: a real number goes through as digits
    ]


def hostile_display_names(marker: str) -> list[str]:
    return [f'"{MARK} \\" ${{SHELL(touch /tmp/{marker})}}"', f'"{MARK};,|"', f'"{MARK}' + "x" * 2000 + '"']


SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="hostile caller">
  <send retrans="500">
    <![CDATA[
      INVITE sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: {display}<sip:{user}@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: <sip:{dialled}@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:{user}@[local_ip]:[local_port]>
      P-Asserted-Identity: {display}<sip:{user}@[local_ip]>
      X-Ticket-Id: {header}
      X-Ticket-Category: {header}
      X-Ticket-Summary: {header}
      X-Ticket-From: {header}
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200"/>
  <send>
    <![CDATA[
      ACK sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: {display}<sip:{user}@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: <sip:{dialled}@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="800"/>
  <send retrans="500">
    <![CDATA[
      BYE sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: {display}<sip:{user}@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: <sip:{dialled}@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
"""


async def test_hostile_sip_values_inject_nothing_and_every_call_ends_cleanly(
        server, softphones, peers, log_lines, tmp_path):
    marker = f"hl-fuzz-{secrets.token_hex(6)}"
    site = server.settings.site("12345")
    sent: list[dict] = []
    real_send = server.ami.send

    async def recording_send(site_id, action, **kwargs):
        sent.append(dict(action))
        return await real_send(site_id, action, **kwargs)

    server.ami.send = recording_send  # every action the server's services send from here on
    cases = [(name, value, display) for name, value in hostile_values(marker)
             for display in ["", *hostile_display_names(marker)][:2]]
    cases += [("display-long", "13400002222", hostile_display_names(marker)[2])]
    with server.bus.subscribe() as events:
        await online_agent(server, softphones, peers, "12345", "1001", calls=len(cases))
        headers = [f"{MARK}%0D%0AX-Evil%3A%201", f"{MARK}\r\nX-Evil: ${{SHELL(touch /tmp/{marker})}}",
                   f"{MARK};x,y|z${{SHELL(touch /tmp/{marker})}}", f"{MARK}\udcff\udcfe", MARK + "y" * 2048]
        for n, (name, user, display) in enumerate(cases):
            header = headers[n % len(headers)]
            text = SCENARIO.format(dialled=site.intake, user=user, display=display + " " if display else "",
                                   header=header)
            path = tmp_path / f"hostile-{n:02d}.xml"
            path.write_bytes(text.encode("utf-8", "surrogateescape"))
            run = await peers._start(f"hostile-{name}", path, site, free_udp_port(), 1, 15)
            await run.finished(25)  # answered and hung up, or refused: either way it ends
        await asyncio.sleep(1)  # the last call's events
        started = [e for e in events.seen if e.name == "call.started" and e.data.get("site") == "12345"]
    # caller numbers: digits or anonymous, nothing else
    callers = {str(e.data["caller"]) for e in started}
    assert callers, "no call reached the server at all"
    assert all(c == "anonymous" or re.fullmatch(r"\+?\d{1,20}", c) for c in callers), callers
    assert "13800001111" in callers  # the control went through as its digits
    # nothing hostile in any AMI action, nothing ran
    for action in sent:
        text = repr(action)
        assert MARK not in text and "SHELL" not in text and "\n" not in "".join(map(str, action.values())), action
    assert not (server.settings.rootfs_dir / "tmp" / marker).exists()
    # no handler failed on the way, and the server is healthy
    for failure in ("ami.handler_failed", "agi.handler_failed", "http.failed", "timeline.write_bug"):
        assert log_lines.events(failure) == [], failure
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://{server.settings.http_host}:{server.settings.http_port}/health") as resp:
            assert resp.status == 200
    cli = Sandbox(server.settings).asterisk("12345").cli
    for _ in range(50):  # every call has ended on Asterisk's side too
        if count_channels(await asyncio.to_thread(cli, "core show channels count")) == 0:
            break
        await asyncio.sleep(0.2)
    assert count_channels(await asyncio.to_thread(cli, "core show channels count")) == 0
