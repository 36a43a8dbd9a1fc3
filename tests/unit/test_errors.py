"""Every error a client's request can cause is an HTTP answer of one family base
(``hotline_link.core.errors.HttpError``): a 4xx/5xx status and a stable snake_case code, and one
code always means the same status, whichever capability raises it."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

import call_control.errors
import ivr.errors
import linkage.errors
import supervisor.service  # noqa: F401  (its own CallControlError subclasses)
from hotline_link.core.errors import AmiDisconnected, HotlineError, HttpError
from hotline_link.web.auth import Principal, TokenBook
from tests.helpers import web_app_of


def _all_subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | _all_subclasses(sub)
    return out


def test_the_families_share_one_base_and_keep_their_default_answer():
    for family in (call_control.errors.CallControlError, ivr.errors.IvrError, linkage.errors.LinkageError):
        assert issubclass(family, HttpError) and issubclass(family, HotlineError)
        assert (family.status, family.code) == (400, "bad_request")


def test_every_http_error_has_a_status_and_a_code_that_means_one_status():
    statuses: dict[str, set[int]] = {}
    classes = _all_subclasses(HttpError)
    assert len(classes) > 25  # the families were really walked
    for cls in classes:
        assert isinstance(cls.status, int) and 400 <= cls.status <= 599, cls
        assert re.fullmatch(r"[a-z][a-z_]*[a-z]", cls.code), cls
        statuses.setdefault(cls.code, set()).add(cls.status)
    assert {code: s for code, s in statuses.items() if len(s) > 1} == {}
    assert (call_control.errors.NoAnswer.status, call_control.errors.NoAnswer.code) == (504, "no_answer")
    assert (ivr.errors.NotFlagged.status, linkage.errors.WrongStep.status) == (404, 409)


@pytest.mark.parametrize("body, message", [
    (b"{not json", "the request body is not JSON (or nested too deeply)"),
    (b"[1, 2]", "the request body must be a JSON object"),
    (b'{"number": "13900004399"}', "field 'reason' (a non-empty string) is required"),
    (b"[" * 30_000 + b"]" * 30_000, "the request body is not JSON (or nested too deeply)"),
])
async def test_a_bad_request_body_is_a_400_bad_request(body, message):
    token = "admin-token-0123456789abcdef"
    server = SimpleNamespace(tokens=TokenBook([(token, Principal("admin"))]))  # nothing else is reached
    client = TestClient(TestServer(web_app_of(server)))
    await client.start_server()
    try:
        resp = await client.post("/api/harassment", data=body, headers={"Authorization": f"Bearer {token}",
                                                                         "Content-Type": "application/json"})
        assert resp.status == 400
        assert await resp.json() == {"error": {"code": "bad_request", "message": message}}
    finally:
        await client.close()


@pytest.mark.parametrize("failure, status, code", [
    (RedisConnectionError("Connection refused"), 503, "redis_unavailable"),
    (AmiDisconnected("the AMI connection to 12345 dropped"), 502, "asterisk_error"),
    (ResponseError("WRONGTYPE Operation against a key"), 500, "internal_error"),  # our bug: no retry
])
async def test_a_failing_backend_is_the_servers_error_not_the_clients(failure, status, code):
    """Redis out of reach or Asterisk failing under a request is a 5xx the client may
    retry, never a 400; another Redis error is a bug of ours, a 500."""
    async def opt_out(number: str) -> None:
        raise failure

    token = "agent-token-0123456789abcdef"
    server = SimpleNamespace(tokens=TokenBook([(token, Principal("agent", agent="1001"))]),
                             linkage=SimpleNamespace(opt_out=opt_out))
    client = TestClient(TestServer(web_app_of(server)))
    await client.start_server()
    try:
        resp = await client.put("/api/callback-optout/13900004399", headers={"Authorization": f"Bearer {token}"})
        assert resp.status == status
        assert (await resp.json())["error"]["code"] == code
    finally:
        await client.close()
