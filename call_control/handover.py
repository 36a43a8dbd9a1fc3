"""The handover a transfer or three-way call sends to the other platform's deployment, as a
port call control defines: the exchange plugin's service fits it, and call control's plugin
attaches it from the services registry when that channel runs. Without one (no exchange
plugin, or its channel off) a transfer only sets its X-Ticket-* variables, as it always did."""

from __future__ import annotations

from typing import Literal, Protocol

import structlog
from redis.exceptions import RedisError

from tickets.store import Ticket

log = structlog.get_logger(__name__)

CallMode = Literal["transfer", "conference"]  # 一键转接, 三方通话


class HandoverChannel(Protocol):
    """The signed channel to the other deployment (``exchange.service.ExchangeService``)."""

    def carries(self, to_platform: str) -> bool: ...

    async def hand_over_call(self, ticket: Ticket, mode: CallMode, to_platform: str, call_id: str) -> object: ...


async def send_handover(channel: HandoverChannel | None, ticket: Ticket, mode: CallMode, to_platform: str,
                        call_id: str) -> bool:
    """Queue the handover of ``ticket`` once Asterisk has taken the transfer (or dials the
    three-way call's third party), if the channel carries cases to ``to_platform``: whether
    it did. A transfer Asterisk refused hands nothing over: the caller never left. The
    channel derives the message id from the call, so the same request again queues nothing
    new. The call is already on its way, so a Redis failure here is logged, not raised: the
    case still crosses by the call's headers (its source unproven by a signed message)."""
    if channel is None or not channel.carries(to_platform):
        return False
    try:
        await channel.hand_over_call(ticket, mode, to_platform, call_id)
    except RedisError as exc:
        log.error("call_control.handover_not_queued", call_id=call_id, ticket_id=ticket.id, mode=mode,
                  to_platform=to_platform, error=str(exc))
        return False
    log.info("call_control.handover_queued", call_id=call_id, ticket_id=ticket.id, mode=mode,
             to_platform=to_platform)
    return True
