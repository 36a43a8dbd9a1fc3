"""SIPp peers' ports stay out of the kernel's ephemeral range and the sandbox's own ports."""

from __future__ import annotations

import socket

import pytest

from devtools.sip import peers
from hotline_link.core.errors import SandboxError
from hotline_link.core.settings import Settings


def _sandbox_ports() -> set[int]:
    settings = Settings()
    ports = {26379}
    for site in settings.sites:
        ports |= {site.sip_port, site.ami_port, site.sip_port + 9, *range(site.rtp_start, site.rtp_end + 1)}
    return ports


def test_signalling_and_media_ports_avoid_the_ephemeral_range_and_the_sandbox() -> None:
    low, _high = (int(n) for n in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    used = _sandbox_ports()
    for port in peers._SIGNALLING_PORTS:
        assert port < low and port not in used
    for port in peers._MEDIA_PORTS:
        assert port + 2 < low and not {port, port + 2} & used
    assert not set(peers._SIGNALLING_PORTS) & {p + d for p in peers._MEDIA_PORTS for d in (0, 2)}


def test_free_udp_port_skips_a_port_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        busy = taken.getsockname()[1]
        monkeypatch.setattr(peers, "_SIGNALLING_PORTS", range(busy, busy + 1))
        with pytest.raises(SandboxError, match="no free UDP port"):
            peers.free_udp_port()
    assert peers.free_udp_port() in peers._SIGNALLING_PORTS
