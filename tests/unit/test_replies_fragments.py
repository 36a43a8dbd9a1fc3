"""Every success answer the tickets, linkage and supervisor plugins document has a body
schema: a JSON one names a ``Reply`` model listed in the plugin's own fragment (so the
document holds it, nested models too); the others (HTML, CSV, WAV, Prometheus text, the
event stream) say their media type."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hotline_link.plugin import Plugin
from hotline_link.web.openapi import component_schemas
from linkage import schema as linkage_schema
from linkage.plugin import LinkagePlugin
from supervisor import schema as supervisor_schema
from supervisor.plugin import SupervisorPlugin
from tests.unit.served_replies import REF
from tickets import intake_schema
from tickets import schema as tickets_schema
from tickets.plugin import TicketsPlugin

# the tickets plugin's fragment: its schema module and that of tickets opened without a call
TICKETS_SCHEMA = SimpleNamespace(REPLIES=tickets_schema.REPLIES + intake_schema.REPLIES)
PLUGINS = [(TicketsPlugin, TICKETS_SCHEMA), (LinkagePlugin, linkage_schema), (SupervisorPlugin, supervisor_schema)]


@pytest.mark.parametrize("plugin, schema", PLUGINS)
def test_every_success_answer_has_a_schema_of_the_fragment(plugin: type[Plugin], schema):
    fragment = plugin.openapi()
    assert fragment["schemas"] == component_schemas(*schema.REPLIES)
    named = set()
    for path, item in fragment["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if not status.startswith("2"):
                    continue
                assert response.get("content"), f"{method} {path} {status}: no body described"
                json_body = response["content"].get("application/json")
                if json_body is not None:
                    name = json_body["schema"]["$ref"].removeprefix(REF)
                    assert name in fragment["schemas"], f"{method} {path} {status}: {name}"
                    named.add(name)
    assert {model.__name__ for model in schema.REPLIES} <= named  # each model answers some route
