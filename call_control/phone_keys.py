"""The phone's own keys, heard through FastAGI: what an agent does on the handset instead
of the desk gets the desk's treatment.

* ``phone_transfer`` (``[phone-transfer]``): the phone sent a blind REFER; the caller is in
  the dialplan on its way to another site. The call's ticket goes on the caller (HL_XFER)
  and the transfer is tracked as a one-click transfer.
* ``consult`` (``[agent-calls-out]``): the agent dialled another site while on a call, from
  the phone or the desk's warm transfer. The call's ticket goes on the consult leg, and the
  consult is watched until it is completed (the attended transfer) or abandoned.

A failure here never holds a call: the dialplan goes on without the ticket."""

from __future__ import annotations

import structlog

from call_control.channel_vars import ticket_variables
from call_control.consult.service import ConsultService
from call_control.transfer.service import TRANSFER_VARIABLE, TransferService
from hotline_link.asterisk.agi.server import AgiSession

log = structlog.get_logger(__name__)

MAX_CHANNEL_NAME = 120


class PhoneTransferHook:
    def __init__(self, transfers: TransferService, sites: frozenset[str]) -> None:
        self.transfers = transfers
        self.sites = sites

    async def __call__(self, session: AgiSession) -> None:
        request = session.request
        site, number = (list(request.args) + ["", ""])[:2]
        if site not in self.sites or not number.isdigit():
            log.warning("phone_transfer.refused", site=site[:32], number=number[:32])
            return
        transferer = (await session.get_variable("BLINDTRANSFER"))[:MAX_CHANNEL_NAME]
        bundle = await self.transfers.phone_transfer(site, request.uniqueid, transferer, number)
        if bundle:
            await session.set_variable(TRANSFER_VARIABLE, bundle)


class ConsultHook:
    def __init__(self, consults: ConsultService, sites: frozenset[str]) -> None:
        self.consults = consults
        self.sites = sites

    async def __call__(self, session: AgiSession) -> None:
        request = session.request
        site, agent_channel = (list(request.args) + ["", ""])[:2]
        if site not in self.sites:
            log.warning("consult.refused", site=site[:32])
            return
        number = (await session.get_variable("HL_DIALLED"))[:32]  # the AGI itself runs at hl-agi,s
        leg = await self.consults.consult_leg(site, agent_channel[:MAX_CHANNEL_NAME], request.uniqueid,
                                              number if number.isdigit() else "")
        if leg is None:
            return
        for name, value in ticket_variables(leg.ticket_id, leg.category, leg.summary, site,
                                            leg.call_id).items():
            await session.set_variable(name, value)
