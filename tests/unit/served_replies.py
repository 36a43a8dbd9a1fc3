"""What the reply tests check of a JSON body a real handler served: the OpenAPI document's
response for the route names a model (its component schema the one the model generates),
and the body is exactly that model: it validates strictly from the served text, nothing is
missing, nothing extra, and dumping it again gives the same JSON."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import ClientResponse
from pydantic import BaseModel

from hotline_link.app import openapi_document
from hotline_link.web.openapi import component_schemas

OPENAPI = openapi_document()
REF = "#/components/schemas/"


def documented_model(path: str, method: str, status: int) -> str:
    """The component the document names for the route's JSON answer with ``status``."""
    response = OPENAPI["paths"][path][method]["responses"][str(status)]
    ref = response["content"]["application/json"]["schema"]["$ref"]
    assert ref.startswith(REF)
    return str(ref.removeprefix(REF))


def assert_documented(model: type[BaseModel], path: str, method: str, status: int) -> None:
    assert documented_model(path, method, status) == model.__name__
    components = OPENAPI["components"]["schemas"]
    for name, schema in component_schemas(model).items():  # the model and all it nests
        assert components[name] == schema, name


async def served(resp: ClientResponse, model: type[BaseModel], path: str, status: int) -> dict[str, Any]:
    """The body of ``resp`` (a request to the route ``path``), checked as above."""
    text = await resp.text()
    assert resp.status == status, text
    assert resp.content_type == "application/json"
    assert_documented(model, path, resp.method.lower(), status)
    body = json.loads(text)
    reply = model.model_validate_json(text, strict=True)
    assert reply.model_dump(mode="json") == body
    return body  # type: ignore[no-any-return]  # a JSON object: the model validated it
