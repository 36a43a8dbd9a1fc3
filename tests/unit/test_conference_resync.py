"""Three-way rooms reconciled after an AMI outage, from the resync's channel list. Pure:
a recording stand-in for the AMI manager (no protocol involved), a real bus."""

from __future__ import annotations

from types import SimpleNamespace

from call_control.conference.service import Conference, ConferenceService
from call_control.conference.state import ConferenceState
from hotline_link.core.bus import EventBus


class RecordingAmi:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, str]]] = []

    async def send(self, site: str, action: dict[str, str]) -> None:
        self.sent.append((site, action))


def service_with(conf: Conference) -> tuple[ConferenceService, RecordingAmi, list]:
    bus, ami, seen = EventBus(), RecordingAmi(), []
    bus.listen(lambda e: seen.append((e.name, e.data["party"])))
    service = ConferenceService(SimpleNamespace(ami=ami, bus=bus))  # type: ignore[arg-type]  # a stand-in context
    service.rooms[(conf.site, conf.room)] = conf
    return service, ami, seen


def room() -> Conference:
    conf = Conference("hl1", "call-1", "12345", "t-1", "110", "c-uid", "third-uid", "act")
    conf.members = {"c-uid": "PJSIP/anonymous-01", "a-uid": "PJSIP/1001-02",
                    "third-uid": "Local/110@conference-out-03;1"}
    conf.state = ConferenceState.JOINED
    return conf


def live(*uids: str) -> list[dict[str, str]]:
    return [{"Uniqueid": uid} for uid in uids]


async def test_parties_gone_during_the_outage_leave_and_a_lone_caller_goes_back_to_intake():
    conf = room()
    service, ami, seen = service_with(conf)
    await service.on_resync("12345", live("c-uid"))
    assert set(conf.members) == {"c-uid"}
    assert sorted(seen) == [("conference.left", "1001"), ("conference.left", "110")]
    assert ami.sent == [("12345", {"Action": "Redirect", "Channel": "PJSIP/anonymous-01",
                                   "Context": "intake", "Exten": "s", "Priority": "1"})]
    assert conf.state == "joined"


async def test_a_room_whose_caller_is_gone_has_ended_and_nothing_changes_for_live_rooms():
    conf = room()
    service, ami, seen = service_with(conf)
    await service.on_resync("12345", live("c-uid", "a-uid", "third-uid"))
    assert (len(conf.members), seen, ami.sent) == (3, [], [])
    await service.on_resync("110", live())  # another site's resync leaves it alone
    assert conf.state == "joined"
    await service.on_resync("12345", live("a-uid"))
    assert conf.state == "ended" and seen[-1] == ("conference.ended", "")
    assert service.of_call("call-1") is None and ami.sent == []


async def test_a_room_that_ended_during_the_outage_is_forgotten():
    conf = room()
    service, _, _ = service_with(conf)
    await service.on_resync("12345", live("a-uid"))
    assert service.rooms == {}  # no ended room kept for ever
