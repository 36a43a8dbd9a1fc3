"""The FastAGI server: Asterisk's ``AGI(agi://host:port/route,args)`` lands here.

Written on asyncio streams rather than panoramisk's FastAGI app, which spins when a peer
closes before the header ends and matches routes with the query string attached.
A route handler gets an ``AgiSession``; when it returns (or fails) the socket is closed
and the dialplan goes on, so a failing handler never holds a call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from hotline_link.asterisk.agi.protocol import (
    MAX_HEADER_BYTES,
    MAX_LINE_BYTES,
    AgiReply,
    AgiRequest,
    parse_reply,
    parse_request_header,
    set_variable_command,
)
from hotline_link.core.errors import AgiProtocolError
from hotline_link.core.tasks import cancel_and_wait

log = structlog.get_logger(__name__)

HEADER_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 10.0


class AgiSession:
    def __init__(self, request: AgiRequest, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.request = request
        self._reader = reader
        self._writer = writer
        self.hung_up = False  # Asterisk said HANGUP: the caller is gone

    async def command(self, command: str) -> AgiReply:
        self._writer.write(command.encode("utf-8") + b"\n")
        await self._writer.drain()
        while True:
            line = await asyncio.wait_for(self._reader.readline(), COMMAND_TIMEOUT_S)
            if not line:
                raise AgiProtocolError("channel hung up during an AGI command")
            if line.strip() == b"HANGUP":  # FastAGI's unsolicited notice, before any reply
                self.hung_up = True
                continue
            reply = parse_reply(line)
            if reply.code != 100:  # "100 Trying..." precedes the real answer
                return reply

    async def alive(self) -> bool:
        """Is the caller still on the channel? (CHANNEL STATUS: 511 once it hung up.)"""
        if self.hung_up:
            return False
        try:
            reply = await self.command("CHANNEL STATUS")
        except (TimeoutError, AgiProtocolError, ConnectionError):
            self.hung_up = True
            return False
        self.hung_up = self.hung_up or reply.code != 200
        return not self.hung_up

    async def get_variable(self, name: str) -> str:
        reply = await self.command(f"GET VARIABLE {name}")
        return reply.data if reply.result == 1 else ""

    async def get_full_variable(self, expression: str) -> str:
        """Evaluate a dialplan expression (``${A};${B}``) on the channel in one round trip."""
        reply = await self.command(f"GET FULL VARIABLE {expression}")
        return reply.data if reply.result == 1 else ""

    async def set_variable(self, name: str, value: str) -> None:
        reply = await self.command(set_variable_command(name, value))
        if not reply.ok:
            raise AgiProtocolError(f"SET VARIABLE {name} refused: {reply.text}")


AgiHandler = Callable[[AgiSession], Awaitable[None]]


async def read_header(reader: asyncio.StreamReader) -> bytes:
    block = bytearray()
    while True:
        line = await reader.readline()
        if not line:
            raise AgiProtocolError("peer closed before the AGI header ended")
        if len(line) > MAX_LINE_BYTES or len(block) + len(line) > MAX_HEADER_BYTES:
            raise AgiProtocolError("AGI header too long")
        if line in (b"\n", b"\r\n"):
            return bytes(block)
        block += line


class FastAgiServer:
    """``max_sessions`` bounds the sessions at once (a caller waiting in the queue holds
    one): past it a connection is closed at once, and the dialplan's fallback rings every
    seat, so a flood of connections from a local process cannot exhaust the server."""

    def __init__(self, host: str, port: int, max_sessions: int = 2000) -> None:
        self.host = host
        self.port = port
        self.max_sessions = max_sessions
        self.routes: dict[str, AgiHandler] = {}
        self._server: asyncio.base_events.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()

    def add_route(self, name: str, handler: AgiHandler) -> None:
        if name in self.routes:
            raise ValueError(f"AGI route {name!r} already exists")
        self.routes[name] = handler

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port,
                                                  limit=MAX_LINE_BYTES * 2)
        log.info("agi.listening", host=self.host, port=self.port)

    async def stop(self) -> None:
        """Stop listening and end the sessions in progress (a caller waiting in the queue):
        their channels go on in the dialplan's fallback, and nothing they would publish
        reaches services that are stopping after this."""
        if self._server is not None:
            self._server.close()
            await cancel_and_wait(list(self._sessions))
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._sessions) >= self.max_sessions:
            log.warning("agi.session_limit", sessions=len(self._sessions))
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._sessions.add(task)
            task.add_done_callback(self._sessions.discard)
        try:
            block = await asyncio.wait_for(read_header(reader), HEADER_TIMEOUT_S)
            request = parse_request_header(block)
            handler = self.routes.get(request.script)
            if handler is None:
                raise AgiProtocolError(f"no AGI route {request.script!r}")
            await handler(AgiSession(request, reader, writer))
        except (AgiProtocolError, ValueError) as exc:
            log.warning("agi.request_refused", reason=str(exc))
        except (TimeoutError, ConnectionError) as exc:
            log.warning("agi.request_aborted", reason=type(exc).__name__)
        except Exception:
            log.exception("agi.handler_failed")
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
