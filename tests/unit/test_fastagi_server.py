"""The FastAGI server on a real socket, with this test playing Asterisk's side."""

from __future__ import annotations

import asyncio

import pytest

from hotline_link.asterisk.agi.server import AgiSession, FastAgiServer
from tests.helpers import free_tcp_port

HEADER = b"agi_network: yes\nagi_network_script: route\nagi_arg_1: 12345\nagi_uniqueid: u1\n\n"


@pytest.fixture
async def agi_server():
    server = FastAgiServer("127.0.0.1", free_tcp_port())
    await server.start()
    yield server
    await server.stop()


async def _open(server):
    return await asyncio.open_connection(server.host, server.port)


async def test_route_gets_args_and_sets_a_variable(agi_server):
    seen = asyncio.get_running_loop().create_future()

    async def route(session: AgiSession) -> None:
        linkedid = await session.get_variable("CHANNEL(linkedid)")
        await session.set_variable("ROUTE_TARGET", "PJSIP/1001")
        seen.set_result((session.request.args, linkedid))

    agi_server.add_route("route", route)
    reader, writer = await _open(agi_server)
    writer.write(HEADER)
    assert await reader.readline() == b"GET VARIABLE CHANNEL(linkedid)\n"
    writer.write(b"200 result=1 (hl12345-1.1)\n")
    assert await reader.readline() == b'SET VARIABLE ROUTE_TARGET "PJSIP/1001"\n'
    writer.write(b"100 Trying...\n200 result=1\n")
    assert await asyncio.wait_for(seen, 5) == (("12345",), "hl12345-1.1")
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed: the dialplan goes on
    writer.close()


@pytest.mark.parametrize("payload", [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"agi_network_script: nowhere\n\n",
    b"agi_network_script: route\n",  # peer closes before the header ends
    b"\x00\xff" * 3000 + b"\n\n",
])
async def test_bad_peers_are_dropped_and_the_server_keeps_serving(agi_server, payload):
    called = asyncio.Event()

    async def route(session: AgiSession) -> None:
        called.set()

    agi_server.add_route("route", route)
    reader, writer = await _open(agi_server)
    writer.write(payload)
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    assert not called.is_set()
    reader, writer = await _open(agi_server)
    writer.write(HEADER)
    await asyncio.wait_for(called.wait(), 5)
    writer.close()


async def test_a_failing_handler_closes_the_socket(agi_server):
    async def route(session: AgiSession) -> None:
        raise RuntimeError("bug")

    agi_server.add_route("route", route)
    reader, writer = await _open(agi_server)
    writer.write(HEADER)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_past_the_session_limit_a_connection_is_closed_and_the_others_carry_on():
    server = FastAgiServer("127.0.0.1", free_tcp_port(), max_sessions=2)
    release = asyncio.Event()

    async def route(session: AgiSession) -> None:
        await release.wait()

    server.add_route("route", route)
    await server.start()
    try:
        held = [await _open(server) for _ in range(2)]
        for _, writer in held:
            writer.write(HEADER)
            await writer.drain()
        for _ in range(100):  # both sessions registered (no event to await from outside)
            if len(server._sessions) == 2:
                break
            await asyncio.sleep(0.01)
        reader, writer = await _open(server)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed at once
        release.set()
        await asyncio.sleep(0)
    finally:
        await server.stop()
