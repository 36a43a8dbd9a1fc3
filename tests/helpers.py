"""Test helpers shared by the sandbox tests: state waits, leaving no channel behind.
The cuttable TCP proxy is a fault of ``devtools.faults`` (chaos uses it too)."""

from __future__ import annotations

import contextlib
import socket
from typing import TYPE_CHECKING, Any

from hotline_link.core.bus import BusEvent

if TYPE_CHECKING:
    from aiohttp import web


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_event(name: str, **fields: object):
    def predicate(event: BusEvent) -> bool:
        return event.name == name and all(event.data.get(k) == v for k, v in fields.items())
    return predicate



async def hangup_everything(server) -> None:
    """Leave no channel behind for the next test, whatever this one did."""
    for site in server.ami.sites:
        channels = await server.ami.send_list(site, {"Action": "CoreShowChannels"})
        for channel in channels:
            with contextlib.suppress(Exception):
                await server.ami.send(site, {"Action": "Hangup", "Channel": channel["Channel"]})


def agent_passwords(site) -> dict[str, str]:
    """A distinct SIP password for each agent of ``site`` (render_site's argument)."""
    return {agent: f"pw-{site.id}-{agent}-test" for agent in site.agents}


def web_app_of(stand_in: Any) -> web.Application:
    """The real HTTP app (every plugin's routes, the real middlewares) over a unit test's
    stand-in: an object whose attributes are named like the services (``tickets``,
    ``calls``, ``linkage``...) plus ``tokens`` and, optionally, ``settings`` and ``bus``."""
    from aiohttp import web

    from analysis.keys import ANALYSIS
    from call_control.callbacks.keys import CALLBACKS
    from call_control.keys import AGENT_EVENTS, CALLS, CONFERENCES, CONSULTS, TRANSFERS
    from hotline_link.app import build_app
    from hotline_link.core.bus import EventBus
    from hotline_link.core.settings import Settings
    from ivr.keys import HARASSMENT
    from knowledge.keys import KNOWLEDGE
    from linkage.keys import FEEDBACK_LINE, LINKAGE
    from seat_pool.keys import SEAT_REGISTRY
    from supervisor.keys import SUPERVISOR
    from tickets.keys import INTAKE, PUSH, RECOMMENDER, TICKETS, TIMELINE

    keys = {"tickets": TICKETS, "timeline": TIMELINE, "push": PUSH, "recommender": RECOMMENDER,
            "calls": CALLS, "transfers": TRANSFERS, "conferences": CONFERENCES, "consults": CONSULTS,
            "agent_events": AGENT_EVENTS,
            "linkage": LINKAGE, "feedback_line": FEEDBACK_LINE, "harassment": HARASSMENT,
            "registry": SEAT_REGISTRY, "supervisor": SUPERVISOR, "intake": INTAKE, "callbacks": CALLBACKS,
            "knowledge": KNOWLEDGE, "analysis": ANALYSIS}
    services = {key: getattr(stand_in, name) for name, key in keys.items()
                if getattr(stand_in, name, None) is not None}
    async def no_backends(request: web.Request) -> web.Response:
        return web.json_response({"healthy": False, "redis": False, "ami": {}}, status=503)

    return build_app(getattr(stand_in, "settings", None) or Settings(ami_secret="x"), stand_in.tokens,
                     getattr(stand_in, "bus", None) or EventBus(), services, no_backends)
