"""Request and response bodies as typed models. ``read_body(request, Model)`` parses the JSON
object and validates it with the model whose schema the OpenAPI document shows, so the two
cannot drift. A bad body is a 400 ``bad_request`` naming the field; rules that carry a code
of their own (``bad_number``, ``wrong_step``...) stay with the service that owns them.
``reply(Model(...))`` is the other way: a handler answers with a ``Reply`` model, and the
document's response schema is generated from the same class."""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from hotline_link.core.errors import HttpError
from hotline_link.web.http import read_json

B = TypeVar("B", bound="Body")

NonEmptyText = Annotated[str, StringConstraints(min_length=1)]


class Body(BaseModel):
    """A JSON object body. Strict: a number where text is expected is refused, never turned
    into text; fields a model does not name are ignored unless it forbids them."""

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


def _message(error: Any, model: type[Body]) -> str:
    name = ".".join(str(part) for part in error["loc"]) or "body"
    field = model.model_fields.get(str(error["loc"][0])) if error["loc"] else None
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"field {name!r} cannot be set"
    if field is not None and field.is_required() and field.annotation is str \
            and kind in ("missing", "string_type", "string_too_short"):
        return f"field {name!r} (a non-empty string) is required"
    if kind == "string_type":
        return f"field {name!r} must be a string"
    if kind == "string_pattern_mismatch":
        return f"field {name!r} must match {error['ctx']['pattern']}"
    return f"field {name!r}: {error['msg']}"


class Reply(BaseModel):
    """A JSON response body. Every field is always present (``null`` when unknown), so a
    client can rely on the documented shape."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)  # 地点和情况 readable as sent


def reply(body: Reply, status: int = 200) -> web.Response:
    return web.json_response(body.model_dump(mode="json", by_alias=True), status=status, dumps=_dumps)


async def read_body(request: web.Request, model: type[B]) -> B:
    return validate_body(await read_json(request), model)


def validate_body(raw: object, model: type[B]) -> B:
    """``raw`` (a parsed JSON body; e.g. one a handler read itself to check its signature)
    validated by ``model``; a 400 ``bad_request`` naming the field otherwise."""
    if not isinstance(raw, dict):
        raise HttpError("the request body must be a JSON object")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise HttpError(_message(exc.errors()[0], model)) from None


# --- query parameters ----------------------------------------------------------------------

Q = TypeVar("Q", bound="Query")


class Query(BaseModel):
    """A GET's query parameters as a typed model: each named by its alias (``from``), given
    at most once, an empty value taken as absent, a parameter the model does not name
    refused. Read with ``read_query``; ``openapi.query_parameters`` documents the same
    model, so the two cannot drift. Lax (a query is text): ``limit=100`` is an int."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=False)


def _query_message(error: Any, model: type[Query]) -> str:
    name = str(error["loc"][0]) if error["loc"] else "query"
    if error["type"] == "extra_forbidden":
        known = ", ".join(field.alias or key for key, field in model.model_fields.items())
        return f"parameter {name!r} is not known here; known: {known}"
    message = str(error["msg"])
    if error["type"] == "value_error":  # our validators' own words, without pydantic's prefix
        message = message.removeprefix("Value error, ")
    return f"parameter {name!r}: {message}"


def read_query(request: web.Request, model: type[Q]) -> Q:
    """The request's query parameters validated by ``model``; a 400 ``bad_request``
    naming the parameter otherwise."""
    raw: dict[str, str] = {}
    for name in request.query:
        values = request.query.getall(name)
        if len(values) > 1:
            raise HttpError(f"parameter {name!r} is given {len(values)} times; give it once")
        if values[0] != "":
            raw[name] = values[0]
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise HttpError(_query_message(exc.errors()[0], model)) from None
