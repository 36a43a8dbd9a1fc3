"""Faults the chaos run and the fault tests inject on the sandbox, for real:

- ``TcpProxy``: a TCP link that can be cut (every connection reset, the port closed) and
  restored, e.g. the server's AMI connection to a site;
- ``TrunkCut``: the SIP trunk between two sites down, both ways: nftables drops every UDP
  datagram between their SIP ports and RTP ranges (a network partition, not a stopped
  Asterisk). Needs root and nftables (``make install``).

Dev tools: the product never imports this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess

from hotline_link.core.errors import SandboxError
from hotline_link.core.settings import SiteSettings


def free_tcp_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TcpProxy:
    """Forwards 127.0.0.1:port to a target; ``cut()`` kills every connection and stops
    listening (a real TCP failure for the client), ``restore()`` listens again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_tcp_port()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:  # the target is down (a server being restarted): the client sees a reset
            writer.close()
            return
        self._writers |= {writer, up_writer}
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(src, dst))
            self._pumps.add(task)
            task.add_done_callback(self._pumps.discard)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        dst.close()

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def close(self) -> None:
        await self.cut()
        for task in list(self._pumps):
            task.cancel()



NFT_TABLE = "hotline_link_chaos"


class TrunkCut:
    """``cut()`` drops all UDP between two sites (SIP and RTP, both ways); ``restore()``
    removes the rule. Also a context manager; ``restore`` is safe to call twice."""

    def __init__(self, a: SiteSettings, b: SiteSettings) -> None:
        self.a, self.b = a, b

    @staticmethod
    def _nft(script: str) -> None:
        if shutil.which("nft") is None:
            raise SandboxError("nft is not installed (Debian package nftables); run 'make install'")
        done = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True, timeout=10)
        if done.returncode != 0:
            raise SandboxError(f"nft failed: {done.stderr.strip()[:200]}")

    def ruleset(self) -> str:
        def ports(site: SiteSettings) -> str:
            return f"{{ {site.sip_port}, {site.rtp_start}-{site.rtp_end} }}"

        rules = "".join(f"    udp sport {ports(src)} udp dport {ports(dst)} drop\n"
                        for src, dst in ((self.a, self.b), (self.b, self.a)))
        return (f"table inet {NFT_TABLE} {{\n  chain output {{\n"
                f"    type filter hook output priority 0; policy accept;\n{rules}  }}\n}}\n")

    def cut(self) -> None:
        self.restore()
        self._nft(self.ruleset())

    def restore(self) -> None:
        """The rule gone (no table left: nothing to do)."""
        if shutil.which("nft") is not None:
            subprocess.run(["nft", "delete", "table", "inet", NFT_TABLE], capture_output=True, timeout=10)

    def __enter__(self) -> TrunkCut:
        self.cut()
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()
