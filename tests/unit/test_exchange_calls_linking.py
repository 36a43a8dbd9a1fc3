"""One ticket on the receiver per handed-over case, whichever road brings it first: the
transferred call (over the trunk, with X-Ticket-Id, through the route hook) or its handover
message (over the channel, through the applier). The second attaches to the first's ticket;
under a race of both (two server instances, two Redis clients) one of them opens it. Two
deployments on redis-servers of their own, the receiver's real route hook."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from agi_scripts.plugin import RouteHookPlugin
from exchange.app_keys import EXCHANGE
from exchange.calls import call_proven_by
from exchange.messages import Envelope
from exchange.redis_keys import opened_for_key, opened_key
from hotline_link.app import App
from hotline_link.core.settings import Settings
from tests.unit.exchange_calls import arrive, route_hook
from tests.unit.exchange_deployments import Deployment
from tests.unit.exchange_samples import T12345, ticket_12345
from tests.unit.test_exchange_plugin_app import police_config
from tickets.redis_keys import ticket_calls_key
from tickets.store import Ticket, TicketStore

CALL_12345 = "hl12345-1795530667.13"
ARRIVED = "hl110-1795530700.5"  # the transferred call as 110's Asterisk names it


async def handed_over(hotline: Deployment, police: Deployment, ticket: Ticket | None = None,
                      call_id: str = CALL_12345) -> Envelope:
    """12345 hands its ticket over by transfer; the message is in 110's inbox, not applied."""
    ticket = ticket or ticket_12345()
    await hotline.tickets.save(ticket)
    sent = await hotline.service.hand_over_call(ticket, "transfer", "110", call_id)
    assert await hotline.service.send_once() == 1
    return sent


async def only_ticket(police: Deployment) -> Ticket:
    keys = [k async for k in police.redis.scan_iter("hl:ticket:110-*")]
    assert len(keys) == 1, f"110 holds {len(keys)} tickets: {keys}"
    ticket = await police.tickets.get(keys[0].removeprefix("hl:ticket:"))
    assert ticket is not None
    return ticket


async def test_message_first_then_the_call_joins_its_ticket(deployments):
    hotline, police = deployments
    sent = await handed_over(hotline, police)
    assert await police.service.apply_once() == 1
    opened = await police.redis.get(opened_key(sent.message_id))
    # the call's headers are the other side's word: the signed message's content stays
    await arrive(route_hook(police), "110", ARRIVED, "12345", T12345, "别的分类", "别的摘要")
    ticket = await only_ticket(police)
    assert ticket.id == opened and (await police.tickets.for_call(ARRIVED)) == ticket
    assert (ticket.source_platform, ticket.source_ticket, ticket.category, ticket.summary) == \
        ("12345", T12345, ticket_12345().category, ticket_12345().summary)
    assert await police.redis.smembers(ticket_calls_key(ticket.id)) >= {ARRIVED}
    assert await police.redis.get(opened_for_key("12345", T12345)) == ticket.id


async def test_call_first_then_the_message_completes_the_calls_ticket(deployments):
    hotline, police = deployments
    await arrive(route_hook(police), "110", ARRIVED, "12345", T12345)  # headers without content
    by_call = await police.tickets.for_call(ARRIVED)
    assert by_call is not None and (by_call.source_platform, by_call.source_ticket) == ("12345", "")  # not proven
    sent = await handed_over(hotline, police)
    assert await police.service.apply_once() == 1
    ticket = await only_ticket(police)
    assert ticket.id == by_call.id == await police.redis.get(opened_key(sent.message_id))
    assert (ticket.call_id, ticket.source_ticket, ticket.category, ticket.summary, ticket.division_code) == \
        (ARRIVED, T12345, ticket_12345().category, ticket_12345().summary, ticket_12345().division_code)
    assert await police.service.audit.is_linked(ticket.id, "12345", T12345)
    [(event, data)] = await police.story(ticket.id)
    assert (event, data["peer_ticket"]) == ("exchange.received.handover", T12345)


async def test_call_first_keeps_what_the_calls_headers_said(deployments):
    hotline, police = deployments
    await arrive(route_hook(police), "110", ARRIVED, "12345", T12345, "来电所述", "")
    await handed_over(hotline, police)
    await police.service.apply_once()
    ticket = await only_ticket(police)
    assert (ticket.category, ticket.summary) == ("来电所述", ticket_12345().summary)  # filled only where empty


async def test_a_restricted_case_makes_the_calls_ticket_restricted(deployments):
    hotline, police = deployments
    await arrive(route_hook(police), "110", ARRIVED, "12345", T12345)
    await handed_over(hotline, police, ticket_12345(restricted=True))
    await police.service.apply_once()
    ticket = await only_ticket(police)
    assert (ticket.restricted, ticket.category, ticket.summary, ticket.source_ticket) == (True, "", "", T12345)


async def test_the_message_applied_again_after_attaching_changes_nothing(deployments):
    hotline, police = deployments
    await arrive(route_hook(police), "110", ARRIVED, "12345", T12345)
    await handed_over(hotline, police)
    [(_, envelope)] = await police.service._on().inbox.claim("died", 10, 0)
    await police.service.apply(envelope)  # an applier that died before done
    before = await only_ticket(police)
    assert await police.service.apply_once(idle_ms=0) == 1
    assert await only_ticket(police) == before
    assert [event for event, _ in await police.story(before.id)] == ["exchange.received.handover"]


async def test_a_second_call_of_the_same_case_joins_the_same_ticket(deployments):
    hotline, police = deployments
    hook = route_hook(police)
    await arrive(hook, "110", ARRIVED, "12345", T12345)
    await arrive(hook, "110", "hl110-1795530800.9", "12345", T12345)  # the three-way call after it
    await handed_over(hotline, police)
    await police.service.apply_once()
    ticket = await only_ticket(police)
    assert await police.redis.smembers(ticket_calls_key(ticket.id)) >= {ARRIVED, "hl110-1795530800.9"}


async def test_the_call_naming_the_handed_over_call_is_completed_by_its_message(deployments):
    hotline, police = deployments
    await arrive(route_hook(police), "110", ARRIVED, "12345", T12345, source_call=CALL_12345)
    await handed_over(hotline, police)
    await police.service.apply_once()
    ticket = await only_ticket(police)
    assert (ticket.call_id, ticket.source_ticket) == (ARRIVED, T12345)


async def test_a_forged_call_first_does_not_take_the_case(deployments, log_lines):
    """X-Ticket-Id of a real case, but X-Ticket-Call naming another call: the signed message
    (source_call) does not complete that call's ticket; it opens the case's own, which later
    calls of the case join."""
    hotline, police = deployments
    hook = route_hook(police)
    await arrive(hook, "110", "hl110-1795530650.1", "12345", T12345, "伪造", source_call="hl12345-1795530600.1")
    forged = await police.tickets.for_call("hl110-1795530650.1")
    assert forged is not None and forged.source_ticket == ""
    sent = await handed_over(hotline, police)
    assert await police.service.apply_once() == 1
    case = await police.tickets.get(await police.redis.get(opened_key(sent.message_id)))
    assert case is not None and case.id != forged.id
    assert (case.source_ticket, case.category, case.call_id) == (T12345, ticket_12345().category, "")
    assert await police.tickets.get(forged.id) == forged  # left as it was: unproven, not completed
    assert not await police.service.audit.is_linked(forged.id, "12345", T12345)
    [warning] = log_lines.events("exchange.call_not_proven")
    assert (warning["call_ticket"], warning["ticket"]) == (forged.id, case.id)
    await arrive(hook, "110", ARRIVED, "12345", T12345, source_call=CALL_12345)  # the real call
    assert await police.tickets.for_call(ARRIVED) == await police.tickets.get(case.id)


async def test_a_call_from_a_sender_without_the_header_is_completed_as_before(deployments):
    hotline, police = deployments
    await arrive(route_hook(police), "110", ARRIVED, "12345", T12345)  # no X-Ticket-Call
    await handed_over(hotline, police)
    await police.service.apply_once()
    assert (await only_ticket(police)).call_id == ARRIVED


def test_a_handover_proves_a_call_only_when_both_name_the_same_call() -> None:
    assert call_proven_by("hl12345-1.1", "hl12345-1.1")
    assert not call_proven_by("hl12345-1.1", "hl12345-2.2")
    assert call_proven_by(None, "hl12345-1.1") and call_proven_by("", "hl12345-1.1")  # no header: as before
    assert call_proven_by("hl12345-1.1", None)  # a push names no call


async def test_without_the_intake_the_route_hook_opens_its_own_ticket_as_it_did(deployments):
    hotline, police = deployments
    await arrive(route_hook(police, attached=False), "110", ARRIVED, "12345", T12345)
    await handed_over(hotline, police)
    await police.service.apply_once()
    assert await police.ticket_count() == 2  # what the exchange channel set out to end


async def test_a_header_naming_no_case_of_the_peer_opens_a_ticket_as_before(deployments):
    _, police = deployments
    await arrive(route_hook(police), "110", ARRIVED, "12345", "110-20261124-000031")  # 110's own number
    ticket = await only_ticket(police)
    assert (ticket.source_platform, ticket.source_ticket) == ("12345", "")
    assert [k async for k in police.redis.scan_iter("hl:exchange:opened-for:*")] == []


@pytest.fixture
async def second_instance(deployments, peer_redis_url: str) -> AsyncIterator[Deployment]:
    """110's second server instance: its own client of 110's Redis."""
    _, police = deployments
    client = Redis.from_url(peer_redis_url, decode_responses=True)
    yield Deployment("110", client, police.clock)
    await client.aclose()


def held_after_reading(tickets: TicketStore, both_read: asyncio.Barrier, go: asyncio.Event | None) -> None:
    """Hold a road inside its claim step, once: it has read the claim free and takes a
    number for its new ticket; it goes on when both roads are there (and ``go`` is set)."""
    original = tickets.new_id

    async def new_id(site: str) -> str:
        tickets.new_id = original  # type: ignore[method-assign]
        await both_read.wait()
        if go is not None:
            await go.wait()
        return await original(site)

    tickets.new_id = new_id  # type: ignore[method-assign]


@pytest.mark.parametrize("first_to_write", ["call", "message"])
async def test_both_roads_reading_the_claim_free_still_open_one_ticket(deployments, second_instance, first_to_write):
    hotline, police = deployments
    sent = await handed_over(hotline, police)
    [(_, envelope)] = await police.service._on().inbox.claim("racer", 10, 0)
    both_read, call_done, message_done = asyncio.Barrier(2), asyncio.Event(), asyncio.Event()
    held_after_reading(police.tickets, both_read, call_done if first_to_write == "call" else None)
    held_after_reading(second_instance.tickets, both_read, message_done if first_to_write == "message" else None)

    async def message() -> None:
        await police.service.apply(envelope)
        message_done.set()

    async def call() -> None:
        await arrive(route_hook(second_instance), "110", ARRIVED, "12345", T12345)
        call_done.set()

    await asyncio.wait_for(asyncio.gather(message(), call()), 10)
    ticket = await only_ticket(police)
    assert ticket.id == await police.redis.get(opened_key(sent.message_id))
    assert (await police.tickets.for_call(ARRIVED)) == ticket
    assert ticket.call_id == (ARRIVED if first_to_write == "call" else "")  # who opened it
    assert (ticket.source_ticket, ticket.summary) == (T12345, ticket_12345().summary)


async def race(police: Deployment, other: Deployment, envelope: Envelope, call_id: str, call_starts: bool) -> None:
    """The message applied by one instance while the call arrives at another, either one
    set off first."""
    message = police.service.apply(envelope)
    call = arrive(route_hook(other), "110", call_id, "12345", envelope.ticket)
    await asyncio.gather(*((call, message) if call_starts else (message, call)))


async def test_the_call_and_its_message_racing_open_one_ticket(deployments, second_instance):
    hotline, police = deployments
    cases = [f"12345-20261124-{n:06d}" for n in range(100, 120)]
    for n, source in enumerate(cases):
        await handed_over(hotline, police, ticket_12345(id=source), call_id=f"hl12345-1795530667.{n}")
    claimed = await police.service._on().inbox.claim("racer", 100, 0)
    assert len(claimed) == len(cases)
    await asyncio.gather(*(race(police, second_instance, envelope, f"hl110-1795530700.{n}", n % 2 == 1)
                           for n, (_, envelope) in enumerate(claimed)))
    assert await police.ticket_count() == len(cases)  # one per case, not two
    for n, (_, envelope) in enumerate(claimed):
        ticket = await police.tickets.for_call(f"hl110-1795530700.{n}")
        assert ticket is not None and ticket.id == await police.redis.get(opened_key(envelope.message_id))
        assert (ticket.source_ticket, ticket.summary) == (envelope.ticket, ticket_12345().summary)


async def test_the_route_hook_takes_handed_over_calls_through_the_exchange_only_when_it_runs(tmp_path):
    one = App(Settings(state_dir=tmp_path / "one", ami_secret="x", exchange_peer_url="http://127.0.0.1:8081",
                       exchange_allow_http_loopback=True))
    two = App(police_config(tmp_path))
    try:
        for server, runs in ((one, False), (two, True)):
            plugin = next(p for p in server.plugins if isinstance(p, RouteHookPlugin))
            await plugin.start()
            assert plugin.hook.intake is (server[EXCHANGE] if runs else None)
    finally:
        for server in (one, two):
            await server.redis.aclose()
