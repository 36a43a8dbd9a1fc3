"""Test helpers shared by the sandbox tests: a cuttable TCP proxy and state waits."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from hotline_link.bus import BusEvent


def free_tcp_port() -> int:
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
        up_reader, up_writer = await asyncio.open_connection(*self.target)
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


def is_event(name: str, **fields: object):  # type: ignore[no-untyped-def]
    def predicate(event: BusEvent) -> bool:
        return event.name == name and all(event.data.get(k) == v for k, v in fields.items())
    return predicate



async def hangup_everything(server) -> None:  # type: ignore[no-untyped-def]
    """Leave no channel behind for the next test, whatever this one did."""
    for site in server.ami.sites:
        channels = await server.ami.send_list(site, {"Action": "CoreShowChannels"})
        for channel in channels:
            with contextlib.suppress(Exception):
                await server.ami.send(site, {"Action": "Hangup", "Channel": channel["Channel"]})
