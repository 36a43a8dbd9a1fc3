"""Cross-platform reads: an agent reads its own platform's calls and tickets only. Every
GET route that names a call or a ticket is walked with an agent of the other platform,
on a real aiohttp server with a stand-in holding one 12345 call and ticket."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer

from call_control.calls import CallBook
from hotline_link.core.settings import Settings
from hotline_link.web.auth import Principal, TokenBook
from tests.helpers import web_app_of
from tickets.store import Ticket

TICKET = Ticket(id="12345-20261206-000001", site="12345", call_id="hl12345-1.1", category="噪音",
                summary="楼上装修", caller="13812345678")
TOKENS = {"1001": ("agent-1001-token-0123456789", Principal("agent", "1001")),   # 12345
          "2001": ("agent-2001-token-0123456789", Principal("agent", "2001"))}   # 110


def _stand_in() -> SimpleNamespace:
    async def get(ticket_id):
        return TICKET if ticket_id == TICKET.id else None

    async def for_call(call_id):
        return TICKET if call_id == TICKET.call_id else None

    async def events_of(call_id):
        # the shape of TicketTimeline.for_call: the event's fields are under "data"
        return [{"id": "1-0", "event": "call.started", "at": 1.0,
                 "data": {"site": "12345", "call_id": call_id}}]

    async def story(ticket_id):
        return {"ticket": TICKET, "related_tickets": [], "first_answered": None, "events": []}

    async def no_note(ticket_id, name):
        return None

    return SimpleNamespace(
        tokens=TokenBook(TOKENS.values()), settings=Settings(ami_secret="x"),
        tickets=SimpleNamespace(get=get, for_call=for_call),
        timeline=SimpleNamespace(for_call=events_of, for_ticket=story),
        calls=SimpleNamespace(book=CallBook()),  # no active call
        conferences=SimpleNamespace(of_call=lambda call_id: None),
        feedback_line=SimpleNamespace(note_path=no_note), linkage=None)


def _named_routes() -> list[str]:
    app = web_app_of(_stand_in())
    paths = []
    for route in app.router.routes():
        info = route.resource.get_info()
        template = info.get("path") or info.get("formatter") or ""
        if route.method == "GET" and ("{call_id}" in template or "{ticket_id}" in template):
            path = template.replace("{ticket_id}", TICKET.id).replace("{call_id}", TICKET.call_id)
            paths.append(re.sub(r"\{[a-z_]+\}", "x1", path))
    return paths


NAMED = _named_routes()


def test_the_walk_found_the_call_and_ticket_routes():
    assert {f"/api/calls/{TICKET.call_id}", f"/api/tickets/{TICKET.id}/timeline",
            f"/api/tickets/{TICKET.id}/dispatch"} <= set(NAMED)


@pytest.mark.parametrize("path", NAMED + [f"/api/calls/linkage-{TICKET.id}"])
async def test_an_agent_of_the_other_platform_reads_nothing(path):
    client = TestClient(TestServer(web_app_of(_stand_in())))
    await client.start_server()
    try:
        resp = await client.get(path, headers={"Authorization": f"Bearer {TOKENS['2001'][0]}"})
        # refused, or (a live-call route) not found for this agent: nothing is read either way
        assert resp.status in (403, 404), (path, await resp.text())
        assert set(await resp.json()) == {"error"}
    finally:
        await client.close()


async def test_an_agent_of_the_platform_reads_its_call():
    client = TestClient(TestServer(web_app_of(_stand_in())))
    await client.start_server()
    try:
        for path in (f"/api/calls/{TICKET.call_id}", f"/api/tickets/{TICKET.id}/timeline"):
            resp = await client.get(path, headers={"Authorization": f"Bearer {TOKENS['1001'][0]}"})
            assert resp.status == 200, (path, await resp.text())
    finally:
        await client.close()


async def test_a_call_without_a_ticket_is_read_by_its_sites_agents_only():
    """A call that never got a ticket (hung up in the queue): its platform is the site its
    own events name, under each event's data."""
    client = TestClient(TestServer(web_app_of(_stand_in())))
    await client.start_server()
    try:
        mine = await client.get("/api/calls/hl12345-9.9", headers={"Authorization": f"Bearer {TOKENS['1001'][0]}"})
        assert mine.status == 200, await mine.text()
        assert (await mine.json())["ticket_id"] is None
        other = await client.get("/api/calls/hl12345-9.9", headers={"Authorization": f"Bearer {TOKENS['2001'][0]}"})
        assert other.status == 403
    finally:
        await client.close()
