"""The route hook reads a handed-over case's X-Ticket-* values as the other side's word:
a ';' in a value shifts none of our own fields (the IVR and screening cannot be skipped),
and a forged X-Ticket-Id links no ticket the other platform did not hand over. A stand-in
AGI session and router, real tickets on a redis-server of the test's own."""

from __future__ import annotations

from agi_scripts.route import RouteHook
from call_control.channel_vars import encode
from hotline_link.core.bus import EventBus
from tests.unit.route_hook_doubles import AgiSession, Router
from tickets.redis_keys import handed_over_key
from tickets.store import Ticket, TicketStore


def fields(*, linkedid="call-1", ivr_done="", queued_at="", rounds="1", source="12345",
           ticket="", category="", call="", summary="") -> str:
    return ";".join([linkedid, ivr_done, queued_at, rounds, source, ticket, category, call, summary])


async def test_a_semicolon_in_a_summary_shifts_none_of_our_own_fields(private_redis):
    router, screened = Router(), []

    async def screen(site, number, call_id=""):
        screened.append(number)
        return False

    hook = RouteHook(TicketStore(private_redis), router, EventBus(), screen)  # type: ignore[arg-type]  # a stand-in router
    # what the security read sent: a summary of x;1;1 (the dialplan now filters ';' out too)
    await hook(AgiSession(fields(source="", summary="x;1;1")))
    call = router.calls[-1]
    assert (call.call_id, call.ivr_done, call.handed_over, call.first_round) == ("call-1", False, False, True)
    assert screened == ["13812345678"]  # not skipped


async def test_a_forged_ticket_id_links_nothing_and_a_recorded_handover_does(private_redis):
    tickets = TicketStore(private_redis)
    victim = Ticket(id="12345-20261206-000777", site="12345", call_id="victim", summary="别人的诉求")
    await tickets.save(victim)
    hook = RouteHook(tickets, Router(), EventBus())  # type: ignore[arg-type]  # a stand-in router
    await hook(AgiSession(fields(linkedid="forged", ticket=encode(victim.id), summary=encode("伪造"))))
    forged = await tickets.for_call("forged")
    assert forged is not None and forged.source_ticket == "" and forged.summary == "伪造"
    assert not await private_redis.smembers(handed_over_key(victim.id))

    await hook(AgiSession(fields(linkedid="wrong-platform", source="110", ticket=encode(victim.id))))
    assert (await tickets.for_call("wrong-platform")) is None  # 110 -> 110 is no handover

    await tickets.record_handover(victim.id, "110")  # what a real transfer writes first
    await hook(AgiSession(fields(linkedid="real", ticket=encode(victim.id), summary=encode("转来的"))))
    real = await tickets.for_call("real")
    assert real is not None and real.source_ticket == victim.id and real.source_platform == "12345"
    assert await private_redis.smembers(handed_over_key(victim.id)) == {real.id}


async def test_a_malformed_source_platform_is_no_handover(private_redis):
    router = Router()
    hook = RouteHook(TicketStore(private_redis), router, EventBus())  # type: ignore[arg-type]  # a stand-in router
    await hook(AgiSession(fields(source=encode("12345\nX"), ticket=encode("12345-20261206-000001"))))
    assert router.calls[-1].handed_over is False
