"""Partitions between two real deployments (issue 17): the other deployment's server down,
then back. Messages wait in the outbox and go once; the link goes ``down`` with its error
and comes back ``up``; the backlog and the age of its oldest message grow with the clock;
the probe finds a partition with nothing to send; the status API and the bus say so.
Real redis-servers and aiohttp servers; rounds driven one at a time on the test clock."""

from __future__ import annotations

from typing import Any

import aiohttp

from exchange import wire
from exchange.effects import Peer
from exchange.link import DOWN_AFTER, LinkState
from tests.unit.exchange_deployments import SUPERVISOR_TOKEN, Deployment, events_named, keyring, misaddress
from tests.unit.exchange_samples import T110, T12345, ticket_110, ticket_12345

CONNECT_ERROR = "cannot connect to the peer (ClientConnectorError)"


async def status_over_http(session: aiohttp.ClientSession, deployment: Deployment) -> dict[str, Any]:
    async with session.get(f"{deployment.url}/api/exchange/v1/status",
                           headers={"Authorization": f"Bearer {SUPERVISOR_TOKEN}"}) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def linked_from_110(hotline: Deployment, police: Deployment) -> str:
    """110's sample case handed to 12345 and settled: 12345's ticket for it, linked."""
    await police.tickets.save(ticket_110())
    sent = await police.service.hand_over(ticket_110(), "push", "12345")
    await hotline.settle(police)
    return (await hotline.pushed_ticket(sent.message_id)).id


async def test_the_peer_down_messages_wait_and_go_once_when_it_is_back(deployments, session):
    hotline, police = deployments
    service = hotline.service
    opened = await linked_from_110(hotline, police)
    assert service.link.state is LinkState.UP  # the settled messages were acknowledged
    with hotline.bus.subscribe() as seen:
        await police.down()
        await hotline.tickets.save(ticket_12345())
        queued_at = hotline.clock.now
        handover = await hotline.service.hand_over(ticket_12345(), "push", "110")  # a case handed over
        feedback = await hotline.service.status(await hotline.tickets.get(opened), Peer("110", T110),  # type: ignore[arg-type]
                                                "arrived", unit="市南城管", detail="已到场")  # 反馈回写
        for attempt in range(1, DOWN_AFTER + 1):
            assert await service.send_once() == 2
            assert service.link.state is (LinkState.DOWN if attempt == DOWN_AFTER else LinkState.UP)
            hotline.clock.now += 10  # past the back-off
        went_down_at = queued_at + 10 * (DOWN_AFTER - 1)
        state = await status_over_http(session, hotline)
        assert state["link"] == {"state": "down", "since": went_down_at, "error": CONNECT_ERROR,
                                 "failures": DOWN_AFTER}
        assert (state["backlog"], state["waiting"], state["waiting_by_direction"]) == \
            (2, 2, {"12345->110": 2, "110->12345": 0})
        assert (state["oldest_waiting_s"], state["stopped_count"], state["dead_count"]) == (30.0, 0, 0)
        hotline.clock.now += 600  # a long partition: the backlog only grows older
        await hotline.tickets.save(ticket_12345(id="12345-20261124-000018"))
        await hotline.service.hand_over(ticket_12345(id="12345-20261124-000018"), "push", "110")
        state = await status_over_http(session, hotline)
        assert (state["waiting"], state["oldest_waiting_s"], state["link"]["state"]) == (3, 630.0, "down")
        assert await police.ticket_count() == 1  # 110's own case only: nothing got through

        await police.up()  # on the same port
        hotline.clock.now += 60
        await hotline.settle(police)
    assert service.link.state is LinkState.UP and service.link.since == hotline.clock.now
    assert [(e["previous"], e["state"]) for e in events_named(seen, "exchange.link")] == [("up", "down"),
                                                                                          ("down", "up")]
    assert events_named(seen, "exchange.link")[0]["error"] == CONNECT_ERROR
    state = await status_over_http(session, hotline)
    assert (state["link"]["state"], state["waiting"], state["oldest_waiting_s"]) == ("up", 0, None)
    # each message taken once by 110, none twice: two cases opened, one 反馈 on 110's ticket
    taken = [e for e in await police.service.audit.log() if e["direction"] == "in" and e["from"] == "12345"]
    outcomes = {mid: [e["outcome"] for e in taken if e["message_id"] == mid]
                for mid in (handover.message_id, feedback.message_id)}
    assert outcomes == {handover.message_id: ["applied"], feedback.message_id: ["applied"]}
    assert await police.ticket_count() == 3
    assert (await police.pushed_ticket(handover.message_id)).source_ticket == T12345
    assert [event for event, _ in await police.story(T110)].count("exchange.received.status") == 1


async def test_the_probe_finds_a_partition_with_nothing_to_send(deployments):
    hotline, police = deployments
    service, probe_s = hotline.service, hotline.service.config.exchange_probe_s
    assert (probe_s, service.link.state) == (10.0, LinkState.UNKNOWN)
    with hotline.bus.subscribe() as seen:
        assert await service.link_once() is True  # nothing learned yet: a probe
        assert service.link.state is LinkState.UP
        hotline.clock.now += probe_s - 1
        assert await service.link_once() is False  # learned less than exchange_probe_s ago
        await police.down()
        for _ in range(DOWN_AFTER):
            hotline.clock.now += probe_s
            assert await service.link_once() is True
        assert service.link.state is LinkState.DOWN
        assert service.link.error == f"probe: {CONNECT_ERROR}"
        assert await service._on().outbox.backlog() == 0  # the outbox had nothing to tell
        await police.up()
        hotline.clock.now += probe_s
        assert await service.link_once() is True
    assert service.link.state is LinkState.UP
    assert [(e["previous"], e["state"], e["site"], e["peer_platform"]) for e in events_named(seen, "exchange.link")] \
        == [("unknown", "up", "12345", "110"), ("up", "down", "12345", "110"), ("down", "up", "12345", "110")]


async def test_an_attempt_is_as_good_as_a_probe(deployments):
    hotline, _ = deployments
    await hotline.tickets.save(ticket_12345())
    await hotline.push.push(T12345, "110")
    assert await hotline.service.send_once() == 1  # acknowledged: the link is up, learned now
    assert hotline.service.link.state is LinkState.UP
    hotline.clock.now += hotline.service.config.exchange_probe_s - 1
    assert await hotline.service.link_once() is False


async def test_the_probe_is_signed_and_a_wrong_key_is_a_key_alert(deployments, session):
    hotline, police = deployments
    async with session.get(police.url + wire.HELLO_PATH) as resp:  # anyone may ask; unsigned, nothing is said
        assert resp.status == 401
        body = await resp.json()
    assert body["error"]["code"] == "bad_signature" and "110" not in str(body)
    client = hotline.service.client
    assert client is not None
    client.keyring = keyring(up="w" * 40)  # type: ignore[attr-defined]  # 12345 holds a wrong secret for k1
    assert await hotline.service.probe_once() is LinkState.KEY_ALERT
    assert hotline.service.link.error == "probe: bad_signature: signature does not match"
    client.keyring = keyring()  # type: ignore[attr-defined]  # the operator fixes the secrets file
    assert await hotline.service.probe_once() is LinkState.UP


async def test_a_stopped_queue_is_refused_until_resumed(deployments, session):
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345())
    client = hotline.service.client
    right_url = misaddress(hotline, police)
    await hotline.push.push(T12345, "110")
    await hotline.service.send_once()
    state = await status_over_http(session, hotline)
    assert (state["link"]["state"], state["stopped_count"], state["waiting"]) == ("refused", 1, 1)
    assert state["link"]["error"].startswith("1 queue stopped: method_not_allowed: HTTP 405")
    assert await hotline.service.probe_once() is LinkState.REFUSED  # the peer is there; the queue still waits
    client.url = right_url  # type: ignore[attr-defined]
    assert await hotline.service.resume("110", T12345)
    assert hotline.service.link.state is LinkState.UP  # no queue stopped any more
    await hotline.settle(police)
    assert (await status_over_http(session, hotline))["waiting"] == 0


async def test_the_link_loop_probes_once_started(deployments):
    hotline, _ = deployments
    with hotline.bus.subscribe() as seen:
        await hotline.service.start()
        up = await seen.wait_for(lambda e: e.name == "exchange.link" and e.data["state"] == "up", timeout=10)
    assert up.data["previous"] == "unknown" and hotline.service.backlog.outgoing == 0
    assert hotline.service.view()["state"] == "up"
