"""The IVR's dialplan events (AMI ``UserEvent: HotlineIvr``) as bus events for the
supervisor dashboard: ``ivr.entered`` {call_id, site}, ``ivr.choice`` {call_id, site,
choice[, topic]}, ``ivr.left`` {call_id, site, choice}. ``call_id`` is the linkedid."""

from __future__ import annotations

import structlog

from hotline_link.asterisk.ami.manager import AmiEvent, AmiManager
from hotline_link.core.bus import EventBus

log = structlog.get_logger(__name__)

USER_EVENT = "HotlineIvr"
STAGES = frozenset({"entered", "choice", "left"})


def bus_event(event: AmiEvent) -> tuple[str, dict[str, str]] | None:
    """The bus event for one AMI UserEvent, or None when it is not the IVR's."""
    if event.get("UserEvent") != USER_EVENT:
        return None
    stage = event.get("Stage").strip()
    if stage not in STAGES:
        log.warning("ivr.unknown_stage", stage=stage, site=event.site)
        return None
    data = {"call_id": event.get("Linkedid") or event.get("Uniqueid"), "site": event.site}
    if stage != "entered":
        data["choice"] = event.get("Choice").strip()
    if stage == "choice" and event.get("Topic").strip():
        data["topic"] = event.get("Topic").strip()
    return f"ivr.{stage}", data


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
        name, data = out
        log.info(name, **data)
        self.bus.publish(name, **data)
