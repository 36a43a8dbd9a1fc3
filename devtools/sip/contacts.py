"""Wait until Asterisk has qualified a SIPp softphone's contact.

A sandbox softphone is two SIPp runs on one port: one registers and exits, the next
answers. Asterisk qualifies a new contact at once; if the answering SIPp binds its port
after the OPTIONS' last retransmission (a busy machine), the contact turns unreachable and
the seat shows offline until the next qualify, and a call placed then goes to the queue.
So a test or a bench waits for ``Reachable`` before it calls. Read with ``Getvar``
(privilege ``call``), as the seat registry reads contacts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from hotline_link.core.errors import SandboxError

Send = Callable[[str, Mapping[str, str]], Awaitable[Any]]  # (site, action) -> reply


async def _value(send: Send, site: str, expression: str) -> str:
    reply = await send(site, {"Action": "Getvar", "Variable": expression})
    return str(reply.get("Value", "") or "")


async def contact_statuses(send: Send, site: str, agent: str) -> list[str]:
    """The status (``Reachable``, ``Unreachable``, ``Created``...) of each of ``agent``'s contacts."""
    names = [n.strip() for n in (await _value(send, site, f"PJSIP_AOR({agent},contact)")).split(",") if n.strip()]
    return [await _value(send, site, f"PJSIP_CONTACT({name},status)") for name in names]


async def wait_reachable(send: Send, site: str, agent: str, timeout: float = 60.0, poll_s: float = 0.2) -> None:
    """Return once one of ``agent``'s contacts is ``Reachable``. An unreachable one becomes
    reachable at the next qualify, at most ``qualify_frequency`` later: slow, not failed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    statuses: list[str] = []
    while loop.time() < deadline:
        statuses = await contact_statuses(send, site, agent)
        if any(s.lower() == "reachable" for s in statuses):
            return
        await asyncio.sleep(poll_s)
    raise SandboxError(f"agent {agent}'s contact on site {site} was not reachable in {timeout:g} s "
                       f"(statuses {statuses})")
