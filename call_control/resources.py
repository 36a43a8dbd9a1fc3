"""HTTP resources of call control: thin handlers over the transfer and conference
services. An agent's token reaches only that agent's calls."""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from aiohttp import WSMsgType, web

from call_control.errors import (
    CallControlError,
    CallNotFound,
    ConferenceExists,
    OperationInProgress,
)
from call_control.keys import AGENT_EVENTS, CALLS, CONFERENCES, CONSULTS, TRANSFERS
from call_control.schema import (
    ActiveCall,
    ActiveCalls,
    AgentCall,
    AgentCallTicket,
    CallStory,
    CallStoryEvent,
    TargetBody,
)
from call_control.screen_reads import ScreenReads
from hotline_link.core.errors import TooManyStreams
from hotline_link.core.logs import mask_number
from hotline_link.web.bodies import read_body, reply
from hotline_link.web.http import SETTINGS, principal_of
from linkage.keys import LINKAGE
from tickets.access import LOOP_LEG_PREFIX, READERS, require_platform
from tickets.keys import RECOMMENDER, TICKETS, TIMELINE

log = structlog.get_logger(__name__)

WAIT_MODES = ("answer", "ring", "none")


MAX_AGENT_SOCKETS = 2000  # agent desktops connected at once to one server
MAX_AGENT_MESSAGE_BYTES = 4096

def _agent_of_call(request: web.Request, call_id: str) -> str:
    """The agent acting on the call: the token's own agent (supervisors name one with ?agent=)."""
    principal = principal_of(request)
    agent = principal.agent if principal.role == "agent" else request.query.get("agent", "")
    if not agent:
        raise CallControlError("name the agent acting on the call with ?agent=")
    principal.require_agent(agent)
    request.app[CALLS].book.on_call(call_id, agent)
    return agent


async def get_agent_call(request: web.Request) -> web.Response:
    agent = request.match_info["agent"]
    principal_of(request).require_agent(agent)
    site = request.app[SETTINGS].site_of_agent(agent)
    call = request.app[CALLS].book.of_agent(site.id, agent) if site else None
    if call is None:
        raise CallNotFound(f"agent {agent} is on no call")
    ticket = await request.app[TICKETS].for_call(call.call_id)
    conference = request.app[CONFERENCES].of_call(call.call_id)
    return reply(AgentCall(
        call_id=call.call_id, site=call.site, caller=mask_number(call.caller),
        state="conference" if conference else ("talking" if call.answered_by else "ringing"),
        ticket_id=ticket.id if ticket else None,
        ticket=None if ticket is None else AgentCallTicket(
            id=ticket.id, category=ticket.category, summary=ticket.summary,
            source_platform=ticket.source_platform or None,
            source_ticket=ticket.source_ticket or None)))


async def get_agent_screen(request: web.Request) -> web.Response:
    agent = request.match_info["agent"]
    principal_of(request).require_agent(agent)
    site = request.app[SETTINGS].site_of_agent(agent)
    call = request.app[CALLS].book.of_agent(site.id, agent) if site else None
    if call is None:
        raise CallNotFound(f"agent {agent} is on no call")
    linkage = request.app.get(LINKAGE)
    reads = ScreenReads(request.app[TICKETS], request.app[TIMELINE], request.app[RECOMMENDER],
                        linkage.records if linkage is not None else None)
    in_conference = request.app[CONFERENCES].of_call(call.call_id) is not None
    return reply(await reads.screen(call, agent, in_conference=in_conference, now=time.time()))


async def post_transfer(request: web.Request) -> web.Response:
    call_id = request.match_info["call_id"]
    body = await read_body(request, TargetBody)
    wait = request.query.get("wait", "answer")
    if wait not in WAIT_MODES:
        raise CallControlError(f"wait must be one of {', '.join(WAIT_MODES)}")
    agent = _agent_of_call(request, call_id)
    if request.app[CONFERENCES].of_call(call_id) is not None:
        raise ConferenceExists(f"call {call_id} is a three-way call: leave it instead of transferring")
    _no_consult(request, call_id)
    transfer = await request.app[TRANSFERS].blind_transfer(
        call_id, agent, body.target, wait=wait, category=body.category, summary=body.summary)
    status = 200 if transfer.state.final else 202
    return reply(transfer.view(), status=status)


def _no_consult(request: web.Request, call_id: str) -> None:
    """While the agent consults, the caller is on hold: finish that first."""
    if request.app[CONSULTS].of_call(call_id) is not None:
        raise OperationInProgress(f"call {call_id} has a consult under way: complete or cancel it first")


async def post_consult(request: web.Request) -> web.Response:
    call_id = request.match_info["call_id"]
    body = await read_body(request, TargetBody)
    agent = _agent_of_call(request, call_id)
    if request.app[CONFERENCES].of_call(call_id) is not None:
        raise ConferenceExists(f"call {call_id} is a three-way call: leave it instead of consulting")
    consult = await request.app[CONSULTS].start(call_id, agent, body.target, category=body.category,
                                                summary=body.summary)
    return reply(consult.view(), status=200 if consult.state.value == "talking" else 202)


async def post_consult_complete(request: web.Request) -> web.Response:
    call_id = request.match_info["call_id"]
    consult = await request.app[CONSULTS].complete(call_id, _agent_of_call(request, call_id))
    return reply(consult.view())


async def post_consult_cancel(request: web.Request) -> web.Response:
    call_id = request.match_info["call_id"]
    consult = await request.app[CONSULTS].cancel(call_id, _agent_of_call(request, call_id))
    return reply(consult.view())


async def post_conference(request: web.Request) -> web.Response:
    call_id = request.match_info["call_id"]
    body = await read_body(request, TargetBody)
    wait = request.query.get("wait", "true") != "false"
    agent = _agent_of_call(request, call_id)
    _no_consult(request, call_id)
    conference = await request.app[CONFERENCES].start(call_id, agent, body.target, wait=wait,
                                                      category=body.category, summary=body.summary)
    return reply(conference.view(), status=200 if conference.state == "joined" else 202)


async def get_conference(request: web.Request) -> web.Response:
    call_id = request.match_info["call_id"]
    _agent_of_call(request, call_id)
    conference = request.app[CONFERENCES].of_call(call_id)
    if conference is None:
        raise CallNotFound(f"call {call_id} has no three-way call")
    return reply(conference.view())


async def delete_conference_party(request: web.Request) -> web.Response:
    call_id, party = request.match_info["call_id"], request.match_info["party"]
    agent = _agent_of_call(request, call_id)
    conference = await request.app[CONFERENCES].leave(call_id, agent, party)
    return reply(conference.view(), status=202)


async def agent_events(request: web.Request) -> web.WebSocketResponse:
    agent = request.match_info["agent"]
    principal_of(request).require_agent(agent)
    events = request.app[AGENT_EVENTS]
    if events.open_count() >= MAX_AGENT_SOCKETS:
        raise TooManyStreams(f"{MAX_AGENT_SOCKETS} agent event sockets are open; try again later")
    # the server only sends on this socket: what a desktop sends is read and dropped, so a
    # message from it has no business being large
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_AGENT_MESSAGE_BYTES)
    await ws.prepare(request)
    queue = events.open(agent)

    async def pump() -> None:
        while True:
            event = await queue.get()
            try:
                message = await events.message(event)
            except Exception:  # e.g. Redis away: send the event without its ticket
                log.exception("agent_events.enrich_failed", agent=agent, ws_event=event.name)
                message = {"type": event.name.replace(".", "_"), **event.data}
                if "caller" in message:
                    message["caller"] = mask_number(str(message["caller"]))
            await ws.send_json(message)

    sender = asyncio.create_task(pump())
    try:
        async for message in ws:
            if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                break
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sender
        events.close(agent, queue)
    return ws


async def list_calls(request: web.Request) -> web.Response:
    principal_of(request).require_role("supervisor", "admin")
    calls = [ActiveCall(call_id=c.call_id, site=c.site, caller=mask_number(c.caller),
                        answered_by=c.answered_by, started_at=c.started_at)
             for c in request.app[CALLS].book.active()]
    return reply(ActiveCalls(calls=calls))


async def call_story(request: web.Request) -> web.Response:
    principal_of(request).require_role(*READERS)
    call_id = request.match_info["call_id"]
    events = await request.app[TIMELINE].for_call(call_id)
    if not events:
        raise CallNotFound(f"no call {call_id} on record")
    ticket = await request.app[TICKETS].for_call(call_id)
    if ticket is None and call_id.startswith(LOOP_LEG_PREFIX):  # a ticket's closed loop
        ticket = await request.app[TICKETS].get(call_id.removeprefix(LOOP_LEG_PREFIX))
    # the call's platform: its ticket's, else the site its own events name
    platform = ticket.site if ticket else next(
        (str(e["data"]["site"]) for e in events if isinstance(e.get("data"), dict) and e["data"].get("site")), None)
    require_platform(request, platform, f"call {call_id}")
    return reply(CallStory(call_id=call_id, ticket_id=ticket.id if ticket else None,
                           active=request.app[CALLS].book.find(call_id) is not None,
                           events=[CallStoryEvent.model_validate(event) for event in events]))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/calls/{call_id}", call_story)
    app.router.add_get("/api/calls", list_calls)
    app.router.add_get("/api/agents/{agent}/call", get_agent_call)
    app.router.add_get("/api/agents/{agent}/screen", get_agent_screen)
    app.router.add_get("/api/agents/{agent}/events", agent_events)
    app.router.add_post("/api/calls/{call_id}/transfer", post_transfer)
    app.router.add_post("/api/calls/{call_id}/consult", post_consult)
    app.router.add_post("/api/calls/{call_id}/consult/complete", post_consult_complete)
    app.router.add_post("/api/calls/{call_id}/consult/cancel", post_consult_cancel)
    app.router.add_post("/api/calls/{call_id}/conference", post_conference)
    app.router.add_get("/api/calls/{call_id}/conference", get_conference)
    app.router.add_delete("/api/calls/{call_id}/conference/{party}", delete_conference_party)
