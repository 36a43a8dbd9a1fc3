"""Real SIP peers for the demo and the tests: SIPp (Debian ``sip-tester``) playing
softphones that register and auto-answer, and callers that dial a platform.

Scenarios are XML files in ``devtools/sip/scenarios/`` with ``{{ name }}`` placeholders rendered
per run (SIPp's own ``[keywords]`` are left alone).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import socket
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from devtools.sip.dtmf import keepalive_recording, key_recordings
from hotline_link.asterisk.render import render_text
from hotline_link.core.errors import SandboxError
from hotline_link.core.settings import SiteSettings

# SIPp's ports come from below the kernel's ephemeral range (32768-60999 on Linux) and
# apart from the sandbox's own ports (25038-25089, RTP 30000-32999, Redis 26379): a port
# the kernel hands out for another socket's bind(0) between our check and SIPp's bind
# would make SIPp fail with "Address already in use" (exit 254)
_MEDIA_PORTS = range(10000, 24998, 2)
_SIGNALLING_PORTS = range(26400, 29999)
_pick = random.SystemRandom()


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A free UDP port for a SIPp peer's signalling (never one from the ephemeral range)."""
    for _ in range(200):
        port = _pick.choice(_SIGNALLING_PORTS)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        return port
    raise SandboxError("no free UDP port for a SIPp peer")


def free_media_port(host: str = "127.0.0.1") -> int:
    """An even UDP port p with p+2 free too: SIPp binds audio on p and video on p+2."""
    for _ in range(200):
        port = _pick.choice(_MEDIA_PORTS)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as audio, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as video:
            try:
                audio.bind((host, port))
                video.bind((host, port + 2))
            except OSError:
                continue
        return port
    raise SandboxError("no free UDP port pair for SIPp media")


def udp_port_bound(port: int, tables: tuple[Path, ...] = (Path("/proc/net/udp"), Path("/proc/net/udp6"))) -> bool:
    """Whether some socket has bound UDP ``port`` (read from the kernel's tables; binding it
    ourselves to find out could take it from the SIPp that is starting)."""
    wanted = f":{port:04X}"
    for table in tables:
        with contextlib.suppress(OSError):
            for line in table.read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 1 and fields[1].endswith(wanted):
                    return True
    return False


@dataclass
class SippRun:
    name: str
    process: asyncio.subprocess.Process
    log_file: Path
    messages_file: Path | None = None
    trace_file: Path | None = None

    def messages(self) -> list[str]:
        if self.messages_file is None or not self.messages_file.exists():
            return []
        return [line.strip() for line in self.messages_file.read_text(errors="replace").splitlines()
                if line.strip()]

    async def finished(self, timeout: float) -> int:
        """Wait for SIPp to exit and return its exit code (0: every call succeeded)."""
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.kill()
            raise

    async def listening(self, port: int, timeout: float = 20.0) -> None:
        """Wait until this SIPp has bound ``port``: a call sent before that would fail at once
        (a busy machine can take seconds to start SIPp). Returns early if SIPp exited."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not udp_port_bound(port):
            if self.process.returncode is not None:
                return
            if loop.time() > deadline:
                raise SandboxError(f"SIPp {self.name} did not bind port {port} in {timeout:.0f} s; see {self.log_file}")
            await asyncio.sleep(0.05)

    def kill(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    def output(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


class SipPeers:
    def __init__(self, workdir: Path, host: str = "127.0.0.1") -> None:
        if shutil.which("sipp") is None:
            raise SandboxError("sipp is not installed (Debian package sip-tester); run 'make install'")
        self.workdir = workdir
        self.host = host
        self.runs: list[SippRun] = []
        workdir.mkdir(parents=True, exist_ok=True)
        self._counter = 0

    def _scenario(self, template: str, **values: object) -> Path:
        """The scenario rendered into the workdir; ``{{keepalive}}`` is the media a live
        phone keeps sending (``sip_dtmf.keepalive_recording``)."""
        text = resources.files("devtools.sip.scenarios").joinpath(template).read_text()
        values.setdefault("keepalive", keepalive_recording(self.workdir / "keepalive.pcap"))
        self._counter += 1
        path = self.workdir / f"{self._counter:03d}-{template}"
        path.write_text(render_text(text, values, template))
        return path

    async def _start(self, name: str, scenario: Path, site: SiteSettings, port: int,
                     calls: int | None, timeout_s: int, extra: list[str] | None = None) -> SippRun:
        """``calls=None``: no ``-m``; the scenario itself stops SIPp (a softphone's qualify
        answers are SIPp calls too, and must not count)."""
        log_file = self.workdir / f"{self._counter:03d}-{name}.log"
        args = ["sipp", "-sf", str(scenario), "-i", self.host, "-p", str(port),
                "-mp", str(free_media_port(self.host)), *(["-m", str(calls)] if calls is not None else []),
                "-timeout", f"{timeout_s}s", "-timeout_error", "-nostdin",
                "-trace_err", "-error_file", str(self.workdir / f"{self._counter:03d}-{name}.errors"),
                *(extra or []), f"{site.host}:{site.sip_port}"]
        # a session of its own, so a scheduler autogroup of its own: a phone is a device of
        # its own, and must not answer Asterisk's OPTIONS late because the tests' process
        # shares its CPU share with busy neighbours (the seat would show offline)
        with log_file.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                *args, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT,
                cwd=self.workdir, start_new_session=True)
        run = SippRun(name, process, log_file)
        self.runs.append(run)
        return run

    async def register(self, site: SiteSettings, agent: str, password: str, port: int,
                       expires: int = 600, timeout_s: int = 30) -> None:
        scenario = self._scenario("register.xml", agent=agent, password=password, expires=expires,
                                  contact=f"<sip:{agent}@[local_ip]:[local_port]>")
        # a late 401 (one per copy of a retransmitted REGISTER) may come between two steps,
        # where SIPp would abort the registration: it is ignored instead (a registrar that
        # keeps refusing still fails it, by the 4th 401 or the timeout)
        run = await self._start(f"register-{agent}", scenario, site, port, 1, timeout_s,
                                ["-default_behaviors", "all,-abortunexp"])
        code = await run.finished(timeout_s + 5)
        if code != 0:
            raise SandboxError(f"agent {agent} could not register with site {site.id} "
                               f"(sipp exit {code}); see {run.log_file}")

    async def answer(self, site: SiteSettings, agent: str, port: int, calls: int = 1,
                     ring_ms: int = 200, timeout_s: int = 60, trace: bool = False,
                     talk_range_ms: tuple[int, int] | None = None, refer_to: str | None = None,
                     refer_after_ms: int = 1000, keys: list[tuple[int, str]] | None = None) -> SippRun:
        """A softphone for ``agent`` listening on ``port`` (register it on that port first).
        It waits for the caller to hang up or, given ``talk_range_ms``, hangs up itself after
        a talk time drawn uniformly from that range. Given ``refer_to``, it transfers the
        caller there with the phone's own transfer key after ``refer_after_ms``: a blind REFER,
        then it waits for Asterisk's NOTIFYs and BYE. Given ``keys`` (``(pause_ms, key)``), it
        presses them once answered (RFC 4733), then waits for the BYE.
        ``run.messages()`` lists what it logged, e.g. ``INVITE ticket=12345-20261124-000001``."""
        if keys:  # the agent presses in-call keys (a feature code such as *1), then waits
            pcaps = key_recordings([key for _, key in keys], self.workdir, f"agent-keys-{self._counter + 1:03d}")
            presses = "".join(f'  <pause milliseconds="{int(pause_ms)}"/>\n'
                              f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
                              for (pause_ms, _), pcap in zip(keys, pcaps, strict=True))
            scenario = self._scenario("answer.xml", ring_ms=ring_ms, ring_wait_ms=max(ring_ms, 10),
                                      calls=calls, **_qualified(calls), dialog_capture="",
                                      ending=presses + _CALLER_HANGS_UP)
        elif refer_to:
            scenario = self._scenario("answer.xml", ring_ms=ring_ms, ring_wait_ms=max(ring_ms, 10),
                                      calls=calls, **_qualified(calls), dialog_capture=_DIALOG_CAPTURE,
                                      ending=_AGENT_REFERS.format(after=int(refer_after_ms), target=refer_to,
                                                                  host=site.host, port=site.sip_port))
        elif talk_range_ms:
            scenario = self._scenario("answer.xml", ring_ms=ring_ms, ring_wait_ms=max(ring_ms, 10),
                                      calls=calls, **_qualified(calls), dialog_capture=_DIALOG_CAPTURE,
                                      ending=_AGENT_HANGS_UP.format(low=int(talk_range_ms[0]),
                                                                    high=int(talk_range_ms[1])))
        else:  # SIPp refuses variables captured and never used: capture nothing then
            scenario = self._scenario("answer.xml", ring_ms=ring_ms, ring_wait_ms=max(ring_ms, 10),
                                      calls=calls, **_qualified(calls), dialog_capture="",
                                      ending=_CALLER_HANGS_UP)
        messages = self.workdir / f"{self._counter:03d}-answer-{agent}.messages"
        extra = ["-trace_logs", "-log_file", str(messages)]
        trace_file = self.workdir / f"{self._counter:03d}-answer-{agent}.trace"
        if trace:  # every SIP message with its arrival time (for latency benchmarks)
            extra += ["-trace_msg", "-message_file", str(trace_file)]
        run = await self._start(f"answer-{agent}", scenario, site, port, None, timeout_s, extra)
        await run.listening(port)
        run.messages_file = messages
        run.trace_file = trace_file if trace else None
        return run

    async def busy(self, site: SiteSettings, agent: str, port: int, calls: int = 1,
                   timeout_s: int = 60) -> SippRun:
        scenario = self._scenario("busy.xml", calls=calls, **_qualified(calls))
        run = await self._start(f"busy-{agent}", scenario, site, port, None, timeout_s)
        await run.listening(port)
        return run

    async def call(self, site: SiteSettings, caller: str, dialled: str, hold_ms: int,
                   timeout_s: int = 60, speaking: bool = False) -> SippRun:
        """``speaking``: the caller sends a frame every 20 ms, as a voice does, instead of a
        silence frame a second (a phone with voice activity detection while nobody speaks)."""
        extra = {"keepalive": keepalive_recording(self.workdir / "speaking.pcap", seconds=120, every_ms=20)} \
            if speaking else {}
        scenario = self._scenario("call.xml", caller=caller, dialled=dialled, talk=_talk(hold_ms), **extra)
        return await self._start(f"call-{caller}", scenario, site, free_udp_port(self.host), 1,
                                 timeout_s)

    async def call_and_give_up(self, site: SiteSettings, caller: str, dialled: str, ring_ms: int,
                               timeout_s: int = 60) -> SippRun:
        """A caller who hangs up unanswered: it rings ``ring_ms``, then sends CANCEL."""
        scenario = self._scenario("call_cancel.xml", caller=caller, dialled=dialled, ring_ms=ring_ms)
        return await self._start(f"cancel-{caller}", scenario, site, free_udp_port(self.host), 1, timeout_s)

    async def calls(self, site: SiteSettings, callers: list[str], dialled: str, hold_ms: int,
                    rate_per_s: float, timeout_s: int = 300,
                    talk_range_ms: tuple[int, int] | None = None) -> SippRun:
        """One SIPp placing a call from each of ``callers`` (an injection file), at a rate.
        Each talks ``hold_ms``, or a time drawn uniformly from ``talk_range_ms``."""
        inject = self.workdir / f"callers-{self._counter + 1:03d}.csv"
        inject.write_text("SEQUENTIAL\n" + "".join(f"{c};\n" for c in callers))
        scenario = self._scenario("call.xml", caller="[field0]", dialled=dialled,
                                  talk=_talk(hold_ms, talk_range_ms))
        return await self._start(f"calls-{len(callers)}", scenario, site, free_udp_port(self.host),
                                 len(callers), timeout_s,
                                 ["-inf", str(inject), "-r", f"{rate_per_s:g}", "-l", str(len(callers))])

    async def call_dtmf(self, site: SiteSettings, caller: str, dialled: str,
                        keys: list[tuple[int, str]], *, hold_ms: int | None = 2000,
                        wait_bye_s: int = 60, timeout_s: int = 120) -> SippRun:
        """A caller answering a voice menu: once answered, for each ``(pause_ms, key)`` it
        waits ``pause_ms`` and presses ``key`` (0-9, * or #; RFC 2833 telephone events from
        sip-tester's recordings). Then it hangs up after ``hold_ms``, or, with
        ``hold_ms=None``, waits up to ``wait_bye_s`` for the far end to hang up."""
        pcaps = key_recordings([key for _, key in keys], self.workdir, f"dtmf-{self._counter + 1:03d}")
        steps = []
        for (pause_ms, _), pcap in zip(keys, pcaps, strict=True):
            steps.append(f'  <pause milliseconds="{int(pause_ms)}"/>\n'
                         f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>')
        steps.append('  <pause milliseconds="400"/>')  # the last key's events go out in full
        if hold_ms is None:
            # a caller waiting on after the menu (for as long as it takes) sends silence
            # frames, as a live phone does, so the media timeout does not end it. (Not for a
            # caller that hangs up itself: its last recording, speech maybe, plays on.)
            keepalive = keepalive_recording(self.workdir / "keepalive.pcap")
            steps.append(f'  <nop><action><exec play_pcap_audio="{keepalive}"/></action></nop>')
        if hold_ms is None:
            ending = (f'  <recv request="BYE" timeout="{int(wait_bye_s * 1000)}"/>\n'
                      '  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n      [last_Via:]\n'
                      '      [last_From:]\n      [last_To:]\n      [last_Call-ID:]\n'
                      '      [last_CSeq:]\n      Content-Length: 0\n\n    ]]>\n  </send>')
        else:
            ending = (f'  <pause milliseconds="{int(hold_ms)}"/>\n'
                      '  <send retrans="500">\n    <![CDATA[\n'
                      f'      BYE sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0\n'
                      '      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n'
                      f'      From: <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]\n'
                      f'      To: <sip:{dialled}@[remote_ip]:[remote_port]>[peer_tag_param]\n'
                      '      Call-ID: [call_id]\n      CSeq: 2 BYE\n'
                      f'      Contact: <sip:{caller}@[local_ip]:[local_port]>\n'
                      '      Max-Forwards: 70\n      Content-Length: 0\n\n    ]]>\n  </send>\n'
                      '  <recv response="200" crlf="true"/>')
        scenario = self._scenario("call_dtmf.xml", caller=caller, dialled=dialled,
                                  keys="\n".join(steps), ending=ending)
        return await self._start(f"dtmf-{caller}", scenario, site, free_udp_port(self.host), 1,
                                 timeout_s)

    async def handset(self, site: SiteSettings, port: int, keys: list[tuple[int, str]], *, calls: int = 1,
                      ring_ms: int = 300, wait_bye_s: int = 40, timeout_s: int = 120) -> SippRun:
        """The sandbox's handsets (duty phones, callers called back; see ``render.handset_port``):
        every call to ``port`` rings ``ring_ms`` (a longer ring than the caller waits is a call
        not answered), then, once answered, presses each ``(pause_ms, key)`` and waits for
        the far end's BYE. ``run.messages()`` lists ``INVITE sip:<number>`` per call."""
        pcaps = key_recordings([key for _, key in keys], self.workdir, f"handset-{self._counter + 1:03d}")
        steps = [f'  <pause milliseconds="{int(pause_ms)}"/>\n'
                 f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>'
                 for (pause_ms, _), pcap in zip(keys, pcaps, strict=True)]
        scenario = self._scenario("handset.xml", ring_ms=ring_ms, ring_wait_ms=max(ring_ms, 10),
                                  keys="\n".join(steps), wait_bye_ms=wait_bye_s * 1000)
        messages = self.workdir / f"{self._counter:03d}-handset.messages"
        run = await self._start("handset", scenario, site, port, calls, timeout_s,
                                ["-trace_logs", "-log_file", str(messages)])
        await run.listening(port)
        run.messages_file = messages
        return run

    def kill_all(self) -> None:
        for run in self.runs:
            run.kill()

    async def stop_all(self, timeout_s: float = 5.0) -> None:
        """Kill every SIPp and wait until they are gone, so their ports are free again (a
        softphone's unregister binds the port it registered from)."""
        self.kill_all()
        waits = [run.process.wait() for run in self.runs if run.process.returncode is None]
        if waits:
            await asyncio.wait_for(asyncio.gather(*waits), timeout_s)


def _qualified(calls: int) -> dict[str, str]:
    """The two halves that make a softphone scenario answer Asterisk's qualify: an OPTIONS
    (out of dialog: a call of its own to SIPp) gets 200 and does not count; after ``calls``
    real calls SIPp stops gracefully (``-m`` would count the OPTIONS and run out early)."""
    return {"qualify_start": _QUALIFY_START, "qualify_end": _QUALIFY_END.replace("CALLS", str(int(calls)))}


# the scenario declares <Global variables="calls_done"/> (and any globals of its own)
_QUALIFY_START = """  <recv request="OPTIONS" optional="true" next="qualify"/>"""

_QUALIFY_END = """  <nop>
    <action>
      <add assign_to="calls_done" value="1"/>
      <test assign_to="enough" variable="calls_done" compare="greater_than_equal" value="CALLS"/>
    </action>
  </nop>
  <nop condexec="enough">
    <action>
      <exec int_cmd="stop_gracefully"/>
    </action>
  </nop>
  <pause milliseconds="500"/>
  <nop next="qualified"/>
  <label id="qualify"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTagQ[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <label id="qualified"/>"""


def _talk(hold_ms: int, talk_range_ms: tuple[int, int] | None = None) -> str:
    """The attributes of the caller's <pause/> while talking."""
    if talk_range_ms is None:
        return f'milliseconds="{hold_ms}"'
    low, high = talk_range_ms
    return f'distribution="uniform" min="{low}" max="{high}"'


_OK_TO_BYE = """  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>"""

# a re-INVITE in the call (Asterisk updates the connected line when the agent's warm
# transfer reaches the target, or moves the call) gets 200 with our SDP, as a phone does
_REINVITES = 8
_OK_TO_REINVITE = """  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=agent 53655765 2353687638 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15

    ]]>
  </send>
  <recv request="ACK"/>"""

# the agent waits for the caller's BYE (unrolled, not a loop: SIPp mishandles a jump back
# to an optional receive)
_CALLER_HANGS_UP = "".join(f"""  <recv request="INVITE" optional="true" next="reinvited{n}"/>
  <recv request="BYE" next="caller_bye"/>
  <label id="reinvited{n}"/>
""" + _OK_TO_REINVITE + "\n" for n in range(_REINVITES)) + """  <recv request="BYE"/>
  <label id="caller_bye"/>
""" + _OK_TO_BYE

def _bye_from_agent(cseq: int) -> str:
    """The agent ends the call: a BYE in the dialog the INVITE opened (our tag, their From)."""
    return f"""  <send retrans="500">
    <![CDATA[
      BYE [$remote_contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$local_uri];tag=[pid]SIPpTag01[call_number]
      To: [$remote_from]
      Call-ID: [call_id]
      CSeq: {cseq} BYE
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>"""


# what the agent needs to end the call itself: the caller's From, our URI, their Contact
_DIALOG_CAPTURE = """      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_from"/>
      <ereg regexp="&lt;[^&gt;]*&gt;" search_in="hdr" header="To:" assign_to="local_uri"/>
      <ereg regexp="sip:[^&gt;]*" search_in="hdr" header="Contact:" assign_to="remote_contact"/>"""

# the agent ends the call: a BYE in the dialog the INVITE opened (our tag, their From)
# The agent talks for a time drawn from the range, listening all the while: a caller (or
# Asterisk) hanging up first gets its 200 and the call ends cleanly, instead of SIPp
# aborting the call on an "unexpected BYE" and leaving the line busy for good.
_AGENT_HANGS_UP = (
"""  <nop><action><sample assign_to="talk_left" distribution="uniform" min="{low}" max="{high}"/></action></nop>
  <label id="talking"/>
  <recv request="BYE" timeout="250" ontimeout="still_talking"/>
""" + _OK_TO_BYE + """
  <nop next="done"/>
  <label id="still_talking"/>
  <nop>
    <action>
      <add assign_to="talk_left" value="-250"/>
      <test assign_to="more_talk" variable="talk_left" compare="greater_than" value="0"/>
    </action>
  </nop>
  <nop next="talking" test="more_talk"/>
""" + _bye_from_agent(1))


# the phone's own blind transfer key: REFER in the INVITE's dialog; Asterisk reports the
# transfer's progress in NOTIFYs (100 Trying, 180 Ringing, 200 OK; each answered 200) and,
# once the subscription is terminated, the phone hangs up its leg (RFC 5589), as phones do.
# Unrolled, not a loop: SIPp mishandles a jump back to an optional receive.
_REFER_NOTIFIES = 4
_AGENT_REFERS = (
"""  <pause milliseconds="{after}"/>
  <send retrans="500">
    <![CDATA[
      REFER [$remote_contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$local_uri];tag=[pid]SIPpTag01[call_number]
      To: [$remote_from]
      Call-ID: [call_id]
      CSeq: 1 REFER
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Refer-To: <sip:{target}@{host}:{port}>
      Referred-By: [$local_uri]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="202"/>
""" + "".join(f"""  <recv request="NOTIFY" optional="true" next="notified{n}">
    <action>
      <ereg regexp="terminated" search_in="hdr" header="Subscription-State:" check_it="false" assign_to="refer_over"/>
    </action>
  </recv>
  <recv request="BYE" next="refer_bye"/>
  <label id="notified{n}"/>
""" + _OK_TO_BYE.replace("<send>", '<send next="refer_hangup" test="refer_over">') + """
""" for n in range(_REFER_NOTIFIES)) + """  <label id="refer_hangup"/>
""" + _bye_from_agent(2) + """
  <nop next="done"/>
  <label id="refer_bye"/>
""" + _OK_TO_BYE)
