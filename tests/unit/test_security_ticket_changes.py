"""Only a supervisor may clear ``restricted`` on a ticket, and every change of a ticket's
fields is on its timeline (``ticket.updated``) with who made it. A real aiohttp server with
a stand-in ticket store; the bus is real."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

from aiohttp.test_utils import TestClient, TestServer

from hotline_link.core.bus import EventBus
from hotline_link.core.settings import Settings
from hotline_link.web.auth import Principal, TokenBook
from tests.helpers import web_app_of
from tickets.changes import changed_fields
from tickets.store import Ticket

TICKET = Ticket(id="110-20261206-000009", site="110", call_id="hl110-1.1", category="涉稳",
                summary="聚集", restricted=True)
TOKENS = {"agent": ("agent-2001-token-0123456789", Principal("agent", "2001")),
          "supervisor": ("supervisor-token-0123456789", Principal("supervisor"))}


async def _client() -> tuple[TestClient, list]:
    stored = {"ticket": TICKET}
    bus, seen = EventBus(), []
    bus.listen(lambda e: seen.append((e.name, e.data)))

    async def get(ticket_id):
        return stored["ticket"] if ticket_id == TICKET.id else None

    async def update(ticket, **changes):
        stored["ticket"] = replace(ticket, **{k: v for k, v in changes.items() if v is not None})
        return stored["ticket"]

    server = SimpleNamespace(tokens=TokenBook(TOKENS.values()), settings=Settings(ami_secret="x"),
                             tickets=SimpleNamespace(get=get, update=update), bus=bus)
    client = TestClient(TestServer(web_app_of(server)))
    await client.start_server()
    return client, seen


def _auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role][0]}"}


async def test_an_agent_cannot_clear_restricted_and_a_supervisor_can_with_a_trace():
    client, seen = await _client()
    try:
        resp = await client.patch(f"/api/tickets/{TICKET.id}", json={"restricted": False}, headers=_auth("agent"))
        assert resp.status == 403 and seen == []
        resp = await client.patch(f"/api/tickets/{TICKET.id}", json={"summary": "聚集，已疏散"}, headers=_auth("agent"))
        assert resp.status == 200 and (await resp.json())["restricted"] is True
        assert seen[-1] == ("ticket.updated", {"ticket_id": TICKET.id, "call_id": TICKET.call_id, "site": "110",
                                               "by": "2001", "changes": {"summary": "聚集，已疏散"}})
        resp = await client.patch(f"/api/tickets/{TICKET.id}", json={"restricted": False}, headers=_auth("supervisor"))
        assert resp.status == 200 and (await resp.json())["restricted"] is False
        assert seen[-1][1]["by"] == "supervisor" and seen[-1][1]["changes"] == {"restricted": False}
        resp = await client.patch(f"/api/tickets/{TICKET.id}", json={"restricted": True}, headers=_auth("agent"))
        assert resp.status == 200  # marking restricted stays open to agents
    finally:
        await client.close()


def test_only_real_changes_are_traced_and_long_text_is_cut():
    after = replace(TICKET, summary="x" * 500, category=TICKET.category)
    assert changed_fields(TICKET, after) == {"summary": "x" * 200}
    assert changed_fields(TICKET, TICKET) == {}
