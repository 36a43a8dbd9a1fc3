"""The exchange endpoint's OpenAPI fragment: it documents the route it serves, publishes the
message schema parse_envelope checks with, and its receipt model is what answer_of writes."""

from __future__ import annotations

import pytest
from hypothesis import given

from exchange import schema, wire
from exchange.messages import json_schema
from exchange.receipts import Outcome, Receipt
from exchange.resources import routes
from hotline_link.app import BUILTIN_PLUGINS
from hotline_link.web.http import PUBLIC_PATHS
from hotline_link.web.openapi import document
from tests.unit.test_exchange_wire_pure import receipts


def test_the_fragment_joins_the_document_without_a_clash():
    merged = document(plugin.openapi() for plugin in BUILTIN_PLUGINS.values())  # the exchange plugin's among them
    operation = merged["paths"][wire.MESSAGES_PATH]["post"]
    assert operation["security"] == [] and wire.MESSAGES_PATH in PUBLIC_PATHS
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/ExchangeEnvelope"
    envelope = merged["components"]["schemas"]["ExchangeEnvelope"]
    assert envelope["discriminator"]["mapping"]["handover"] == "#/components/schemas/ExchangeHandoverMessage"
    assert set(json_schema()["$defs"]) == {name.removeprefix("Exchange") for name in schema.SCHEMAS
                                           if name not in ("ExchangeEnvelope", "ExchangeReceipt", "ExchangeHello")}
    for status, response in operation["responses"].items():  # every refusal is the API's Error
        if status != "200":
            assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_the_fragment_documents_exactly_the_routes_served():
    served = {(route.path, route.method.lower()) for route in routes(None, None, "110")}  # type: ignore[arg-type]
    assert served == {(path, method) for path, item in schema.PATHS.items() for method in item}


def test_every_outcome_is_documented():
    documented = schema.ExchangeReceipt.model_json_schema()["properties"]["outcome"]["enum"]
    assert documented == [outcome.value for outcome in Outcome]


@given(receipts)
def test_what_answer_of_writes_is_the_documented_receipt(receipt: Receipt):
    status, body = wire.answer_of(receipt)
    fields = {name: body[name] for name in schema.ExchangeReceipt.model_fields}
    assert schema.ExchangeReceipt.model_validate(fields).model_dump(mode="json") == fields
    if status == 200:
        assert set(body) == set(schema.ExchangeReceipt.model_fields)


@pytest.mark.parametrize("status", ["400", "401", "409", "413", "421", "429", "503"])
def test_every_answer_code_is_documented(status):
    assert status in schema.PATHS[wire.MESSAGES_PATH]["post"]["responses"]
