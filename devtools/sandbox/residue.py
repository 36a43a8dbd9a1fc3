"""What one run can leave on the sandbox for the next: channels still up (callers whose
SIPp died without a BYE or CANCEL), agents' contacts (softphones killed without
unregistering), and seats a stopped test left paused, logged out, in wrap-up or claimed.
``count_*`` read Asterisk's CLI answers (pure); ``clear_site`` hangs up every channel and
unregisters every agent contact of a site with ``Contact: *``; ``ready_seats`` puts the
seats back in the pool."""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, cast

from call_control.callbacks.store import PREFIX as CALLBACK_PREFIX
from hotline_link.asterisk.render import render_text
from hotline_link.core.errors import SandboxError
from hotline_link.core.settings import SiteSettings
from seat_pool.store import claim_key, left_unready, ready_fields, seat_key

if TYPE_CHECKING:
    import redis

_CHANNELS = re.compile(r"^(\d+) active channels?$", re.MULTILINE)
_CONTACT = re.compile(r"^\s*Contact:\s+([^/\s]+)/(\S+)", re.MULTILINE)


def count_channels(core_show_channels_count: str) -> int:
    """``core show channels count`` -> the number of active channels."""
    found = _CHANNELS.search(core_show_channels_count)
    if found is None:
        raise SandboxError(f"unexpected answer to 'core show channels count': "
                           f"{core_show_channels_count.strip()[:120]!r}")
    return int(found.group(1))


def agent_contacts(pjsip_show_contacts: str, agents: frozenset[str]) -> dict[str, int]:
    """``pjsip show contacts`` -> {agent: contacts}, agents' AORs only (trunks' contacts are
    static configuration, not residue)."""
    counts: dict[str, int] = {}
    for aor, uri in _CONTACT.findall(pjsip_show_contacts):
        if aor in agents and uri.startswith("sip:"):
            counts[aor] = counts.get(aor, 0) + 1
    return counts


def unregister_everywhere(site: SiteSettings, agent: str, password: str, port: int,
                          timeout_s: int = 10) -> None:
    """REGISTER with ``Contact: *`` and ``Expires: 0``: the registrar drops every contact of
    the agent, whichever address it registered from."""
    template = resources.files("devtools.sip.scenarios").joinpath("register.xml").read_text()
    with tempfile.TemporaryDirectory(prefix="hl-unregister-") as workdir:
        scenario = Path(workdir) / "unregister.xml"
        scenario.write_text(render_text(template, {"agent": agent, "password": password, "expires": 0,
                                                   "contact": "*"}, "register.xml"))
        try:
            done = subprocess.run(
                ["sipp", "-sf", str(scenario), "-i", site.host, "-p", str(port), "-m", "1",
                 "-timeout", f"{timeout_s}s", "-timeout_error", "-nostdin", "-trace_err",
                 f"{site.host}:{site.sip_port}"],
                cwd=workdir, capture_output=True, text=True, timeout=timeout_s + 5)
        except FileNotFoundError:
            raise SandboxError("sipp is not installed (Debian package sip-tester); run 'make install'") from None
        except subprocess.TimeoutExpired:
            raise SandboxError(f"site {site.id}: unregistering agent {agent} timed out") from None
    if done.returncode != 0:
        raise SandboxError(f"site {site.id}: could not unregister agent {agent} (sipp exit {done.returncode})")


def clear_site(site: SiteSettings, cli: Callable[[str], str], password_of: Callable[[str], str],
               free_port: Callable[[], int], timeout_s: float = 15.0) -> tuple[int, int]:
    """Hang up every channel and drop every agent contact of ``site`` (``password_of``
    gives an agent's SIP password); returns what was
    found (channels, contacts). Raises SandboxError if residue is still there after
    ``timeout_s``."""
    agents = frozenset(site.agents)
    channels = count_channels(cli("core show channels count"))
    contacts = agent_contacts(cli("pjsip show contacts"), agents)
    if channels:
        cli("channel request hangup all")
    for agent in sorted(contacts):
        unregister_everywhere(site, agent, password_of(agent), free_port())
    deadline = time.monotonic() + timeout_s
    while True:
        left = count_channels(cli("core show channels count")), sum(
            agent_contacts(cli("pjsip show contacts"), agents).values())
        if left == (0, 0):
            return channels, sum(contacts.values())
        if time.monotonic() > deadline:
            raise SandboxError(f"site {site.id}: still {left[0]} channels and {left[1]} agent contacts "
                               f"after clearing")
        if left[0]:
            cli("channel request hangup all")  # a channel that was being set up meanwhile
        time.sleep(0.2)  # hangups and unregisters take effect asynchronously in Asterisk


def ready_seats(client: redis.Redis, sites: Iterable[SiteSettings], now: float) -> list[str]:
    """Make ready every agent seat an earlier run left out of the pool, and drop every
    seat claim (no call is up when a run starts); the seats made ready, ``site/seat``."""
    readied = []
    for site in sites:
        for agent in site.agents:
            key = seat_key(site.id, agent)
            fields = cast("dict[str, str]", client.hgetall(key))  # a client with decode_responses
            if fields and left_unready(fields, now):
                client.hset(key, mapping=ready_fields(now))
                readied.append(f"{site.id}/{agent}")
            client.delete(claim_key(site.id, agent))
    return readied


def forget_callbacks(client: redis.Redis) -> int:
    """Deletes the callback queue (``hl:callback:*``) an earlier run left; the keys deleted."""
    keys = list(client.scan_iter(match=f"{CALLBACK_PREFIX}*", count=500))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start:start + 500])
    return len(keys)
