"""The OpenAPI document: generated from the plugins' fragments, and their request bodies from
the same models the handlers validate with, so what is served, what is documented and what
is checked cannot drift apart."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import ValidationError

from call_control.schema import TargetBody
from hotline_link.app import BUILTIN_PLUGINS, openapi_document
from hotline_link.core.errors import ConfigError
from hotline_link.web.bodies import Reply, reply
from hotline_link.web.openapi import component_schemas, document
from linkage.schema import FeedbackBody
from tests.helpers import web_app_of
from tickets.schema import TicketChanges

OPENAPI = openapi_document()


def _template(resource) -> str:
    info = resource.get_info()
    return info.get("path") or info.get("formatter")


def test_every_route_is_documented_and_nothing_else():
    app = web_app_of(SimpleNamespace(tokens=None))
    served = {(_template(r.resource), r.method.lower()) for r in app.router.routes() if r.method != "HEAD"}
    documented = {(path, method) for path, item in OPENAPI["paths"].items() for method in item}
    assert served == documented


def test_error_schema_is_referenced_by_every_4xx():
    for item in OPENAPI["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if status.startswith("4") and "content" in response:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}


def test_request_bodies_are_the_validating_models_schemas():
    def body(path: str, method: str) -> dict:  # type: ignore[type-arg]
        return OPENAPI["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]

    assert body("/api/calls/{call_id}/transfer", "post") == TargetBody.model_json_schema()
    assert body("/api/tickets/{ticket_id}", "patch") == TicketChanges.model_json_schema()
    assert body("/api/tickets/{ticket_id}", "patch")["additionalProperties"] is False
    assert body("/api/tickets/{ticket_id}/feedback", "post")["required"] == ["step"]
    assert FeedbackBody.model_json_schema()["properties"]["step"]["enum"] == ["accept", "arrival", "result"]
    with_bodies = [(p, m) for p, item in OPENAPI["paths"].items() for m, op in item.items() if "requestBody" in op]
    assert len(with_bodies) >= 10  # every JSON body of the API is generated (the signed push is documented apart)


async def test_the_served_document_is_the_enabled_plugins_only():
    from hotline_link.app import build_app
    from hotline_link.core.bus import EventBus
    from hotline_link.core.settings import Settings

    async def health(request):  # type: ignore[no-untyped-def]
        raise AssertionError("not called")

    app = build_app(Settings(ami_secret="x"), None, EventBus(), {}, health,
                    [BUILTIN_PLUGINS["tickets"], BUILTIN_PLUGINS["seat_pool"]])
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        served = await (await client.get("/api/openapi.json")).json()
    finally:
        await client.close()
    assert "/api/seats" in served["paths"] and "/api/tickets/{ticket_id}" in served["paths"]
    assert "/api/calls/{call_id}/transfer" not in served["paths"] and "/supervisor" not in served["paths"]


def test_a_path_described_by_two_plugins_is_refused():
    fragment = {"paths": {"/api/x": {"get": {"responses": {}}}}}
    with pytest.raises(ConfigError, match="described twice"):
        document([fragment, fragment])


class _Ticket(Reply):
    id: str
    note: str | None


class _Call(Reply):
    call_id: str
    ticket: _Ticket | None


def test_a_reply_models_schema_names_its_nested_models_as_components():
    schemas = component_schemas(_Call)
    assert set(schemas) == {"_Call", "_Ticket"}
    assert schemas["_Call"]["properties"]["ticket"]["anyOf"][0] == {"$ref": "#/components/schemas/_Ticket"}
    assert schemas["_Ticket"]["required"] == ["id", "note"]  # null is sent, never omitted


def test_a_shared_model_may_be_listed_twice_but_one_name_may_not_mean_two_schemas():
    shared = {"schemas": component_schemas(_Ticket)}
    assert "_Ticket" in document([shared, shared])["components"]["schemas"]
    other = {"schemas": {"_Ticket": {"type": "object"}}}
    with pytest.raises(ConfigError, match="described twice"):
        document([shared, other])


def test_reply_sends_every_field_and_refuses_an_undocumented_one():
    body = json.loads(reply(_Call(call_id="c1", ticket=None), status=202).body)
    assert body == {"call_id": "c1", "ticket": None}
    with pytest.raises(ValidationError):
        _Call(call_id="c1", ticket=None, extra="x")  # type: ignore[call-arg]  # the point of the test
