"""The desk plugin: the agent's desk page and softphone. It publishes no service; its page
calls the seat pool's, call control's, tickets' and the closed loop's HTTP API."""

from __future__ import annotations

from typing import ClassVar

from desk import resources, schema
from desk.assets import require_jssip
from hotline_link.plugin import Deps, Plugin
from hotline_link.web.openapi import Fragment


class DeskPlugin(Plugin):
    name = "desk"
    routes = (resources.add_routes,)
    api: ClassVar[Fragment] = {"paths": schema.PATHS, "schemas": schema.SCHEMAS}
    requires = ("seat_pool", "call_control")

    def load(self, deps: Deps) -> None:
        require_jssip()  # at start, not at an agent's first page
