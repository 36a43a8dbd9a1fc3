"""联动110 between two real deployments (tests/unit/exchange_deployments.py): a unit's
``linkage.police_requested`` on a 12345 ticket hands the ticket to 110 as a system push over
the exchange channel, once; never a restricted ticket, never from 110's side."""

from __future__ import annotations

from hotline_link.core.bus import BusEvent
from hotline_link.core.events import LinkagePoliceRequested
from tests.unit.exchange_samples import T110, T12345, ticket_110, ticket_12345


def asked(ticket_id: str, site: str = "12345") -> BusEvent:
    return BusEvent.of(LinkagePoliceRequested(ticket_id=ticket_id, unit="QD-GAS", site=site, note="有人持刀"))


async def test_a_units_police_request_hands_the_ticket_to_110(deployments):
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345())
    sent = await hotline.service.ask_police(asked(T12345))
    assert sent is not None and sent.type == "handover" and sent.to_platform == "110"
    again = await hotline.service.ask_police(asked(T12345))  # the same request again: the same message
    assert again is not None and again.message_id == sent.message_id
    await hotline.settle(police)
    taken = await police.pushed_ticket(sent.message_id)
    assert taken.site == "110" and taken.source_platform == "12345" and taken.source_ticket == T12345
    assert await police.ticket_count() == 1


async def test_no_hand_over_for_a_restricted_ticket_or_on_110(deployments):
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345(restricted=True))
    assert await hotline.service.ask_police(asked(T12345)) is None
    await police.tickets.save(ticket_110())
    assert await police.service.ask_police(asked(T110, "110")) is None  # 110 dispatches police itself
    assert await hotline.service.ask_police(asked("12345-20261124-999999")) is None  # no such ticket
    await hotline.settle(police)
    assert await police.ticket_count() == 1  # its own ticket only: nothing came from 12345
    assert await hotline.ticket_count() == 1
