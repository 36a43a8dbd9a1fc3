"""Building blocks for call-control tests: an answered call, an API client with a token."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from devtools.sip.contacts import wait_reachable
from devtools.sip.peers import SippRun
from hotline_link.core.settings import read_toml_private
from hotline_link.web.auth import sandbox_token
from seat_pool.keys import SEAT_REGISTRY
from seat_pool.state import SeatState
from tests.helpers import is_event


@dataclass
class Api:
    server: Any

    @property
    def base(self) -> str:
        return f"http://{self.server.settings.http_host}:{self.server.settings.http_port}"

    def token(self, agent: str = "", role: str = "agent") -> str:
        return sandbox_token(self.server.settings.tokens_path, role=role, agent=agent)

    async def request(self, method: str, path: str, agent: str = "", *, role: str = "agent",
                      json: Any = None, token: str | None = None) -> tuple[int, Any]:
        bearer = self.token(agent, role) if token is None else token
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        async with aiohttp.ClientSession() as http:
            async with http.request(method, self.base + path, json=json, headers=headers) as resp:
                if resp.content_type != "application/json":
                    return resp.status, await resp.read()  # e.g. a voice note (audio/wav)
                return resp.status, await resp.json()


def fresh_number() -> str:
    """A caller number no earlier run used: a repeat caller would be screened (harassment)."""
    return f"138{time.time_ns() // 1000 % 10**8:08d}"


@dataclass
class AnsweredCall:
    call_id: str
    caller: SippRun
    agent: SippRun


async def online_agent(server, softphones, peers, site_id: str, agent: str, *, calls: int = 1,
                       ring_ms: int = 200, busy: bool = False) -> SippRun:
    site = server.settings.site(site_id)
    port = await softphones.register(site, agent)
    await server[SEAT_REGISTRY].wait_for_state(site_id, agent, SeatState.IDLE, 10)
    if busy:
        run = await peers.busy(site, agent, port, calls=calls)
    else:
        run = await peers.answer(site, agent, port, calls=calls, ring_ms=ring_ms)
    await wait_reachable(server.ami.send, site_id, agent)
    return run


async def answered_call(server, events, peers, agent_run: SippRun, site_id: str, caller: str,
                        hold_ms: int) -> AnsweredCall:
    site = server.settings.site(site_id)
    run = await peers.call(site, caller, site.intake, hold_ms=hold_ms)
    started = await events.wait_for(is_event("call.started", site=site_id, caller=caller), 10)
    call_id = started.data["call_id"]
    await events.wait_for(is_event("call.answered", call_id=call_id), 10)
    return AnsweredCall(call_id, run, agent_run)


def tokens_with_units(path: Path, sandbox_tokens: Path, units: Mapping[str, str]) -> Path:
    """A tokens file (mode 600) holding the sandbox's tokens plus a unit token for each
    ``{token: unit id}``: the sandbox itself mints none."""
    lines = []
    for item in read_toml_private(sandbox_tokens).get("tokens", []):
        lines += ["[[tokens]]", f'token = "{item["token"]}"', f'role = "{item["role"]}"']
        if item.get("agent"):
            lines.append(f'agent = "{item["agent"]}"')
        if item.get("channel"):
            lines.append(f'channel = "{item["channel"]}"')
    for token, unit in units.items():
        lines += ["[[tokens]]", f'token = "{token}"', 'role = "unit"', f'unit = "{unit}"']
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


async def recordings_of(api: Api, ticket_id: str, parts: int = 1) -> list[dict]:
    """The ticket's recordings once each has its length (written when its channel hangs up)."""
    body: dict = {}
    for _ in range(50):
        status, body = await api.request("GET", f"/api/tickets/{ticket_id}/recordings", role="supervisor")
        assert status == 200, body
        if len(body["recordings"]) >= parts and all(r["seconds"] > 0 for r in body["recordings"]):
            return body["recordings"]
        await asyncio.sleep(0.2)
    raise AssertionError(f"ticket {ticket_id}: recordings {body}")
