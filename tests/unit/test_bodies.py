"""Request bodies read through their models: a wrong body is a 400 naming the field, over a
real aiohttp server with the real error middleware."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from call_control.schema import TargetBody
from hotline_link.web.bodies import read_body
from hotline_link.web.http import errors_middleware
from linkage.schema import FeedbackBody
from tickets.schema import TicketChanges


async def _client(model):  # type: ignore[no-untyped-def]
    async def echo(request: web.Request) -> web.Response:
        return web.json_response((await read_body(request, model)).model_dump(exclude_unset=True))

    app = web.Application(middlewares=[errors_middleware])
    app.router.add_post("/", echo)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.mark.parametrize("model, body, message", [
    (TargetBody, {}, "field 'target' (a non-empty string) is required"),
    (TargetBody, {"target": 110}, "field 'target' (a non-empty string) is required"),
    (TargetBody, {"target": ""}, "field 'target' (a non-empty string) is required"),
    (TargetBody, {"target": "110", "summary": ["x"]}, "field 'summary' must be a string"),
    (TicketChanges, {"owner": "me"}, "field 'owner' cannot be set"),
    (TicketChanges, {"division_code": "37021"}, "field 'division_code' must match ^[0-9]{6}$"),
    (TicketChanges, {"emergency": "yes"}, "field 'emergency': Input should be a valid boolean"),
    (TicketChanges, {"category": "x" * 201}, "field 'category': String should have at most 200 characters"),
    (FeedbackBody, {"step": "arrival", "at": "noon"}, "field 'at': Input should be a valid number"),
])
async def test_a_wrong_body_is_a_400_naming_the_field(model, body, message):
    client = await _client(model)
    try:
        resp = await client.post("/", json=body)
        assert resp.status == 400
        assert await resp.json() == {"error": {"code": "bad_request", "message": message}}
    finally:
        await client.close()


async def test_a_good_body_keeps_only_what_was_sent_and_ignores_unknown_fields():
    client = await _client(TargetBody)
    try:
        resp = await client.post("/", json={"target": "110", "category": "治安", "colour": "red"})
        assert resp.status == 200 and await resp.json() == {"target": "110", "category": "治安"}
    finally:
        await client.close()
    client = await _client(FeedbackBody)
    try:
        resp = await client.post("/", json={"step": "arrival", "situation": "到了", "at": 1700000000})
        assert await resp.json() == {"step": "arrival", "situation": "到了", "at": 1700000000.0}
    finally:
        await client.close()
