"""The outbox sends a signed body only where it was addressed: no redirects followed, https
except to loopback when allowed, a bounded number of attempts then a dead letter and an
alert, a bounded read of the reply, jobs and dead letters that expire. A real aiohttp
peer on loopback and a redis-server of the test's own."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from hotline_link.core.bus import EventBus
from hotline_link.core.events import PushDead
from hotline_link.core.net import url_refusal
from supervisor.figures import Dashboard
from tickets import outbox as outbox_module
from tickets.outbox import DEAD, DEAD_AT, DUE, JOB_TTL_S, Outbox, job_key, permanent


@pytest.mark.parametrize("url, allowed", [
    ("https://peer.example/api/intake/push", True), ("http://127.0.0.1:8080/x", True),
    ("http://[::1]:8080/x", True), ("http://localhost/x", True),
    ("http://peer.example/x", False), ("http://10.0.0.5/x", False), ("ftp://127.0.0.1/x", False),
    ("https://", False), ("http://[::1/x", False), ("", False),
])
def test_url_rules(url, allowed):
    assert (url_refusal(url, allow_http_loopback=True) is None) is allowed
    assert url_refusal("http://127.0.0.1/x", allow_http_loopback=False) is not None


def test_redirects_are_permanent_refusals():
    assert permanent(301) and permanent(307) and permanent(400) and not permanent(503) and not permanent(0)


async def _peer(handler) -> TestServer:
    app = web.Application()
    app.router.add_post("/in", handler)
    app.router.add_post("/elsewhere", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


async def _run_until(bus: EventBus, name: str, outbox: Outbox, timeout: float = 10.0) -> dict:
    seen: asyncio.Queue = asyncio.Queue()
    bus.listen(lambda e: seen.put_nowait(e) if e.name == name else None)
    outbox.start()
    try:
        return (await asyncio.wait_for(seen.get(), timeout)).data
    finally:
        await outbox.stop()


async def test_a_redirect_is_not_followed_and_the_job_is_a_dead_letter_with_an_alert(private_redis):
    hits: list[str] = []

    async def handler(request):
        hits.append(request.path)
        raise web.HTTPFound("/elsewhere")

    peer = await _peer(handler)
    bus, dashboard = EventBus(), Dashboard(("12345", "110"), {})
    bus.listen(lambda e: dashboard.apply(e.as_(PushDead), 1000.0) if e.is_(PushDead) else None)
    outbox = Outbox(private_redis, bus, "s3cret")
    try:
        await outbox.enqueue("job-1", str(peer.make_url("/in")), {"a": 1})
        assert 0 < await private_redis.ttl(job_key("job-1")) <= JOB_TTL_S
        dead = await _run_until(bus, "push.dead", outbox)
    finally:
        await peer.close()
    assert hits == ["/in"] and "redirect refused" in dead["reason"]
    assert await private_redis.zcard(DUE) == 0 and await private_redis.hexists(DEAD, "job-1")
    assert [a["kind"] for a in dashboard.snapshot(1001.0)["alerts"]] == ["push.dead"]


async def test_a_peer_that_keeps_failing_gets_a_bounded_number_of_attempts(private_redis, monkeypatch):
    monkeypatch.setattr(outbox_module, "MAX_ATTEMPTS", 3)
    monkeypatch.setattr(outbox_module, "backoff_s", lambda attempts: 0.01)
    attempts: list[int] = []

    async def handler(request):
        attempts.append(1)
        return web.Response(status=503, body=b"x" * 100_000)  # only a few KiB are read

    peer = await _peer(handler)
    bus = EventBus()
    outbox = Outbox(private_redis, bus, "s3cret")
    try:
        await outbox.enqueue("job-2", str(peer.make_url("/in")), {"a": 1})
        dead = await _run_until(bus, "push.dead", outbox)
    finally:
        await peer.close()
    assert len(attempts) == 3 and dead["reason"].startswith("gave up after 3 attempts")
    assert len(dead["reason"]) < 300


async def test_plain_http_to_another_host_is_never_sent_and_old_dead_letters_expire(private_redis):
    bus = EventBus()
    await private_redis.hset(DEAD, "ancient", "{}")
    await private_redis.zadd(DEAD_AT, {"ancient": 1.0})
    outbox = Outbox(private_redis, bus, "s3cret")
    await outbox.enqueue("job-3", "http://peer.example/api/intake/push", {"a": 1})
    dead = await _run_until(bus, "push.dead", outbox)
    assert "http:// is allowed only to a loopback address" in dead["reason"]
    assert not await private_redis.hexists(DEAD, "ancient")


def test_settings_refuse_a_push_target_the_outbox_would_never_send_to(tmp_path):
    from hotline_link.app import load_config  # the tickets plugin checks its own section
    from hotline_link.core.errors import ConfigError

    config = tmp_path / "c.toml"
    config.write_text('[push_targets]\n"110" = "http://peer.example/api/intake/push"\n')
    with pytest.raises(ConfigError, match=r"push_targets.110: http:// is allowed only to a loopback"):
        load_config(config, env={})
    config.write_text('push_allow_http_loopback = false\n')
    with pytest.raises(ConfigError, match=r"push_targets.12345"):
        load_config(config, env={})


def test_a_yes_no_setting_takes_true_false_and_nothing_else(tmp_path):
    from hotline_link.app import load_config  # the tickets plugin checks its own section
    from hotline_link.core.errors import ConfigError

    assert load_config(None, env={"HOTLINE_PUSH_ALLOW_HTTP_LOOPBACK": "yes"}).push_allow_http_loopback is True
    with pytest.raises(ConfigError, match="setting push_allow_http_loopback: expected bool"):
        load_config(None, env={"HOTLINE_PUSH_ALLOW_HTTP_LOOPBACK": "maybe"})
