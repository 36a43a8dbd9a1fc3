"""The OpenAPI 3.1 document of the HTTP API, served at ``/api/openapi.json``: a base (info,
security, the error schema, ``/health``, this document) merged with each plugin's fragment
(its ``schema.py``: paths, and component schemas generated from the same pydantic models its
handlers validate bodies with). A test checks that every route served is documented and
nothing else."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from hotline_link.core.errors import ConfigError

Fragment = Mapping[str, Any]  # {"paths": {...}, "schemas": {...}}


def error_doc(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def json_doc(schema: str | type[BaseModel], description: str) -> dict[str, Any]:
    """A JSON response: a component schema by name, or the ``Reply`` model that builds it
    (then list the model in the fragment's ``schemas`` with ``component_schemas``)."""
    name = schema if isinstance(schema, str) else schema.__name__
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


def component_schemas(*models: type[BaseModel]) -> dict[str, Any]:
    """Component schemas of response models and of every model they nest, by class name."""
    _, top = models_json_schema([(model, "serialization") for model in models],
                                ref_template="#/components/schemas/{model}")
    return dict(top.get("$defs", {}))


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """A required JSON request body, its schema generated from the model that validates it."""
    return {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}


CALL_ID = {"name": "call_id", "in": "path", "required": True, "schema": {"type": "string"},
           "description": "Asterisk linkedid of the call, e.g. hl12345-1795530292.2"}
TICKET_ID = {"name": "ticket_id", "in": "path", "required": True, "schema": {"type": "string"}}
AGENT = {"name": "agent", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}
AGENT_QUERY = {"name": "agent", "in": "query", "required": False, "schema": {"type": "string"},
               "description": "supervisor/admin tokens only: the agent acting on the call"}
TOKEN_QUERY = {"name": "token", "in": "query", "required": False, "schema": {"type": "string"},
               "description": "the bearer token, for browsers that cannot send a header"}
COMMON_ERRORS = {"400": error_doc("bad request (bad JSON, a missing or wrong field, unknown target, same platform)"),
                 "401": error_doc("missing or unknown token"),
                 "403": error_doc("not this agent's call, or the role may not do this"),
                 "404": error_doc("no such call, conference, ticket or agent"),
                 "409": error_doc("another operation on the call is in progress, target busy, "
                                  "or the caller would be left alone"),
                 "502": error_doc("Asterisk refused the action or its AMI link is down "
                                  "(asterisk_refused, asterisk_error, target_unreachable)"),
                 "503": error_doc("the shared state (Redis) is out of reach (redis_unavailable); retry")}

_BASE: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "hotline-link", "version": "0.1.0",
             "description": "Call control between the 12345 hotline and the 110 call center. "
                            "Every route but /health and this document needs "
                            "`Authorization: Bearer <token>`."},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}}},
    "security": [{"bearer": []}],
    "paths": {
    "/health": {"get": {"security": [], "summary": "AMI connections and Redis",
                        "responses": {"200": {"description": "healthy"},
                                      "503": {"description": "a site or Redis is unreachable"}}}},
    "/api/openapi.json": {"get": {"security": [], "summary": "this document",
                                  "responses": {"200": {"description": "OpenAPI document"}}}},
    },
}


def document(fragments: Iterable[Fragment]) -> dict[str, Any]:
    """The base merged with the plugins' fragments; a path two plugins both describe, or a
    schema name two describe differently, is a ConfigError (served by one, documented twice).
    Two plugins may both list the same shared model (a ticket nested in a call)."""
    doc = {**_BASE, "paths": dict(_BASE["paths"]),
           "components": {**_BASE["components"], "schemas": dict(_BASE["components"]["schemas"])}}
    for fragment in fragments:
        for section, target in (("paths", doc["paths"]), ("schemas", doc["components"]["schemas"])):
            for name, item in fragment.get(section, {}).items():
                if name in target and (section == "paths" or target[name] != item):
                    raise ConfigError(f"OpenAPI: {section} {name!r} is described twice")
                target[name] = item
    return doc


def _inlined(schema: Any, defs: Mapping[str, Any]) -> Any:
    """``schema`` with each ``#/$defs/...`` reference replaced by what it names: a query
    parameter's schema stands alone (an enum such as a state, inline)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inlined(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inlined(v, defs) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_inlined(item, defs) for item in schema]
    return schema


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The query parameters of a GET, from the ``bodies.Query`` model its handler reads
    them with: each field by its alias, its schema and description."""
    schema = model.model_json_schema(by_alias=True)
    defs, required = schema.get("$defs", {}), set(schema.get("required", ()))
    out = []
    for name, prop in schema["properties"].items():
        described = _inlined(prop, defs)
        description = described.pop("description", "")
        options = [option for option in described.get("anyOf", ()) if option != {"type": "null"}]
        if len(options) == 1:  # optional: absent, never null, in a query
            described = {**options[0], **{k: v for k, v in described.items() if k != "anyOf"}}
        if "default" in described and described["default"] is None:
            del described["default"]
        out.append({"name": name, "in": "query", "required": name in required, "schema": described,
                    "description": description})
    return out
