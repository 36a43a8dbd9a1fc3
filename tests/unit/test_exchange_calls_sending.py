"""A one-click transfer and a three-way call to the other platform send their handover over
the exchange channel, as the agent asks for them: mode ``transfer`` or ``conference``, the
call as ``source_call``, queued once however often the request comes; a restricted 110 case
crosses by its number only; with the channel off (or no exchange plugin) nothing is sent
and the transfer is what it always was. The real transfer and three-way call services, a
recording stand-in for AMI, two deployments on redis-servers of their own."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from call_control.conference import service as conference_service
from call_control.conference.state import ConferenceState
from call_control.errors import AsteriskRefused
from call_control.keys import CONFERENCES, TRANSFERS
from call_control.plugin import CallControlPlugin
from call_control.transfer import service as transfer_service
from call_control.transfer.state import TransferState
from exchange.app_keys import EXCHANGE
from exchange.calls import call_handover_id
from exchange.messages import HandoverBody
from hotline_link.app import BUILTIN_PLUGINS, App
from hotline_link.asterisk.ami.manager import AmiEvent
from hotline_link.core.errors import AmiError
from hotline_link.core.settings import Settings
from hotline_link.plugin import Services
from tests.unit.exchange_calls import AGENT_110, AGENT_12345, CallDesk, outgoing, queued
from tests.unit.exchange_deployments import Clock, Deployment
from tests.unit.test_exchange_plugin_app import police_config

CALL_12345 = "hl12345-1795530667.13"
CALL_110 = "hl110-1795530667.2"


def handover_of(envelope: object) -> HandoverBody:
    assert envelope is not None, "no handover was queued"
    body = envelope.body  # type: ignore[attr-defined]
    assert isinstance(body, HandoverBody)
    return body


async def failed(desk: CallDesk, call_id: str) -> None:
    """The dialplan says the target did not answer: the caller is back with the agent."""
    await desk.transfers.on_event(AmiEvent(desk.one.platform, "UserEvent", {
        "Uniqueid": call_id, "UserEvent": "HotlineTransfer", "Stage": "failed", "Status": "NOANSWER"}))


async def test_a_transfer_to_110_queues_one_handover_by_transfer_naming_the_call(deployments):
    hotline, police = deployments
    desk = CallDesk(hotline)
    desk.attach()
    desk.answered_call(CALL_12345, AGENT_12345)
    transfer = await desk.transfers.blind_transfer(CALL_12345, AGENT_12345, "110", wait="none",
                                                   category="噪音扰民", summary="夜间施工噪音")
    sent = await outgoing(hotline, call_handover_id(CALL_12345, "transfer", "110"))
    assert sent is not None and (sent.to_platform, sent.ticket, sent.seq) == ("110", transfer.ticket_id, 1)
    body = handover_of(sent)
    assert (body.mode, body.source_call, body.restricted, body.category, body.summary) == \
        ("transfer", CALL_12345, False, "噪音扰民", "夜间施工噪音")
    assert [a["Action"] for a in desk.ami.sent] == ["Setvar", "BlindTransfer"]  # the transfer as ever
    await hotline.settle(police)
    assert await police.ticket_count() == 1  # the message reached 110 and opened its ticket


async def test_a_retried_transfer_request_queues_no_second_handover(deployments):
    hotline, _ = deployments
    desk = CallDesk(hotline)
    desk.attach()
    desk.answered_call(CALL_12345, AGENT_12345)
    first = await desk.transfers.blind_transfer(CALL_12345, AGENT_12345, "110", wait="none")
    await failed(desk, CALL_12345)  # no answer at 110: the agent clicks again
    again = await desk.transfers.blind_transfer(CALL_12345, AGENT_12345, "110", wait="none")
    assert first.id != again.id and first.ticket_id == again.ticket_id
    assert [a["Action"] for a in desk.ami.sent] == ["Setvar", "BlindTransfer"] * 2  # both really transferred
    assert len(await queued(hotline, first.ticket_id, "handover")) == 1
    assert await hotline.service._on().outbox.backlog() == 1


async def test_a_double_click_queues_one_handover(deployments):
    hotline, _ = deployments
    desk = CallDesk(hotline)
    desk.attach()
    desk.answered_call(CALL_12345, AGENT_12345)
    results = await asyncio.gather(*(desk.transfers.blind_transfer(CALL_12345, AGENT_12345, "110", wait="none")
                                     for _ in range(2)), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["OperationInProgress", "Transfer"]
    [ticket_id] = {r.ticket_id for r in results if not isinstance(r, BaseException)}
    assert len(await queued(hotline, ticket_id, "handover")) == 1


async def test_a_three_way_call_with_110_queues_a_handover_by_conference(deployments, monkeypatch):
    monkeypatch.setattr(conference_service, "JOIN_TIMEOUT_S", 2.0)
    hotline, _ = deployments
    desk = CallDesk(hotline)
    desk.attach()
    desk.answered_call(CALL_12345, AGENT_12345)

    async def both_join() -> None:  # Asterisk moving caller and agent into the room
        for uid, channel in ((CALL_12345, "PJSIP/anonymous-00000029"), (f"{CALL_12345}.1", "PJSIP/1001-0000002a")):
            room = next(iter(desk.conferences.rooms.values())).room
            await desk.conferences.on_join(AmiEvent("12345", "ConfbridgeJoin", {
                "Conference": room, "Uniqueid": uid, "Channel": channel}))

    desk.ami.on_send["Redirect"] = both_join
    conf = await desk.conferences.start(CALL_12345, AGENT_12345, "110", wait=False, category="纠纷",
                                        summary="责任不清")
    assert conf.state is ConferenceState.DIALLING
    body = handover_of(await outgoing(hotline, call_handover_id(CALL_12345, "conference", "110")))
    assert (body.mode, body.source_call, body.category, body.summary) == ("conference", CALL_12345, "纠纷", "责任不清")
    assert await outgoing(hotline, call_handover_id(CALL_12345, "transfer", "110")) is None
    assert [a["Action"] for a in desk.ami.sent] == ["Setvar", "Redirect", "Originate"]


async def test_a_restricted_110_case_transferred_to_12345_crosses_by_its_number_only(deployments):
    hotline, police = deployments
    desk = CallDesk(police)
    desk.attach()
    desk.answered_call(CALL_110, AGENT_110)
    transfer = await desk.transfers.blind_transfer(CALL_110, AGENT_110, "12345", wait="none",
                                                   category="涉案线索", summary="涉案线索，地址保密")
    body = handover_of(await outgoing(police, call_handover_id(CALL_110, "transfer", "12345")))
    assert (body.restricted, body.category, body.summary, body.caller, body.division_code, body.emergency) == \
        (True, "", "", "", "", False)
    assert body.source_call == CALL_110
    setvar = next(a for a in desk.ami.sent if a["Action"] == "Setvar")
    assert "%E6%B6%89" not in setvar["Value"]  # nor does the call's X-Ticket-* say it (涉 encoded)
    await hotline.settle(police)
    [ticket_id] = [k.removeprefix("hl:ticket:") async for k in hotline.redis.scan_iter("hl:ticket:12345-*")]
    ticket = await hotline.tickets.get(ticket_id)
    assert ticket is not None and (ticket.restricted, ticket.summary, ticket.source_ticket) == \
        (True, "", transfer.ticket_id)


async def test_with_the_channel_off_a_transfer_sends_nothing_and_is_what_it_was(private_redis):
    off = Deployment("12345", private_redis, Clock())
    off.service.channel = None  # the exchange plugin loaded, its channel off
    desk = CallDesk(off)
    plugin = CallControlPlugin()
    plugin.transfers, plugin.conferences = desk.transfers, desk.conferences
    assert plugin.attach_exchange(Services({EXCHANGE: off.service})) is False
    desk.answered_call(CALL_12345, AGENT_12345)
    transfer = await desk.transfers.blind_transfer(CALL_12345, AGENT_12345, "110", wait="none")
    assert [a["Action"] for a in desk.ami.sent] == ["Setvar", "BlindTransfer"]
    assert await off.tickets.handover_was_sent(transfer.ticket_id, "110")  # recorded as ever
    assert [k async for k in private_redis.scan_iter("hl:exchange:*")] == []


async def test_call_control_attaches_the_exchange_only_when_its_channel_runs(tmp_path):
    one = App(Settings(state_dir=tmp_path / "one", ami_secret="x", exchange_peer_url="http://127.0.0.1:8081",
                       exchange_allow_http_loopback=True))
    two = App(police_config(tmp_path))
    for server, runs in ((one, False), (two, True)):
        plugin = next(p for p in server.plugins if isinstance(p, CallControlPlugin))
        assert plugin.attach_exchange(server.services) is runs
        expected = server[EXCHANGE] if runs else None
        assert server[TRANSFERS].handover is expected and server[CONFERENCES].handover is expected
        await server.redis.aclose()


async def test_without_the_exchange_plugin_call_control_attaches_nothing(tmp_path):
    chosen = [cls() for name, cls in BUILTIN_PLUGINS.items() if name != "exchange"]
    server = App(police_config(tmp_path), plugins=chosen)
    plugin = next(p for p in server.plugins if isinstance(p, CallControlPlugin))
    assert EXCHANGE not in server.services
    assert plugin.attach_exchange(server.services) is False and server[TRANSFERS].handover is None
    await server.redis.aclose()


async def _refused() -> None:
    raise AmiError("Channel not bridged")


async def test_a_transfer_asterisk_refuses_hands_nothing_over(deployments, monkeypatch):
    """The caller never left the agent: 110 must not open a case for a call that never came."""
    monkeypatch.setattr(transfer_service, "BRIDGE_RETRY_S", 0.0)
    hotline, police = deployments
    desk = CallDesk(hotline)
    desk.attach()
    desk.answered_call(CALL_12345, AGENT_12345)
    desk.ami.on_send["BlindTransfer"] = _refused
    transfer = await desk.transfers.blind_transfer(CALL_12345, AGENT_12345, "110", wait="none")
    assert (transfer.state, transfer.reason) == (TransferState.FAILED, "asterisk_refused")
    assert await outgoing(hotline, call_handover_id(CALL_12345, "transfer", "110")) is None
    assert await queued(hotline, transfer.ticket_id, "handover") == []
    await hotline.settle(police)
    assert await police.ticket_count() == 0
    desk.ami.on_send.pop("BlindTransfer")  # the agent tries again, and Asterisk takes it
    again = await desk.transfers.blind_transfer(CALL_12345, AGENT_12345, "110", wait="none")
    assert len(await queued(hotline, again.ticket_id, "handover")) == 1


async def test_a_three_way_call_asterisk_refuses_hands_nothing_over(deployments, monkeypatch):
    monkeypatch.setattr(conference_service, "JOIN_TIMEOUT_S", 2.0)
    hotline, _ = deployments
    desk = CallDesk(hotline)
    desk.attach()
    desk.answered_call(CALL_12345, AGENT_12345)
    desk.ami.on_send["Redirect"] = _refused
    with pytest.raises(AsteriskRefused):
        await desk.conferences.start(CALL_12345, AGENT_12345, "110", wait=False)
    assert await outgoing(hotline, call_handover_id(CALL_12345, "conference", "110")) is None


class BrokenOutbox:
    """An exchange channel whose Redis is away as the transfer is taken."""

    def carries(self, to_platform: str) -> bool:
        return True

    async def hand_over_call(self, *_: object) -> object:
        raise RedisConnectionError("Connection refused")


async def test_a_handover_redis_cannot_queue_leaves_the_transfer_done_and_says_so(deployments, log_lines):
    hotline, _ = deployments
    desk = CallDesk(hotline)
    desk.transfers.attach_handover(BrokenOutbox())
    desk.answered_call(CALL_12345, AGENT_12345)
    transfer = await desk.transfers.blind_transfer(CALL_12345, AGENT_12345, "110", wait="none")
    assert transfer.state is TransferState.DIALLING
    assert [a["Action"] for a in desk.ami.sent] == ["Setvar", "BlindTransfer"]
    [line] = log_lines.events("call_control.handover_not_queued")
    assert (line["call_id"], line["to_platform"], line["level"]) == (CALL_12345, "110", "error")
