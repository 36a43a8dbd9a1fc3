"""Stand-ins for what the route hook talks to, for unit tests: the AGI session of a call
(its X-Ticket-* fields as the dialplan passes them) and a router that seats every call."""

from __future__ import annotations

from hotline_link.asterisk.agi.protocol import AgiRequest
from seat_pool.router import Placement
from seat_pool.routing import Outcome


class AgiSession:
    """What the route hook reads of a call that arrived over the trunk."""

    def __init__(self, fields: str, *, site: str = "110", caller: str = "13812345678") -> None:
        self.fields = fields
        self.request = AgiRequest(env={"agi_network_script": "route", "agi_callerid": caller,
                                       "agi_uniqueid": "u1"}, args=(site,))
        self.variables: dict[str, str] = {}

    async def get_full_variable(self, expression: str) -> str:
        return self.fields

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value

    async def alive(self) -> bool:
        return True


class Router:
    """Seats every call at 2001, and keeps the calls it was given."""

    sites = frozenset({"12345", "110"})

    def __init__(self) -> None:
        self.calls: list[object] = []

    async def place(self, call: object, alive: object, queued_at: object) -> Placement:
        self.calls.append(call)
        return Placement(Outcome.SEAT, "PJSIP/2001", "2001")
