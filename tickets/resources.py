"""HTTP resources of tickets: the traceable story of a ticket and of a call."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import asdict
from typing import Any

from aiohttp import web

from call_control.errors import CallControlError, CallNotFound
from hotline_link.auth import Forbidden
from hotline_link.http import principal_of, read_json, server_of
from hotline_link.logs import mask_number
from hotline_link.settings import push_secret_key
from tickets.changes import publish_changes
from tickets.push_policy import PushRefused, parse_payload
from tickets.signing import verify

READERS = ("agent", "supervisor", "admin")
LOOP_LEG_PREFIX = "linkage-"  # linkage.journal.loop_leg: the pseudo call of a ticket's closed loop


def require_platform(request: web.Request, platform: str | None, what: str) -> None:
    """Agents read and act on their own platform's calls and tickets only; supervisors
    and admins on all. An unknown platform is refused to agents (fail closed)."""
    principal = principal_of(request)
    principal.require_role(*READERS)
    if principal.role == "agent":
        site = server_of(request).settings.site_of_agent(principal.agent)
        if site is None or platform is None or site.id != platform:
            raise Forbidden(f"{what} belongs to another platform")


def require_ticket_access(request: web.Request, ticket) -> None:  # type: ignore[no-untyped-def]
    require_platform(request, ticket.site, f"ticket {ticket.id}")


async def ticket_of(request: web.Request):  # type: ignore[no-untyped-def]
    """The ticket named in the path, if this token may reach it."""
    ticket = await server_of(request).tickets.get(request.match_info["ticket_id"])
    if ticket is None:
        raise CallNotFound(f"no ticket {request.match_info['ticket_id']}")
    require_ticket_access(request, ticket)
    return ticket


async def ticket_timeline(request: web.Request) -> web.Response:
    server = server_of(request)
    ticket = await ticket_of(request)
    story = await server.timeline.for_ticket(ticket.id)
    return web.json_response({**story, "ticket": _ticket_view(story["ticket"])})


async def call_story(request: web.Request) -> web.Response:
    principal_of(request).require_role(*READERS)
    server = server_of(request)
    call_id = request.match_info["call_id"]
    events = await server.timeline.for_call(call_id)
    if not events:
        raise CallNotFound(f"no call {call_id} on record")
    ticket = await server.tickets.for_call(call_id)
    if ticket is None and call_id.startswith(LOOP_LEG_PREFIX):  # a ticket's closed loop
        ticket = await server.tickets.get(call_id.removeprefix(LOOP_LEG_PREFIX))
    # the call's platform: its ticket's, else the site its own events name
    platform = ticket.site if ticket else next((str(e["site"]) for e in events if e.get("site")), None)
    require_platform(request, platform, f"call {call_id}")
    return web.json_response({"call_id": call_id, "ticket_id": ticket.id if ticket else None,
                              "active": server.calls.book.find(call_id) is not None, "events": events})


def _ticket_view(ticket) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    view = asdict(ticket)
    view["caller"] = mask_number(ticket.caller)
    return view


_EDITABLE = {"category": str, "summary": str, "handling_unit": str, "division_code": str,
             "emergency": bool, "restricted": bool}


async def patch_ticket(request: web.Request) -> web.Response:
    server = server_of(request)
    ticket = await ticket_of(request)
    body = await read_json(request)
    changes: dict[str, object] = {}
    for name, value in body.items():
        kind = _EDITABLE.get(name)
        if kind is None or not isinstance(value, kind) or (kind is str and len(value) > 200):
            raise CallControlError(f"field {name!r} cannot be set to {value!r}")
        changes[name] = value
    if "division_code" in changes and not re.fullmatch(r"\d{6}", str(changes["division_code"])):
        raise CallControlError("division_code (行政区划代码) must be 6 digits")
    principal = principal_of(request)
    if ticket.restricted and changes.get("restricted") is False and principal.role not in ("supervisor", "admin"):
        raise Forbidden(f"only a supervisor may clear restricted on ticket {ticket.id}")
    updated = await server.tickets.update(ticket, **changes)
    publish_changes(server.bus, ticket, updated, by=principal.agent or principal.role)
    return web.json_response(_ticket_view(updated))


async def push_ticket(request: web.Request) -> web.Response:
    ticket = await ticket_of(request)
    body = await read_json(request, ("target",))
    payload = await server_of(request).push.push(ticket.id, str(body["target"]))
    return web.json_response({"push_id": payload.push_id, "state": "queued", "bounced": payload.bounced,
                              "emergency": payload.emergency}, status=202)


async def receive_push(request: web.Request) -> web.Response:
    """The other platform's pushes land here: signed, not token-authenticated."""
    server = server_of(request)
    raw = await request.read()
    try:
        claimed = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise CallControlError("the push body is not JSON") from None
    if not isinstance(claimed, dict):
        raise CallControlError("the push body must be a JSON object")
    source, target = str(claimed.get("from_platform", ""))[:16], str(claimed.get("to_platform", ""))[:16]
    if target not in server.settings.platform_ids:
        raise PushRefused(f"this server is not platform {target!r}")
    # the direction's own secret: a body signed for another direction does not verify
    verify(server.settings.push_secrets.get(push_secret_key(source, target), ""),
           request.headers.get("X-HL-Timestamp", ""), request.headers.get("X-HL-Signature", ""), raw, time.time())
    payload = parse_payload(claimed)
    ticket_id, duplicate = await server.push.receive(payload)
    return web.json_response({"ticket_id": ticket_id, "duplicate": duplicate}, status=200 if duplicate else 201)


async def push_stats(request: web.Request) -> web.Response:
    principal_of(request).require_role("supervisor", "admin")
    return web.json_response(await server_of(request).push.stats())


async def classify(request: web.Request) -> web.Response:
    principal_of(request).require_role(*READERS)
    body = await read_json(request, ("text",))
    recommender = await server_of(request).recommender()
    result = await asyncio.to_thread(recommender.recommend, str(body["text"])[:2000])
    return web.json_response(result.as_dict())


def add_routes(app: web.Application) -> None:
    app.router.add_patch("/api/tickets/{ticket_id}", patch_ticket)
    app.router.add_post("/api/tickets/{ticket_id}/push", push_ticket)
    app.router.add_post("/api/intake/push", receive_push)
    app.router.add_get("/api/push/stats", push_stats)
    app.router.add_post("/api/classify", classify)
    app.router.add_get("/api/tickets/{ticket_id}/timeline", ticket_timeline)
    app.router.add_get("/api/calls/{call_id}", call_story)
