"""The IVR's dialplan events (AMI ``UserEvent: HotlineIvr``) as bus events for the
supervisor dashboard: ``ivr.entered`` {call_id, site}, ``ivr.choice`` {call_id, site,
choice[, topic]}, ``ivr.left`` {call_id, site, choice}. ``call_id`` is the linkedid."""

from __future__ import annotations

import structlog

from hotline_link.asterisk.ami.manager import AmiEvent, AmiManager
from hotline_link.core.bus import EventBus
from hotline_link.core.events import IvrChoice, IvrEntered, IvrLeft, payload

log = structlog.get_logger(__name__)

USER_EVENT = "HotlineIvr"
STAGES = frozenset({"entered", "choice", "left"})


def bus_event(event: AmiEvent) -> IvrEntered | IvrChoice | IvrLeft | None:
    """The bus event for one AMI UserEvent, or None when it is not the IVR's."""
    if event.get("UserEvent") != USER_EVENT:
        return None
    stage = event.get("Stage").strip()
    if stage not in STAGES:
        log.warning("ivr.unknown_stage", stage=stage, site=event.site)
        return None
    call_id = event.get("Linkedid") or event.get("Uniqueid")
    if stage == "entered":
        return IvrEntered(call_id=call_id, site=event.site)
    choice = event.get("Choice").strip()
    if stage == "choice":
        return IvrChoice(call_id=call_id, site=event.site, choice=choice, topic=event.get("Topic").strip())
    return IvrLeft(call_id=call_id, site=event.site, choice=choice)


class IvrEvents:
    def __init__(self, ami: AmiManager, bus: EventBus) -> None:
        self.ami = ami
        self.bus = bus

    def attach(self) -> None:
        self.ami.subscribe("UserEvent", self.on_user_event)

    async def on_user_event(self, event: AmiEvent) -> None:
        out = bus_event(event)
        if out is None:
            return
        log.info(out.NAME, **payload(out))
        self.bus.emit(out)
