"""HTTP resources of tickets: a ticket's story and fields, system push, the classifier."""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web

from hotline_link.core.settings import push_secret_key
from hotline_link.web.auth import Forbidden
from hotline_link.web.bodies import read_body, reply
from hotline_link.web.http import BUS, SETTINGS, principal_of
from tickets.access import READERS, ticket_of
from tickets.changes import publish_changes
from tickets.errors import TicketError
from tickets.keys import PUSH, RECOMMENDER, TICKETS, TIMELINE
from tickets.push_policy import PushRefused, parse_payload
from tickets.schema import (
    Classification,
    ClassifyBody,
    PushBody,
    PushQueued,
    PushReceived,
    PushStats,
    TicketChanges,
    TicketStory,
    TicketView,
)
from tickets.signing import verify


async def ticket_timeline(request: web.Request) -> web.Response:
    ticket = await ticket_of(request)
    story = await request.app[TIMELINE].for_ticket(ticket.id)
    assert story is not None  # ticket_of found the ticket
    return reply(TicketStory(ticket=TicketView.of(story["ticket"]), related_tickets=story["related_tickets"],
                             first_answered=story["first_answered"], events=story["events"]))


async def patch_ticket(request: web.Request) -> web.Response:
    ticket = await ticket_of(request)
    changes = (await read_body(request, TicketChanges)).model_dump(exclude_unset=True)
    principal = principal_of(request)
    if ticket.restricted and changes.get("restricted") is False and principal.role not in ("supervisor", "admin"):
        raise Forbidden(f"only a supervisor may clear restricted on ticket {ticket.id}")
    if changes.get("tags") is not None:  # kept once each, in the order given
        changes["tags"] = tuple(dict.fromkeys(tag.strip() for tag in changes["tags"] if tag.strip()))
    updated = await request.app[TICKETS].update(ticket, **changes)
    publish_changes(request.app[BUS], ticket, updated, by=principal.agent or principal.role)
    return reply(TicketView.of(updated))


async def push_ticket(request: web.Request) -> web.Response:
    ticket = await ticket_of(request)
    body = await read_body(request, PushBody)
    payload = await request.app[PUSH].push(ticket.id, body.target)
    return reply(PushQueued(push_id=payload.push_id, state="queued", bounced=payload.bounced,
                            emergency=payload.emergency), status=202)


async def receive_push(request: web.Request) -> web.Response:
    """The other platform's pushes land here: signed, not token-authenticated."""
    settings = request.app[SETTINGS]
    raw = await request.read()
    try:
        claimed = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise TicketError("the push body is not JSON") from None
    if not isinstance(claimed, dict):
        raise TicketError("the push body must be a JSON object")
    source, target = str(claimed.get("from_platform", ""))[:16], str(claimed.get("to_platform", ""))[:16]
    if target not in settings.platform_ids:
        raise PushRefused(f"this server is not platform {target!r}")
    # the direction's own secret: a body signed for another direction does not verify
    verify(settings.push_secrets.get(push_secret_key(source, target), ""),
           request.headers.get("X-HL-Timestamp", ""), request.headers.get("X-HL-Signature", ""), raw, time.time())
    payload = parse_payload(claimed)
    ticket_id, duplicate = await request.app[PUSH].receive(payload)
    return reply(PushReceived(ticket_id=ticket_id, duplicate=duplicate), status=200 if duplicate else 201)


async def push_stats(request: web.Request) -> web.Response:
    principal_of(request).require_role("supervisor", "admin")
    return reply(PushStats.model_validate(await request.app[PUSH].stats()))


async def classify(request: web.Request) -> web.Response:
    principal_of(request).require_role(*READERS)
    body = await read_body(request, ClassifyBody)
    recommender = await request.app[RECOMMENDER].get()
    result = await asyncio.to_thread(recommender.recommend, body.text[:2000])
    return reply(Classification.model_validate(result.as_dict()))


def add_routes(app: web.Application) -> None:
    app.router.add_patch("/api/tickets/{ticket_id}", patch_ticket)
    app.router.add_post("/api/tickets/{ticket_id}/push", push_ticket)
    app.router.add_post("/api/intake/push", receive_push)
    app.router.add_get("/api/push/stats", push_stats)
    app.router.add_post("/api/classify", classify)
    app.router.add_get("/api/tickets/{ticket_id}/timeline", ticket_timeline)
