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
from exchange.schema import CASES_EXPORT_PATH, CASES_PATH, ExchangeCasesExportQuery, ExchangeCasesQuery
from hotline_link.app import BUILTIN_PLUGINS, openapi_document
from hotline_link.core.errors import ConfigError
from hotline_link.web.bodies import Reply, reply
from hotline_link.web.openapi import component_schemas, document, query_parameters
from linkage.lifecycle import DispatchState
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
    assert FeedbackBody.model_json_schema()["properties"]["step"]["enum"] == [
        "accept", "arrival", "result", "progress", "refuse", "ask_police"]
    with_bodies = [(p, m) for p, item in OPENAPI["paths"].items() for m, op in item.items() if "requestBody" in op]
    assert len(with_bodies) >= 10  # every JSON body of the API is generated (the signed push is documented apart)


def test_query_parameters_are_the_reading_models_fields():
    listing = OPENAPI["paths"][CASES_PATH]["get"]["parameters"]
    assert listing == query_parameters(ExchangeCasesQuery)
    assert OPENAPI["paths"][CASES_EXPORT_PATH]["get"]["parameters"] == query_parameters(ExchangeCasesExportQuery)
    by_name = {p["name"]: p for p in listing}
    assert list(by_name) == ["from", "to", "direction", "category", "division_code", "status", "limit", "cursor"]
    assert all(p["in"] == "query" and p["required"] is False and p["description"] for p in listing)
    assert by_name["direction"]["schema"] == {"enum": ["in", "out"], "type": "string"}
    assert by_name["status"]["schema"]["enum"] == [state.value for state in DispatchState]  # the loop's own states
    assert by_name["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}
    assert by_name["division_code"]["schema"]["pattern"] == "^[0-9]{2}([0-9]{2}){0,2}$"
    assert "$ref" not in json.dumps(listing) and "null" not in json.dumps(listing)  # each stands alone
    export = {p["name"]: p for p in OPENAPI["paths"][CASES_EXPORT_PATH]["get"]["parameters"]}
    assert export["format"]["schema"] == {"enum": ["ndjson", "csv"], "type": "string", "default": "ndjson"}
    assert "limit" not in export and "cursor" not in export


def test_the_cases_answers_are_their_reply_models():
    schemas = OPENAPI["components"]["schemas"]
    ok = OPENAPI["paths"][CASES_PATH]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/ExchangeCases"}
    assert schemas["ExchangeCases"]["required"] == ["from", "to", "cases", "next_cursor"]
    case = schemas["ExchangeCase"]
    assert "caller" not in case["properties"] and set(case["required"]) == set(case["properties"])
    assert case["properties"]["status"]["anyOf"][0] == {"$ref": "#/components/schemas/DispatchState"}
    exported = OPENAPI["paths"][CASES_EXPORT_PATH]["get"]["responses"]["200"]["content"]
    assert exported["application/x-ndjson"]["schema"] == {"$ref": "#/components/schemas/ExchangeCase"}
    assert set(exported) == {"application/x-ndjson", "text/csv"}
    for path in (CASES_PATH, CASES_EXPORT_PATH):
        assert {"400", "401", "403", "503"} <= set(OPENAPI["paths"][path]["get"]["responses"])


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
