"""Test helpers shared by the sandbox tests: state waits, leaving no channel behind.
The cuttable TCP proxy is a fault of ``hotline_link.faults`` (chaos uses it too)."""

from __future__ import annotations

import contextlib
import socket

from hotline_link.bus import BusEvent


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_event(name: str, **fields: object):  # type: ignore[no-untyped-def]
    def predicate(event: BusEvent) -> bool:
        return event.name == name and all(event.data.get(k) == v for k, v in fields.items())
    return predicate



async def hangup_everything(server) -> None:  # type: ignore[no-untyped-def]
    """Leave no channel behind for the next test, whatever this one did."""
    for site in server.ami.sites:
        channels = await server.ami.send_list(site, {"Action": "CoreShowChannels"})
        for channel in channels:
            with contextlib.suppress(Exception):
                await server.ami.send(site, {"Action": "Hangup", "Channel": channel["Channel"]})


def agent_passwords(site) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A distinct SIP password for each agent of ``site`` (render_site's argument)."""
    return {agent: f"pw-{site.id}-{agent}-test" for agent in site.agents}
