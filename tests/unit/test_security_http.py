"""Security of the HTTP API, on a real aiohttp server with a stand-in for the hotline-link
server behind it: every route but the public ones needs a known token, roles are enforced
before any work is done, and tokens and push signatures are compared in constant time."""

from __future__ import annotations

import hmac
import re
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer

from call_control.calls import CallBook
from exchange import schema as exchange_schema
from hotline_link.app import openapi_document
from hotline_link.core.settings import Settings
from hotline_link.web import auth as auth_module
from hotline_link.web.auth import Principal, TokenBook
from hotline_link.web.http import PUBLIC_PATHS
from tests.helpers import web_app_of
from tickets import signing
from tickets.push import STATS

OPENAPI = openapi_document()

TOKENS = {"agent": ("agent-1001-token-0123456789", Principal("agent", "1001")),
          "supervisor": ("supervisor-token-0123456789", Principal("supervisor")),
          "admin": ("admin-token-0123456789abcdef", Principal("admin")),
          "peer": ("peer-token-0123456789abcdefg", Principal("peer")),
          "channel": ("channel-token-0123456789abcd", Principal("channel", channel="web-portal"))}
# the routes a peer platform's token is for (besides the exchange channel's own): the other
# deployment searching our shareable knowledge entries
PEER_ROUTES = {("GET", "/api/knowledge/search")}
SUPERVISOR_ROUTES = [("GET", "/api/calls"), ("GET", "/api/seats"), ("GET", "/api/push/stats")]


class _Untouchable:
    """Any attribute the handler reaches for means a refused request got through."""

    def __getattr__(self, name: str):
        raise AssertionError(f"handler reached server.{name}")


def _stand_in(touchable: bool) -> SimpleNamespace:
    async def stats():  # PushService.stats's shape: the reply is checked against its model
        counts = dict.fromkeys(STATS, 0)
        return {"12345": counts, "110": counts, "outbox_pending": 0, "dead_letters": 0}

    async def no_states(site):
        return {}

    inner = SimpleNamespace(
        calls=SimpleNamespace(book=CallBook()),  # no active call
        registry=SimpleNamespace(states=no_states), push=SimpleNamespace(stats=stats))
    server = SimpleNamespace(tokens=TokenBook(TOKENS.values()), settings=Settings(ami_secret="x"))
    for name in ("calls", "ami", "push", "registry", "tickets", "timeline", "conferences",
                 "transfers", "agent_events", "redis", "recommender"):
        setattr(server, name, getattr(inner, name, None) if touchable else _Untouchable())
    return server


async def _client(touchable: bool = False) -> TestClient:
    client = TestClient(TestServer(web_app_of(_stand_in(touchable))))
    await client.start_server()
    return client


def _routes() -> list[tuple[str, str]]:
    """(method, concrete path) of every route the app serves, path parameters filled in."""
    app = web_app_of(_stand_in(False))
    out = []
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info()
        template = info.get("path") or info.get("formatter")
        out.append((route.method, re.sub(r"\{agent\}", "1001", re.sub(r"\{[a-z_]+\}", "x1", template)), template))
    return out


ROUTES = _routes()


def test_public_paths_are_exactly_health_openapi_and_signed_push():
    assert PUBLIC_PATHS == {"/health", "/api/openapi.json", "/api/intake/push", "/api/exchange/v1/messages",
                            "/api/exchange/v1/hello", "/api/intake/sms"}
    # the signed push, the exchange's signed requests and the SMS gateway's signed webhook
    documented_public = {path for path, item in {**OPENAPI["paths"], **exchange_schema.PATHS}.items()
                         for operation in item.values() if operation.get("security") == []}
    assert documented_public == PUBLIC_PATHS
    assert len(ROUTES) > len(PUBLIC_PATHS) + 10  # the router really was walked


@pytest.mark.parametrize("method, path, template", [r for r in ROUTES if r[2] not in PUBLIC_PATHS])
@pytest.mark.parametrize("credentials", [None, "Bearer nope-not-a-token-at-all", "Basic YWRtaW46YWRtaW4=",
                                         "Bearer " + TOKENS["admin"][0] + "x", "Bearer",
                                         "bearer " + TOKENS["admin"][0] + "\u00e9"])
async def test_every_private_route_refuses_a_missing_or_unknown_token(method, path, template, credentials):
    client = await _client()
    try:
        headers = {"Authorization": credentials} if credentials else {}
        resp = await client.request(method, path, headers=headers, json={"target": "110", "reason": "x", "text": "x"})
        assert resp.status == 401, (method, path, await resp.text())
        assert (await resp.json())["error"]["code"] == "unauthorized"
        # a token in the query string is checked the same way
        resp = await client.request(method, path + "?token=nope-not-a-token-at-all")
        assert resp.status == 401
    finally:
        await client.close()


@pytest.mark.parametrize("role", ["agent", "peer"])
@pytest.mark.parametrize("method, path", SUPERVISOR_ROUTES)
async def test_supervisor_routes_refuse_agent_and_peer_tokens(role, method, path):
    client = await _client()
    try:
        resp = await client.request(method, path, headers={"Authorization": f"Bearer {TOKENS[role][0]}"})
        assert resp.status == 403
        assert (await resp.json())["error"]["code"] == "forbidden"
    finally:
        await client.close()


@pytest.mark.parametrize("role", ["supervisor", "admin"])
@pytest.mark.parametrize("method, path", SUPERVISOR_ROUTES)
async def test_supervisor_routes_answer_supervisor_and_admin(role, method, path):
    client = await _client(touchable=True)
    try:
        resp = await client.request(method, path, headers={"Authorization": f"Bearer {TOKENS[role][0]}"})
        assert resp.status == 200, await resp.text()
    finally:
        await client.close()


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/api/agents/1002/call", None), ("GET", "/api/agents/1002/events", None),
    ("POST", "/api/agents/1002/pause", {"reason": "培训"}), ("POST", "/api/agents/1002/ready", None),
    ("GET", "/api/agents/1002/softphone", None),
])
async def test_an_agent_cannot_act_for_another_agent(method, path, body):
    client = await _client()
    try:
        resp = await client.request(method, path, json=body, headers={"Authorization": f"Bearer {TOKENS['agent'][0]}"})
        assert resp.status == 403, await resp.text()
        assert (await resp.json())["error"]["code"] == "forbidden"
    finally:
        await client.close()


@pytest.mark.parametrize("method, path, body", [
    # ?agent= is for supervisors: an agent's token always acts as its own agent
    ("POST", "/api/calls/hl12345-1.1/transfer?agent=1002", {"target": "110"}),
    ("POST", "/api/calls/hl12345-1.1/conference?agent=1002", {"target": "110"}),
    ("GET", "/api/calls/hl12345-1.1/conference?agent=1002", None),
    ("DELETE", "/api/calls/hl12345-1.1/conference/1002?agent=1002", None),
])
async def test_an_agent_cannot_act_on_another_agents_call(method, path, body):
    server = _stand_in(True)
    call_of_1002 = SimpleNamespace(
        answered_agent_channel=lambda agent: ("u2", "PJSIP/1002-01") if agent == "1002" else None)
    server.calls.book.find = lambda call_id: call_of_1002 if call_id == "hl12345-1.1" else None
    server.transfers = server.conferences = _Untouchable()
    client = TestClient(TestServer(web_app_of(server)))
    await client.start_server()
    try:
        resp = await client.request(method, path, json=body, headers={"Authorization": f"Bearer {TOKENS['agent'][0]}"})
        assert resp.status == 403, await resp.text()
        assert (await resp.json())["error"]["code"] == "not_your_call"
    finally:
        await client.close()


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/api/agents/1001/call", None), ("POST", "/api/classify", {"text": "x"}),
    ("GET", "/api/calls/hl12345-1.1", None), ("POST", "/api/agents/1001/ready", None),
])
async def test_a_peer_platform_token_reaches_no_agent_or_ticket_route(method, path, body):
    client = await _client()
    try:
        resp = await client.request(method, path, json=body, headers={"Authorization": f"Bearer {TOKENS['peer'][0]}"})
        assert resp.status == 403, await resp.text()
    finally:
        await client.close()


@pytest.mark.parametrize("method, path, template",
                         [r for r in ROUTES if r[2] not in PUBLIC_PATHS and (r[0], r[2]) != ("POST", "/api/tickets")])
async def test_a_channel_token_reaches_nothing_but_opening_a_ticket(method, path, template):
    """Everywhere else a channel token gets what a peer platform's token gets (refused, or
    stopped by the same earlier check of the request), and never a success."""
    client = await _client()
    try:
        answers = []
        for role in ("channel", "peer"):
            resp = await client.request(method, path, json={"target": "110", "text": "x", "step": "accept"},
                                        headers={"Authorization": f"Bearer {TOKENS[role][0]}"})
            answers.append((resp.status, (await resp.json())["error"]["code"] if resp.status >= 400 else None))
        if (method, template) in PEER_ROUTES:  # the peer may, on purpose: the channel may not
            assert answers[0] == (403, "forbidden") and answers[1][0] != 403, (method, path, answers)
        else:
            assert answers[0][0] >= 400 and answers[0] == answers[1], (method, path, answers)
    finally:
        await client.close()


PUSH_SECRETS = {"push_secret_12345_to_110": "s3cret-12345-110", "push_secret_110_to_12345": "s3cret-110-12345"}
PUSH_BODY = b'{"push_id": "p1", "from_platform": "12345", "to_platform": "110", "source_ticket": "12345-x"}'


async def _push_client(platforms: tuple[str, ...] = ("12345", "110")) -> TestClient:
    from hotline_link.core.settings import SiteSettings

    server = _stand_in(False)
    sites = tuple(SiteSettings(p, p, 25060 + i, 25038 + i, 30000 + 1000 * i, 30999 + 1000 * i, ())
                  for i, p in enumerate(platforms))
    server.settings = Settings(ami_secret="x", push_secrets=PUSH_SECRETS, sites=sites)
    client = TestClient(TestServer(web_app_of(server)))
    await client.start_server()
    return client


async def test_intake_push_without_a_signature_is_refused():
    client = await _push_client()
    try:
        for headers in ({}, {"X-HL-Timestamp": "nan", "X-HL-Signature": "0" * 64},
                        {"X-HL-Timestamp": "1", "X-HL-Signature": "é" * 64}):
            resp = await client.post("/api/intake/push", data=PUSH_BODY, headers=headers)
            assert resp.status == 401 and (await resp.json())["error"]["code"] == "bad_signature"
    finally:
        await client.close()


@pytest.mark.parametrize("platforms, secret_key, status, code", [
    # signed with the other direction's secret: it does not verify
    (("12345", "110"), "push_secret_110_to_12345", 401, "bad_signature"),
    # the 12345 deployment: a push "to 110" is not for it, however well signed
    (("12345",), "push_secret_12345_to_110", 403, "push_refused"),
])
async def test_a_push_for_another_direction_or_platform_is_refused(platforms, secret_key, status, code):
    import time

    client = await _push_client(platforms)
    try:
        stamp = f"{time.time():.3f}"
        signature = signing.sign(PUSH_SECRETS[secret_key], stamp, PUSH_BODY)
        resp = await client.post("/api/intake/push", data=PUSH_BODY,
                                 headers={"X-HL-Timestamp": stamp, "X-HL-Signature": signature})
        assert resp.status == status and (await resp.json())["error"]["code"] == code
    finally:
        await client.close()


def _counting_compare(monkeypatch, module):
    calls = []
    original = hmac.compare_digest

    def compare(a, b):
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(module.hmac, "compare_digest", compare)
    return calls


def test_tokens_are_compared_with_compare_digest_against_every_entry(monkeypatch):
    calls = _counting_compare(monkeypatch, auth_module)
    book = TokenBook(TOKENS.values())
    assert book.authenticate(TOKENS["peer"][0]) == Principal("peer")
    # every entry is compared, whichever matches, so the time does not tell which one did
    assert len(calls) == len(TOKENS)
    assert all(TOKENS["peer"][0] not in (a, b) for a, b in calls)  # digests, never the token


def test_push_signatures_are_compared_with_compare_digest(monkeypatch):
    calls = _counting_compare(monkeypatch, signing)
    body, stamp = b"{}", "1795530000.5"
    signing.verify("s3cret", stamp, signing.sign("s3cret", stamp, body), body, 1795530000.0)
    with pytest.raises(signing.BadSignature):
        signing.verify("s3cret", stamp, "0" * 64, body, 1795530000.0)
    assert len(calls) == 2


@pytest.mark.parametrize("path", ["/api/calls", "/api/seats", "/api/push/stats"])
async def test_a_token_in_the_query_string_is_refused_where_a_header_can_be_sent(path):
    client = await _client(touchable=True)
    try:
        resp = await client.get(f"{path}?token={TOKENS['supervisor'][0]}")
        assert resp.status == 401, await resp.text()
        resp = await client.get(path, headers={"Authorization": f"Bearer {TOKENS['supervisor'][0]}"})
        assert resp.status == 200
    finally:
        await client.close()


def test_query_tokens_are_allowed_only_on_pages_downloads_and_streams():
    from hotline_link.web.http import QUERY_TOKEN_ROUTES

    templates = {template for _, _, template in ROUTES}
    assert QUERY_TOKEN_ROUTES <= templates  # each names a real route
    pages = ("/supervisor", "/desk")
    assert all(t.startswith(pages) or t.endswith(("/stream", "/events", ".csv")) for t in QUERY_TOKEN_ROUTES)
