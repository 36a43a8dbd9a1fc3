"""Tickets opened without a call (web, SMS, app, 公众号): ``POST /api/tickets`` and the SMS
gateway's signed ``POST /api/intake/sms``, on a real aiohttp server over the real ticket
store, timeline, outbox, push service and catalog recommender, on a redis-server of the
test's own (``private_redis``), with the intake service on a test clock."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from hotline_link.core.bus import BusEvent, EventBus
from hotline_link.core.events import TicketIntakeAlert
from hotline_link.core.settings import Settings, push_secret_key
from hotline_link.web.auth import Principal, TokenBook
from supervisor.figures import Dashboard
from tests.helpers import web_app_of
from tests.unit.served_replies import served
from tickets.intake import MAX_AGE_S, IntakeService
from tickets.intake_schema import IntakeOpened, SmsReceived
from tickets.outbox import Outbox
from tickets.push import PushService
from tickets.recommend import RecommenderSource
from tickets.redis_keys import OUTBOX_DUE, outbox_job_key
from tickets.schema import Classification, PushQueued, PushReceived, TicketView
from tickets.signing import sign
from tickets.store import TicketStore
from tickets.timeline import TicketTimeline

NOW = 1_795_530_292.0  # 2026-11-24 in Beijing; the service's clock, not the machine's
TOKENS = {"channel": ("channel-web-portal-token-0123", Principal("channel", channel="web-portal")),
          "app": ("channel-city-app-token-012345", Principal("channel", channel="city-app")),
          "agent": ("agent-1001-token-0123456789", Principal("agent", "1001")),
          "agent110": ("agent-2001-token-0123456789", Principal("agent", "2001")),
          "supervisor": ("supervisor-token-0123456789", Principal("supervisor")),
          "peer": ("peer-token-0123456789abcdefg", Principal("peer")),
          "unit": ("unit-token-0123456789abcdefg", Principal("unit", unit="QD-WATER"))}
PUSH_SECRET = "a-push-secret-for-these-tests-0123"
SMS_SECRET = "an-sms-gateway-secret-for-tests-01"
REPLY_URL = "https://sms.example.test/send"
NOISE = "小区旁边工地夜间施工，噪音太大睡不着"
DANGER = "有人持刀砍人，已经有人受伤流血了"
RECOMMENDERS = RecommenderSource()  # the real one, built once for the module (jieba loads slowly)


def _report(**changes: object) -> dict[str, object]:
    return {"channel": "web", "caller": "138-1234-5678", "text": NOISE, "division_code": "320681",
            "received_at": NOW - 600, **changes}


def _auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role][0]}"}


async def _stack(redis: Redis, **settings_changes: object) -> SimpleNamespace:
    bus, heard = EventBus(), []
    bus.listen(heard.append)
    settings = Settings(**{"ami_secret": "x", "push_secrets": {push_secret_key("12345", "110"): PUSH_SECRET},
                           "sms_secrets": {"sms_secret": SMS_SECRET}, **settings_changes})
    tickets = TicketStore(redis)
    outbox = Outbox(redis, bus, "", secrets={**settings.push_secrets, **settings.sms_secrets})  # never started
    clock = SimpleNamespace(now=NOW)
    server = SimpleNamespace(
        tokens=TokenBook(TOKENS.values()), settings=settings, bus=bus, tickets=tickets,
        timeline=TicketTimeline(redis, tickets, bus, settings.platform_ids),
        push=PushService(settings, tickets, outbox, redis, bus), recommender=RECOMMENDERS,
        intake=IntakeService(settings, tickets, outbox, RECOMMENDERS, bus, clock=lambda: clock.now))
    client = TestClient(TestServer(web_app_of(server)))
    await client.start_server()
    return SimpleNamespace(client=client, redis=redis, tickets=tickets, timeline=server.timeline, heard=heard,
                           clock=clock)


@pytest.fixture
async def stack(private_redis: Redis) -> AsyncIterator[SimpleNamespace]:  # tests/unit/conftest.py
    built = await _stack(private_redis)
    yield built
    await built.client.close()


@pytest.fixture
async def replying(private_redis: Redis) -> AsyncIterator[SimpleNamespace]:
    """The stack with the SMS gateway's send URL configured (受理回执)."""
    built = await _stack(private_redis, sms_reply_url=REPLY_URL)
    yield built
    await built.client.close()


def _names(heard: list[BusEvent]) -> list[str]:
    return [event.name for event in heard]


async def _stored_tickets(redis: Redis) -> list[str]:
    return sorted(await redis.keys("hl:ticket:*"))


async def _advice(text: str) -> Classification:
    return Classification.model_validate((await RECOMMENDERS.get()).recommend(text).as_dict())


# --- opening a ticket ---------------------------------------------------------------------


async def test_a_web_report_opens_a_ticket_on_the_intake_platform_with_the_recommendation(stack):
    resp = await stack.client.post("/api/tickets", json=_report(category="噪音扰民"), headers=_auth("channel"))
    body = await served(resp, IntakeOpened, "/api/tickets", 201)
    ticket = body["ticket"]
    assert ticket["id"].startswith("12345-20261124-") and ticket["site"] == "12345" and ticket["call_id"] == ""
    assert (ticket["channel"], ticket["channel_source"], ticket["received_at"]) == ("web", "web-portal", NOW - 600)
    assert (ticket["caller"], ticket["summary"], ticket["category"]) == ("138****5678", NOISE, "噪音扰民")
    assert ticket["created_at"] == NOW and ticket["emergency"] is False and body["duplicate"] is False
    assert body["recommendation"] == (await _advice(NOISE)).model_dump(mode="json")
    stored = await stack.tickets.get(ticket["id"])
    assert stored is not None and stored.caller == "13812345678" and stored.division_code == "320681"
    assert TicketView.of(stored).model_dump(mode="json") == ticket
    # the story starts with the report, from its channel
    story = await stack.timeline.for_ticket(ticket["id"])
    assert [e["event"] for e in story["events"]] == ["ticket.opened"]
    assert story["events"][0]["data"] == {
        "ticket_id": ticket["id"], "call_id": "", "site": "12345", "channel": "web", "source": "web-portal",
        "caller": "138****5678", "category": "噪音扰民", "emergency": False, "received_at": NOW - 600}
    assert _names(stack.heard) == ["ticket.opened"]  # no alert, no callback asked


async def test_without_a_category_the_ticket_takes_the_recommenders(stack):
    resp = await stack.client.post("/api/tickets", json=_report(received_at=None), headers=_auth("channel"))
    body = await served(resp, IntakeOpened, "/api/tickets", 201)
    assert body["ticket"]["category"] == (await _advice(NOISE)).category != ""
    assert body["ticket"]["received_at"] == NOW  # not given: now


async def test_an_agent_opens_on_their_own_platform_as_the_source(stack):
    resp = await stack.client.post("/api/tickets", json=_report(channel="wechat"), headers=_auth("agent110"))
    ticket = (await served(resp, IntakeOpened, "/api/tickets", 201))["ticket"]
    assert (ticket["site"], ticket["channel"], ticket["channel_source"]) == ("110", "wechat", "agent:2001")
    assert ticket["id"].startswith("110-")


@pytest.mark.parametrize("role", ["unit", "peer", "supervisor"])
async def test_other_roles_may_not_open_a_ticket(stack, role):
    resp = await stack.client.post("/api/tickets", json=_report(), headers=_auth(role))
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "forbidden"
    resp = await stack.client.post("/api/tickets", json=_report())
    assert resp.status == 401
    assert await _stored_tickets(stack.redis) == [] and stack.heard == []


@pytest.mark.parametrize("changes, status, code, words", [
    ({"caller": "not a number"}, 400, "bad_number", "not a phone number"),
    ({"caller": "12"}, 400, "bad_number", "not a phone number"),
    ({"caller": "", "channel": "sms"}, 400, "bad_number", "needs the sender's number"),
    ({"caller": "anonymous", "callback": True}, 400, "bad_number", "call back needs"),
    ({"caller": 13812345678}, 400, "bad_request", "field 'caller'"),
    ({"text": ""}, 400, "bad_request", "'text'"),
    ({"text": " \n\t "}, 400, "empty_text", "blank"),
    ({"text": "吵" * 501}, 400, "bad_request", "at most 500 characters"),
    ({"received_at": NOW - 31 * 86400}, 422, "bad_received_at", "31.0 days back"),
    ({"received_at": NOW + 3600}, 422, "bad_received_at", "in the future"),
    ({"received_at": "2026-11-24"}, 400, "bad_request", "'received_at'"),
    ({"received_at": True}, 400, "bad_request", "'received_at'"),
    ({"callback": "yes"}, 400, "bad_request", "'callback'"),
    ({"channel": "fax"}, 400, "bad_request", "'channel'"),
    ({"division_code": "32068"}, 400, "bad_request", "'division_code' must match"),
    ({"division_code": None}, 400, "bad_request", "'division_code'"),
    ({"external_id": "has space"}, 400, "bad_request", "'external_id' must match"),
    ({"source": "someone-else"}, 400, "bad_request", "'source' cannot be set"),
])
async def test_a_bad_report_is_a_clear_4xx_and_stores_nothing(stack, changes, status, code, words):
    resp = await stack.client.post("/api/tickets", json=_report(**changes), headers=_auth("channel"))
    error = (await resp.json())["error"]
    assert (resp.status, error["code"]) == (status, code), error
    assert words in error["message"]
    assert await _stored_tickets(stack.redis) == [] and stack.heard == []


@pytest.mark.parametrize("raw, status", [
    (b'{"channel": "web", "caller": "13812345678", "text": "x", "division_code": "320681", "received_at": NaN}',
     400),
    (b"[1, 2]", 400), (b"{", 400), (b'{"text": "' + b"x" * 100_000 + b'"}', 413)])
async def test_a_malformed_or_oversize_body_is_refused(stack, raw, status):
    resp = await stack.client.post("/api/tickets", data=raw, headers={**_auth("channel"),
                                                                       "Content-Type": "application/json"})
    assert resp.status == status and (await resp.json())["error"]["code"]
    assert await _stored_tickets(stack.redis) == []


@pytest.mark.parametrize("offset", [-MAX_AGE_S + 60, 200.0])
async def test_received_at_near_the_bounds_is_taken(stack, offset):
    resp = await stack.client.post("/api/tickets", json=_report(received_at=NOW + offset), headers=_auth("channel"))
    assert (await served(resp, IntakeOpened, "/api/tickets", 201))["ticket"]["received_at"] == NOW + offset


async def test_an_anonymous_web_report_is_taken(stack):
    resp = await stack.client.post("/api/tickets", json=_report(caller=""), headers=_auth("channel"))
    ticket = (await served(resp, IntakeOpened, "/api/tickets", 201))["ticket"]
    assert ticket["caller"] == "" and (await stack.tickets.get(ticket["id"])).caller == ""  # type: ignore[union-attr]


# --- idempotency ----------------------------------------------------------------------------


async def test_a_retried_message_returns_the_first_ticket(stack):
    report = _report(external_id="portal-msg-0001")
    first = await served(await stack.client.post("/api/tickets", json=report, headers=_auth("channel")),
                         IntakeOpened, "/api/tickets", 201)
    stack.clock.now += 30  # the channel timed out and tries again
    again = await served(await stack.client.post("/api/tickets", json=report, headers=_auth("channel")),
                         IntakeOpened, "/api/tickets", 200)
    assert again["duplicate"] is True and again["ticket"] == first["ticket"]
    assert first["ticket"]["external_id"] == "portal-msg-0001"
    assert await _stored_tickets(stack.redis) == [f"hl:ticket:{first['ticket']['id']}"]
    assert _names(stack.heard) == ["ticket.opened"]
    # the same id from another system is another message
    other = await stack.client.post("/api/tickets", json=report, headers=_auth("app"))
    assert (await served(other, IntakeOpened, "/api/tickets", 201))["ticket"]["id"] != first["ticket"]["id"]


async def test_retries_racing_each_other_open_one_ticket(stack):
    report = _report(external_id="portal-msg-0002")
    answers = await asyncio.gather(*(stack.client.post("/api/tickets", json=report, headers=_auth("channel"))
                                     for _ in range(6)))
    bodies = [await resp.json() for resp in answers]
    assert sorted(resp.status for resp in answers) == [200] * 5 + [201]
    assert len({body["ticket"]["id"] for body in bodies}) == 1
    assert len(await _stored_tickets(stack.redis)) == 1 and _names(stack.heard) == ["ticket.opened"]


# --- what a report sets off -----------------------------------------------------------------


async def test_danger_to_life_alerts_the_supervisors_at_once(stack):
    assert (await _advice(DANGER)).emergency  # the premise: the recommender's cues find danger
    resp = await stack.client.post("/api/tickets", json=_report(text=DANGER), headers=_auth("channel"))
    body = await served(resp, IntakeOpened, "/api/tickets", 201)
    assert body["ticket"]["emergency"] is True and body["recommendation"]["emergency"] is True
    assert _names(stack.heard) == ["ticket.opened", "ticket.intake_alert"]
    alert = stack.heard[1].as_(TicketIntakeAlert)
    assert (alert.ticket_id, alert.site, alert.channel, alert.source) == (body["ticket"]["id"], "12345", "web",
                                                                          "web-portal")
    assert alert.reason
    # and the supervisor page lists it with its alerts
    dashboard = Dashboard(("12345", "110"), {})
    dashboard.apply(alert, NOW)
    listed = dashboard.snapshot(NOW)["alerts"]
    assert [(a["kind"], a["site"]) for a in listed] == [("ticket.intake_alert", "12345")]
    assert body["ticket"]["id"] in listed[0]["detail"] and "web-portal" in listed[0]["detail"]


async def test_a_callback_asked_for_goes_to_the_callback_queue_without_a_call(stack):
    resp = await stack.client.post("/api/tickets", json=_report(callback=True), headers=_auth("channel"))
    ticket = (await served(resp, IntakeOpened, "/api/tickets", 201))["ticket"]
    asked = [event for event in stack.heard if event.name == "ticket.callback_requested"]
    assert [event.data for event in asked] == [{"ticket_id": ticket["id"], "call_id": "", "site": "12345",
                                                "caller": "138****5678", "category": ticket["category"]}]


async def test_a_channel_ticket_is_patched_and_pushed_like_any_other(stack):
    resp = await stack.client.post("/api/tickets", json=_report(text="我看到有人在偷电动车", channel="app"),
                                   headers=_auth("channel"))
    ticket = (await served(resp, IntakeOpened, "/api/tickets", 201))["ticket"]
    resp = await stack.client.patch(f"/api/tickets/{ticket['id']}", json={"handling_unit": "派出所"},
                                    headers=_auth("agent"))
    assert (await served(resp, TicketView, "/api/tickets/{ticket_id}", 200))["handling_unit"] == "派出所"
    # 在线转交: pushed to 110, which takes it in as its own ticket
    resp = await stack.client.post(f"/api/tickets/{ticket['id']}/push", json={"target": "110"},
                                   headers=_auth("agent"))
    queued = await served(resp, PushQueued, "/api/tickets/{ticket_id}/push", 202)
    job = await stack.redis.hgetall(outbox_job_key(queued["push_id"]))
    raw = job["body"].encode()
    assert json.loads(raw)["summary"] == "我看到有人在偷电动车"
    stamp = f"{time.time():.3f}"  # the push receiver checks the machine's clock
    resp = await stack.client.post("/api/intake/push", data=raw, headers={
        "X-HL-Timestamp": stamp, "X-HL-Signature": sign(PUSH_SECRET, stamp, raw)})
    received = await served(resp, PushReceived, "/api/intake/push", 201)
    pushed_in = await stack.tickets.get(received["ticket_id"])
    assert pushed_in is not None and pushed_in.site == "110" and pushed_in.source_ticket == ticket["id"]
    assert pushed_in.caller == "13812345678"


# --- the SMS gateway's webhook ----------------------------------------------------------------


def _sms(**changes: object) -> bytes:
    return json.dumps({"from": "+86 138 1234 5678", "text": "路灯坏了好几天了", "message_id": "sms-0001",
                       "received_at": NOW - 5, **changes}, ensure_ascii=False).encode()


def _signed(raw: bytes, at: float = NOW, secret: str = SMS_SECRET) -> dict[str, str]:
    stamp = f"{at:.3f}"
    return {"X-HL-Timestamp": stamp, "X-HL-Signature": sign(secret, stamp, raw), "Content-Type": "application/json"}


async def test_a_signed_sms_opens_a_ticket_once(stack):
    raw = _sms()
    resp = await stack.client.post("/api/intake/sms", data=raw, headers=_signed(raw))
    received = await served(resp, SmsReceived, "/api/intake/sms", 201)
    ticket = await stack.tickets.get(received["ticket_id"])
    assert ticket is not None and (ticket.channel, ticket.channel_source, ticket.site) == ("sms", "sms-gateway",
                                                                                           "12345")
    assert (ticket.caller, ticket.summary, ticket.external_id) == ("+8613812345678", "路灯坏了好几天了", "sms-0001")
    assert ticket.received_at == NOW - 5
    resp = await stack.client.post("/api/intake/sms", data=raw, headers=_signed(raw, NOW + 20))  # the gateway retries
    assert await served(resp, SmsReceived, "/api/intake/sms", 200) == {"ticket_id": ticket.id, "duplicate": True}
    assert len(await _stored_tickets(stack.redis)) == 1
    assert await stack.redis.zcard(OUTBOX_DUE) == 0  # no reply URL configured: no reply


@pytest.mark.parametrize("headers_of", [
    lambda raw: _signed(raw, secret="not-the-gateway-secret-012345"),
    lambda raw: _signed(raw, NOW - 301),  # expired
    lambda raw: _signed(raw, NOW + 301),
    lambda raw: _signed(raw + b" "),  # signed another body
    lambda raw: {"Content-Type": "application/json"},  # unsigned
    lambda raw: {**_signed(raw), "X-HL-Timestamp": "nan"},
])
async def test_a_badly_signed_sms_is_refused_and_opens_nothing(stack, headers_of):
    raw = _sms()
    resp = await stack.client.post("/api/intake/sms", data=raw, headers=headers_of(raw))
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "bad_signature"
    assert await _stored_tickets(stack.redis) == [] and stack.heard == []


async def test_without_the_gateway_secret_no_sms_is_taken(private_redis):
    built = await _stack(private_redis, sms_secrets={})
    try:
        raw = _sms()
        resp = await built.client.post("/api/intake/sms", data=raw, headers=_signed(raw))
        assert resp.status == 401 and await _stored_tickets(private_redis) == []
    finally:
        await built.client.close()


@pytest.mark.parametrize("changes, status, code", [
    ({"from": "短信平台"}, 400, "bad_number"), ({"from": ""}, 400, "bad_number"),
    ({"text": ""}, 400, "bad_request"), ({"message_id": ""}, 400, "bad_request"),
    ({"received_at": NOW - 40 * 86400}, 422, "bad_received_at")])
async def test_a_signed_but_bad_sms_is_a_clear_4xx(stack, changes, status, code):
    raw = _sms(**changes)
    resp = await stack.client.post("/api/intake/sms", data=raw, headers=_signed(raw))
    assert (resp.status, (await resp.json())["error"]["code"]) == (status, code)
    assert await _stored_tickets(stack.redis) == []


async def test_the_sender_gets_a_signed_reply_when_the_gateway_url_is_set(replying):
    raw = _sms()
    resp = await replying.client.post("/api/intake/sms", data=raw, headers=_signed(raw))
    ticket_id = (await served(resp, SmsReceived, "/api/intake/sms", 201))["ticket_id"]
    assert await replying.redis.zrange(OUTBOX_DUE, 0, -1) == [f"sms-reply-{ticket_id}"]
    job = await replying.redis.hgetall(outbox_job_key(f"sms-reply-{ticket_id}"))
    assert (job["url"], job["secret_ref"]) == (REPLY_URL, "sms_secret")
    body = json.loads(job["body"])
    assert (body["to"], body["ticket_id"], body["in_reply_to"]) == ("+8613812345678", ticket_id, "sms-0001")
    assert ticket_id in body["text"] and "受理" in body["text"]
    # a retried SMS opens nothing and queues no second reply
    await replying.client.post("/api/intake/sms", data=raw, headers=_signed(raw))
    assert await replying.redis.zcard(OUTBOX_DUE) == 1
    # a web report is not answered by SMS
    await replying.client.post("/api/tickets", json=_report(), headers=_auth("channel"))
    assert await replying.redis.zcard(OUTBOX_DUE) == 1


# --- settings and the pure parts ----------------------------------------------------------------


def test_the_gateway_secrets_come_from_the_secrets_file(tmp_path):
    from hotline_link.core.settings import load_settings

    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'sms_secret = "{SMS_SECRET}"\nsms_secret_replies = "r3plies-secret-0123456789"\n'
                       'sms_secretive = "not one"\nami_secret = "x"\n')
    secrets.chmod(0o600)
    settings = load_settings(env={"HOTLINE_STATE_DIR": str(tmp_path)})
    assert settings.sms_secrets == {"sms_secret": SMS_SECRET, "sms_secret_replies": "r3plies-secret-0123456789"}
    assert SMS_SECRET not in repr(settings)


@pytest.mark.parametrize("values, message", [
    ({"sms_reply_url": "http://sms.example.test/send"}, "sms_reply_url"),  # signed bodies go over https
    ({"sms_reply_secret_ref": "push_secret_12345_to_110"}, "sms_reply_secret_ref")])
def test_a_reply_setting_the_outbox_could_not_use_is_refused_at_start(values, message):
    from hotline_link.core.errors import ConfigError
    from tickets.config import TicketsConfig

    with pytest.raises(ConfigError, match=message):
        Settings(ami_secret="x", **values).section(TicketsConfig)


def test_the_intake_platform_is_the_configured_one_or_the_only_one_or_12345():
    from hotline_link.core.settings import SiteSettings
    from tickets.intake import intake_site

    def sites(*ids: str) -> tuple[SiteSettings, ...]:
        return tuple(SiteSettings(p, p, 25060 + i, 25038 + i, 30000 + 1000 * i, 30999 + 1000 * i, ())
                     for i, p in enumerate(ids))

    assert intake_site(Settings(ami_secret="x")) == "12345"  # both platforms in one deployment
    assert intake_site(Settings(ami_secret="x", intake_site="110")) == "110"
    assert intake_site(Settings(ami_secret="x", sites=sites("110"))) == "110"
    assert intake_site(Settings(ami_secret="x", sites=sites("110"), intake_site="12345")) is None  # not served here


async def test_a_deployment_without_the_intake_platform_refuses_channel_reports(private_redis):
    built = await _stack(private_redis, intake_site="119")
    try:
        resp = await built.client.post("/api/tickets", json=_report(), headers=_auth("channel"))
        assert (resp.status, (await resp.json())["error"]["code"]) == (409, "no_intake_site")
        resp = await built.client.post("/api/tickets", json=_report(), headers=_auth("agent"))  # own platform
        assert resp.status == 201
    finally:
        await built.client.close()


async def test_the_store_opens_a_ticket_without_a_call_only(private_redis):
    from tickets.store import Ticket

    store = TicketStore(private_redis)
    with pytest.raises(ValueError, match="open_for_call"):
        await store.open_without_call(Ticket("12345-20261124-000001", "12345", "c1"))
    opened, created = await store.open_without_call(Ticket("12345-20261124-000002", "12345", "", channel="web",
                                                           received_at=NOW))
    assert created and await store.get(opened.id) == opened  # received_at read back as a number
    assert await store.for_call("") is None  # no call is linked to it
