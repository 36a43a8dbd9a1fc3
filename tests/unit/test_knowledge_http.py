"""The knowledge base's HTTP API on the real app (real middlewares, real redis-server):
search with its 422s and roles, the entries' editing and history, and the other platform's
shareable entries merged from a second real server, down or slow peers included."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from hotline_link.core.bus import EventBus
from hotline_link.web.auth import Principal, TokenBook
from knowledge.entries import load_jurisdiction
from knowledge.peer import PeerSearch
from knowledge.schema import EntryHistory, EntryList, EntryView, SearchReply
from knowledge.service import KnowledgeService
from knowledge.store import KnowledgeStore
from tests.helpers import free_tcp_port, web_app_of
from tests.unit.served_replies import served

SEARCH = "/api/knowledge/search"
ENTRIES = "/api/knowledge/entries"
PEER_TOKEN = "peer-of-12345-0123456789abcdef"
TOKENS = {"agent-1001": Principal("agent", "1001"), "supervisor-x": Principal("supervisor", ""),
          "admin-x": Principal("admin", ""), "peer-x": Principal("peer", ""), "unit-x": Principal("unit", "", "u1"),
          "channel-x": Principal("channel", channel="web-portal")}
NEW = {"question": "电动自行车怎么上牌？", "answer": "携带购车发票、合格证和身份证到公安交警部门的上牌点办理。",
       "category": "交通", "platform": "both", "source": "公安类政务服务知识库", "shareable": True}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}-0123456789abcdef"}


async def _deployment(redis: Redis, platforms: set[str], tokens: TokenBook,
                      peer: PeerSearch | None = None) -> TestClient:
    service = KnowledgeService(KnowledgeStore(redis), EventBus(), clock=lambda: 1796608800.0,  # 2026-12-07
                               jurisdiction="qidong", platforms=platforms, peer=peer)
    await service.load_file(load_jurisdiction("qidong"))
    client = TestClient(TestServer(web_app_of(SimpleNamespace(tokens=tokens, knowledge=service, bus=service.bus))))
    await client.start_server()
    return client


def _book(extra: dict[str, Principal] | None = None) -> TokenBook:
    entries = [(f"{t}-0123456789abcdef", p) for t, p in TOKENS.items()]
    return TokenBook(entries + [(t, p) for t, p in (extra or {}).items()])


@pytest.fixture
async def client(private_redis: Redis) -> AsyncIterator[TestClient]:
    test_client = await _deployment(private_redis, {"12345", "remote"}, _book())
    try:
        yield test_client
    finally:
        await test_client.close()


async def test_search_answers_the_desks_query(client: TestClient):
    resp = await client.get(SEARCH, params={"q": "公积金怎么取", "limit": "5"}, headers=_auth("agent-1001"))
    body = await served(resp, SearchReply, SEARCH, 200)
    assert body["query"] == "公积金怎么取" and body["peer_error"] is None
    assert 1 <= len(body["results"]) <= 5
    first = body["results"][0]
    assert (first["id"], first["question"], first["from_peer"]) == ("QD-KB-002", "住房公积金怎么提取？", False)
    assert set(first) == {"id", "question", "answer", "category", "platform", "source", "shareable", "version",
                          "score", "from_peer"}
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}, {"q": "问" * 201}])
async def test_a_missing_or_long_question_is_a_422(client: TestClient, params):
    resp = await client.get(SEARCH, params=params, headers=_auth("agent-1001"))
    assert resp.status == 422
    assert (await resp.json())["error"]["code"] == "bad_query"


async def test_a_bad_parameter_is_a_400(client: TestClient):
    for params in ({"q": "社保", "limit": "0"}, {"q": "社保", "limit": "x"}, {"q": "社保", "colour": "red"},
                   {"q": "社保", "platform": "119"}):
        resp = await client.get(SEARCH, params=params, headers=_auth("agent-1001"))
        assert resp.status == 400, params


@pytest.mark.parametrize("token", ["unit-x", "channel-x"])
async def test_other_roles_may_not_search_or_read(client: TestClient, token):
    for path in (SEARCH + "?q=社保", ENTRIES, ENTRIES + "/QD-KB-001", ENTRIES + "/QD-KB-001/history"):
        resp = await client.get(path, headers=_auth(token))
        assert resp.status == 403, path
    assert (await client.get(SEARCH, params={"q": "社保"})).status == 401


async def test_a_peer_sees_only_shareable_entries(client: TestClient):
    query = {"q": "停水了找谁 营业执照怎么办 社保卡丢了", "limit": "20"}
    mine = await (await client.get(SEARCH, params=query, headers=_auth("agent-1001"))).json()
    assert any(not r["shareable"] for r in mine["results"])
    resp = await client.get(SEARCH, params={**query, "include_peer": "true"}, headers=_auth("peer-x"))
    theirs = await served(resp, SearchReply, SEARCH, 200)
    assert theirs["results"] and all(r["shareable"] for r in theirs["results"])
    assert theirs["peer_error"] is None  # a peer's search never goes on to its own peer
    for path in (ENTRIES, ENTRIES + "/QD-KB-001"):
        assert (await client.get(path, headers=_auth("peer-x"))).status == 403


async def test_a_supervisor_edits_and_the_history_says_who_and_what(client: TestClient):
    resp = await client.post(ENTRIES, json={**NEW, "id": "QD-KB-100"}, headers=_auth("supervisor-x"))
    created = await served(resp, EntryView, ENTRIES, 201)
    assert (created["id"], created["version"], created["updated_by"], created["ivr_key"]) == \
        ("QD-KB-100", 1, "supervisor", None)
    path = f"{ENTRIES}/QD-KB-100"
    resp = await client.put(path, json={**NEW, "valid_to": "2026-12-06", "expected_version": 1},
                            headers=_auth("admin-x"))
    updated = await served(resp, EntryView, "/api/knowledge/entries/{entry_id}", 200)
    assert (updated["version"], updated["valid_to"], updated["valid_now"]) == (2, "2026-12-06", False)
    resp = await client.get(path + "/history", headers=_auth("agent-1001"))
    history = await served(resp, EntryHistory, "/api/knowledge/entries/{entry_id}/history", 200)
    assert [(h["version"], h["by"], h["change"]) for h in history["history"]] == [(2, "admin", "updated"),
                                                                                (1, "supervisor", "created")]
    assert history["history"][0]["changes"] == {"valid_to": {"before": "", "after": "2026-12-06"}}
    retired = await (await client.get(SEARCH, params={"q": "电动自行车上牌"}, headers=_auth("agent-1001"))).json()
    assert "QD-KB-100" not in {r["id"] for r in retired["results"]}  # retired yesterday
    resp = await client.get(path, headers=_auth("agent-1001"))
    assert (await served(resp, EntryView, "/api/knowledge/entries/{entry_id}", 200))["version"] == 2
    resp = await client.get(ENTRIES, params={"category": "交通"}, headers=_auth("agent-1001"))
    listed = await served(resp, EntryList, ENTRIES, 200)
    assert listed["jurisdiction"] == "qidong" and {e["id"] for e in listed["entries"]} == {"QD-KB-100"}


async def test_editing_refusals(client: TestClient):
    path = f"{ENTRIES}/QD-KB-002"
    assert (await client.post(ENTRIES, json=NEW, headers=_auth("agent-1001"))).status == 403
    assert (await client.put(path, json=NEW, headers=_auth("peer-x"))).status == 403
    cases = [
        (client.post(ENTRIES, json={**NEW, "question": ""}, headers=_auth("admin-x")), 400, "bad_request"),
        (client.post(ENTRIES, json={**NEW, "ivr_key": "7"}, headers=_auth("admin-x")), 400, "bad_request"),
        (client.post(ENTRIES, json={**NEW, "colour": "red"}, headers=_auth("admin-x")), 400, "bad_request"),
        (client.post(ENTRIES, json={**NEW, "valid_from": "2026-02-30"}, headers=_auth("admin-x")), 400,
         "bad_entry"),
        (client.post(ENTRIES, json={**NEW, "id": "QD-KB-002"}, headers=_auth("admin-x")), 409, "entry_conflict"),
        (client.post(ENTRIES, json={**NEW, "ivr_key": "1", "ivr_label": "上牌"}, headers=_auth("admin-x")), 409,
         "entry_conflict"),
        (client.put(path, json={**NEW, "expected_version": 5}, headers=_auth("admin-x")), 409, "entry_conflict"),
        (client.put(f"{ENTRIES}/nope", json=NEW, headers=_auth("admin-x")), 404, "no_such_entry"),
        (client.get(f"{ENTRIES}/nope/history", headers=_auth("admin-x")), 404, "no_such_entry"),
    ]
    for request, status, code in cases:
        resp = await request
        assert (resp.status, (await resp.json())["error"]["code"]) == (status, code)


# --- the other platform's entries ----------------------------------------------------------


async def test_the_peers_shareable_entries_are_merged_and_marked(private_redis: Redis, redis_url: str):
    police_redis = Redis.from_url(redis_url.removesuffix("/0") + "/1", decode_responses=True)
    police = await _deployment(police_redis, {"110"}, _book({PEER_TOKEN: Principal("peer", "")}))
    async with aiohttp.ClientSession() as session:
        peer = PeerSearch(session, str(police.make_url("/")), PEER_TOKEN, timeout_s=2.0, allow_http_loopback=True)
        ours = await _deployment(private_redis, {"12345", "remote"}, _book(), peer)
        try:
            resp = await ours.get(SEARCH, params={"q": "无犯罪记录证明 接到挪车求助 警情", "limit": "10",
                                                  "include_peer": "true"}, headers=_auth("agent-1001"))
            body = await served(resp, SearchReply, SEARCH, 200)
        finally:
            await ours.close()
            await police.close()
            await police_redis.aclose()
    assert body["peer_error"] is None
    from_peer = [r for r in body["results"] if r["from_peer"]]
    assert "无犯罪记录证明怎么开？" in {r["question"] for r in from_peer}
    assert all(r["shareable"] and r["platform"] in ("110", "both") for r in from_peer)
    assert "QD-KB-021" not in {r["id"] for r in from_peer}  # 110's own 警情口径: not shareable
    own_ids = [r["id"] for r in body["results"] if not r["from_peer"]]
    assert not set(own_ids) & {r["id"] for r in from_peer}  # an entry both keep is ours once
    assert body["results"][: len(own_ids)] == [r for r in body["results"] if not r["from_peer"]]


async def test_a_down_peer_gives_our_results_and_says_why(private_redis: Redis):
    async with aiohttp.ClientSession() as session:
        peer = PeerSearch(session, f"http://127.0.0.1:{free_tcp_port()}", PEER_TOKEN, timeout_s=1.0,
                          allow_http_loopback=True)
        ours = await _deployment(private_redis, {"12345"}, _book(), peer)
        try:
            resp = await ours.get(SEARCH, params={"q": "公积金怎么取", "include_peer": "true"},
                                  headers=_auth("agent-1001"))
            body = await served(resp, SearchReply, SEARCH, 200)
        finally:
            await ours.close()
    assert body["results"] and not any(r["from_peer"] for r in body["results"])
    assert body["peer_error"].startswith("unreachable")


async def test_a_slow_peer_is_given_up_quickly(private_redis: Redis):
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({"query": "x", "results": [], "peer_error": None})

    app = web.Application()
    app.router.add_get(SEARCH, slow)
    slow_server = TestServer(app)
    await slow_server.start_server()
    async with aiohttp.ClientSession() as session:
        peer = PeerSearch(session, str(slow_server.make_url("/")), PEER_TOKEN, timeout_s=0.3,
                          allow_http_loopback=True)
        ours = await _deployment(private_redis, {"12345"}, _book(), peer)
        try:
            started = asyncio.get_running_loop().time()
            resp = await ours.get(SEARCH, params={"q": "社保", "include_peer": "true"}, headers=_auth("agent-1001"))
            body = await served(resp, SearchReply, SEARCH, 200)
            assert asyncio.get_running_loop().time() - started < 2
        finally:
            await ours.close()
            await slow_server.close()
    assert body["results"] and body["peer_error"] == "no answer within 0.3 s"


async def test_a_peer_answering_nonsense_or_refusing_is_a_peer_error(private_redis: Redis):
    async def odd(request: web.Request) -> web.Response:
        if request.query["q"] == "拒绝":
            return web.json_response({"error": {"code": "forbidden", "message": "no"}}, status=403)
        return web.json_response({"results": [{"id": "x"}]})

    app = web.Application()
    app.router.add_get(SEARCH, odd)
    odd_server = TestServer(app)
    await odd_server.start_server()
    async with aiohttp.ClientSession() as session:
        peer = PeerSearch(session, str(odd_server.make_url("/")), PEER_TOKEN, timeout_s=1.0,
                          allow_http_loopback=True)
        try:
            for query, error in (("拒绝", "the peer answered 403"), ("社保", "not a knowledge search result")):
                with pytest.raises(Exception, match=error):
                    await peer.search(query, 5, None)
        finally:
            await odd_server.close()
