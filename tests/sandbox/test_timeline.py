"""A case's whole story after a real transfer from 12345 to 110: both platforms' calls,
the transfer, and who answered first (首接), from the Redis Streams log."""

from __future__ import annotations

from tests.helpers import is_event
from tests.sandbox.callflows import Api, answered_call, online_agent
from tickets.keys import TIMELINE


async def test_timeline_of_a_transferred_case_spans_both_platforms(cc_server, softphones, peers):
    server, api = cc_server, Api(cc_server)
    with server.bus.subscribe() as events:
        agent = await online_agent(server, softphones, peers, "12345", "1007")
        await online_agent(server, softphones, peers, "110", "2007")
        call = await answered_call(server, events, peers, agent, "12345", "13912120000", 2000)
        status, body = await api.request("POST", f"/api/calls/{call.call_id}/transfer", "1007",
                                         json={"target": "110", "summary": "求助"})
        assert status == 200, body
        received = await events.wait_for(is_event("ticket.received", site="110"), 10)
        ended = await events.wait_for(lambda e: e.name == "call.ended" and e.data["site"] == "110", 15)
    assert await call.caller.finished(10) == 0
    await server[TIMELINE].flush()

    status, story = await api.request("GET", f"/api/tickets/{body['ticket_id']}/timeline", role="supervisor")
    assert status == 200, story
    assert story["related_tickets"] == [received.data["ticket_id"]]
    assert story["first_answered"]["site"] == "12345"
    assert story["first_answered"]["agent"] == "PJSIP/1007"
    names = [(e["event"], e["data"].get("site")) for e in story["events"]]
    for expected in [("call.started", "12345"), ("call.answered", "12345"), ("transfer.answered", None),
                     ("call.started", "110"), ("ticket.received", "110"), ("call.answered", "110"),
                     ("call.ended", "110")]:
        assert any(n == expected[0] and (expected[1] is None or s == expected[1]) for n, s in names), expected
    times = [e["at"] for e in story["events"]]
    assert times == sorted(times)
    assert "13912120000" not in str(story)  # masked at rest too

    status, story_110 = await api.request("GET", f"/api/tickets/{received.data['ticket_id']}/timeline",
                                          "2007")
    assert status == 200 and story_110["related_tickets"] == [body["ticket_id"]]
    status, call_story = await api.request("GET", f"/api/calls/{ended.data['call_id']}", role="supervisor")
    assert status == 200 and call_story["ticket_id"] == received.data["ticket_id"]
    assert call_story["active"] is False
