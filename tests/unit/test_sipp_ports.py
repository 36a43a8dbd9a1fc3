"""SIPp peers' ports stay out of the kernel's ephemeral range and the sandbox's own ports."""

from __future__ import annotations

import asyncio
import socket
import sys

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


def test_a_bound_udp_port_is_seen_in_the_kernel_tables_and_a_closed_one_is_not() -> None:
    port = peers.free_udp_port()
    assert not peers.udp_port_bound(port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", port))
        assert peers.udp_port_bound(port)
    assert not peers.udp_port_bound(port)


def test_a_missing_kernel_table_reads_as_not_bound(tmp_path) -> None:
    assert not peers.udp_port_bound(5060, (tmp_path / "absent",))


async def _process(tmp_path, code: str) -> peers.SippRun:
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", code)
    return peers.SippRun("probe", process, tmp_path / "probe.log")


async def test_listening_waits_for_a_late_bind(tmp_path) -> None:
    port = peers.free_udp_port()
    run = await _process(tmp_path, "import socket, time; time.sleep(0.4); s = socket.socket(socket.AF_INET, "
                                   f"socket.SOCK_DGRAM); s.bind(('127.0.0.1', {port})); time.sleep(5)")
    try:
        await run.listening(port, timeout=10)
        assert peers.udp_port_bound(port) and run.process.returncode is None
    finally:
        run.kill()
        await run.process.wait()


async def test_listening_returns_when_the_peer_exits_and_fails_when_it_never_binds(tmp_path) -> None:
    exited = await _process(tmp_path, "raise SystemExit(3)")
    await exited.listening(peers.free_udp_port(), timeout=10)
    assert await exited.finished(5) == 3
    silent = await _process(tmp_path, "import time; time.sleep(5)")
    try:
        with pytest.raises(SandboxError, match="did not bind"):
            await silent.listening(peers.free_udp_port(), timeout=0.3)
    finally:
        silent.kill()
        await silent.process.wait()
