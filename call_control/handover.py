"""The handover a transfer or three-way call sends to the other platform's deployment, as a
port call control defines: the exchange plugin's service fits it, and call control's plugin
attaches it from the services registry when that channel runs. Without one (no exchange
plugin, or its channel off) a transfer only sets its X-Ticket-* variables, as it always did."""

from __future__ import annotations

from typing import Literal, Protocol

import structlog

from tickets.store import Ticket

log = structlog.get_logger(__name__)

CallMode = Literal["transfer", "conference"]  # 一键转接, 三方通话


class HandoverChannel(Protocol):
    """The signed channel to the other deployment (``exchange.service.ExchangeService``)."""

    def carries(self, to_platform: str) -> bool: ...

    async def hand_over_call(self, ticket: Ticket, mode: CallMode, to_platform: str, call_id: str) -> object: ...


async def send_handover(channel: HandoverChannel | None, ticket: Ticket, mode: CallMode, to_platform: str,
                        call_id: str) -> bool:
    """Queue the handover of ``ticket`` as the agent asks for the transfer (or three-way
    call), if the channel carries cases to ``to_platform``: whether it did. The channel
    derives the message id from the call, so the same request again queues nothing new."""
    if channel is None or not channel.carries(to_platform):
        return False
    await channel.hand_over_call(ticket, mode, to_platform, call_id)
    log.info("call_control.handover_queued", call_id=call_id, ticket_id=ticket.id, mode=mode,
             to_platform=to_platform)
    return True
