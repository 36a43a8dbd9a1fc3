"""The JSON that call control, the seat pool and the IVR answer with is the model the OpenAPI
document names for that response: served by the real handlers (on a real aiohttp server over
a stand-in), validated with the model the document's ``$ref`` points to, every field present
(``null`` when unknown), and the document's component is that model's schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

import call_control.schema
import ivr.schema
import seat_pool.schema
from call_control.calls import Call, CallBook
from call_control.conference.service import Conference as ConferenceRoom
from call_control.conference.state import ConferenceState
from call_control.plugin import CallControlPlugin
from call_control.schema import AgentCall, Transfer
from call_control.transfer.service import Transfer as BlindTransfer
from call_control.transfer.state import TransferState
from hotline_link.app import openapi_document
from hotline_link.web.auth import Principal, TokenBook
from hotline_link.web.bodies import Reply
from hotline_link.web.openapi import component_schemas
from ivr.harassment import Flag, HarassmentPolicy, number_ref
from ivr.plugin import IvrPlugin
from seat_pool.plugin import SeatPoolPlugin
from seat_pool.state import SeatState
from tests.helpers import web_app_of
from tickets.store import Ticket

OPENAPI = openapi_document()
SCHEMA_MODULES: dict[str, ModuleType] = {
    "call_control": call_control.schema, "seat_pool": seat_pool.schema, "ivr": ivr.schema}
PLUGINS = {"call_control": CallControlPlugin, "seat_pool": SeatPoolPlugin, "ivr": IvrPlugin}

AGENT_TOKEN, SUPERVISOR_TOKEN = "agent-1001-token-0123456789", "supervisor-token-0123456789"
CALL_ID = "hl12345-1795530000.1"
TICKET = Ticket(id="12345-20261206-000001", site="12345", call_id=CALL_ID, category="噪音",
                summary="楼上装修", caller="13812345678")
FLAG = Flag("13812341234", "supervisor", "反复辱骂坐席", 1795530000.5)


def _call(answered: bool = True) -> Call:
    return Call(CALL_ID, "12345", "13812345678", "12345", 1795530000.25,
                channels={CALL_ID: "PJSIP/anonymous-01", "u-agent": "PJSIP/1001-02"},
                answered_by="PJSIP/1001" if answered else None,
                answered_channels={"PJSIP/1001-02"} if answered else set())


def _room(state: ConferenceState) -> ConferenceRoom:
    room = ConferenceRoom("hl202612060000001", CALL_ID, "12345", TICKET.id, "110", CALL_ID, "u-third", "act")
    room.state = state
    room.members = {CALL_ID: "PJSIP/anonymous-01", "u-agent": "PJSIP/1001-02"}
    if state is ConferenceState.JOINED:
        room.members["u-third"] = "Local/110@conference-out-03;1"
    return room


def _blind_transfer(state: TransferState) -> BlindTransfer:
    return BlindTransfer("x1", CALL_ID, "12345", "1001", "110", "110", TICKET.id, CALL_ID, 1795530001.0,
                         state=state)


def _stand_in(call: Call | None, ticket: Ticket | None = TICKET, room: ConferenceRoom | None = None,
              transfer: BlindTransfer | None = None) -> SimpleNamespace:
    async def for_call(call_id: str) -> Ticket | None:
        return ticket

    async def events_of(call_id: str) -> list[dict[str, Any]]:
        return [{"id": "1795530000250-0", "event": "call.started", "at": 1795530000.25,
                 "data": {"call_id": call_id, "site": "12345", "caller": "138****5678"}}]

    async def blind_transfer(*args: object, **kwargs: object) -> BlindTransfer | None:
        return transfer

    async def start(*args: object, **kwargs: object) -> ConferenceRoom | None:
        return room

    async def states(site: str) -> dict[str, SeatState]:
        return {"1001": SeatState.TALKING, "1002": SeatState.PAUSED} if site == "12345" else {}

    async def pause(site: str, seat: str, reason: str) -> SeatState:
        return SeatState.PAUSED if reason else SeatState.IDLE

    async def flags() -> list[Flag]:
        return [FLAG]

    async def flag(number: str, reason: str, by: str, site: str) -> Flag:
        return Flag(number, by, reason, 1795530002.0, site)

    async def unflag(number_or_ref: str, by: str) -> str:
        return FLAG.number

    book = CallBook()
    if call is not None:
        book.calls[(call.site, call.call_id)] = call
    return SimpleNamespace(
        tokens=TokenBook([(AGENT_TOKEN, Principal("agent", "1001")), (SUPERVISOR_TOKEN, Principal("supervisor"))]),
        calls=SimpleNamespace(book=book), tickets=SimpleNamespace(for_call=for_call),
        timeline=SimpleNamespace(for_call=events_of),
        conferences=SimpleNamespace(of_call=lambda call_id: room, start=start, leave=start),
        transfers=SimpleNamespace(blind_transfer=blind_transfer),
        consults=SimpleNamespace(of_call=lambda call_id: None),
        registry=SimpleNamespace(states=states, pause=pause),
        harassment=SimpleNamespace(policy=HarassmentPolicy(3, 600), flags=flags, flag=flag, unflag=unflag))


@asynccontextmanager
async def _client(stand_in: SimpleNamespace) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(web_app_of(stand_in)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


def _documented_model(template: str, method: str, status: int) -> type[Reply]:
    """The Reply model whose component the document names for this response."""
    schema = OPENAPI["paths"][template][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    name = schema["$ref"].removeprefix("#/components/schemas/")
    module = next(m for m in SCHEMA_MODULES.values() if isinstance(getattr(m, name, None), type))
    model = getattr(module, name)
    assert issubclass(model, Reply)
    return model


async def _served(client: TestClient, method: str, path: str, template: str, token: str,
                  status: int, json: object = None) -> dict[str, Any]:
    """The answer, checked against the model the document names for it; the body as sent."""
    resp = await client.request(method, path, json=json, headers={"Authorization": f"Bearer {token}"})
    body = await resp.json()
    assert resp.status == status, body
    model = _documented_model(template, method.lower(), status)
    parsed = model.model_validate(body)  # extra keys are refused: nothing undocumented is sent
    assert set(body) == set(model.model_fields)  # every documented key is sent, null or not
    assert parsed.model_dump(mode="json") == body  # and nothing was coerced on the way
    return body


async def test_the_agents_call_is_an_agent_call_with_its_ticket():
    async with _client(_stand_in(_call())) as client:
        body = await _served(client, "GET", "/api/agents/1001/call", "/api/agents/{agent}/call", AGENT_TOKEN, 200)
    assert body == {"call_id": CALL_ID, "site": "12345", "caller": "138****5678", "state": "talking",
                    "ticket_id": TICKET.id,
                    "ticket": {"id": TICKET.id, "category": "噪音", "summary": "楼上装修",
                               "source_platform": None, "source_ticket": None}}


async def test_a_ringing_call_without_a_ticket_sends_its_ticket_as_null():
    async with _client(_stand_in(_call(answered=False), ticket=None)) as client:
        body = await _served(client, "GET", "/api/agents/1001/call", "/api/agents/{agent}/call", AGENT_TOKEN, 200)
    assert (body["state"], body["ticket_id"], body["ticket"]) == ("ringing", None, None)


async def test_a_call_in_a_three_way_call_says_so():
    async with _client(_stand_in(_call(), room=_room(ConferenceState.JOINED))) as client:
        body = await _served(client, "GET", "/api/agents/1001/call", "/api/agents/{agent}/call", AGENT_TOKEN, 200)
    assert body["state"] == "conference"


@pytest.mark.parametrize("state, status", [(TransferState.ANSWERED, 200), (TransferState.RINGING, 202)])
async def test_a_transfer_is_answered_as_a_transfer(state, status):
    template = "/api/calls/{call_id}/transfer"
    async with _client(_stand_in(_call(), transfer=_blind_transfer(state))) as client:
        body = await _served(client, "POST", f"/api/calls/{CALL_ID}/transfer", template, AGENT_TOKEN, status,
                             json={"target": "110"})
    assert body == {"transfer_id": "x1", "call_id": CALL_ID, "target": "110", "ticket_id": TICKET.id,
                    "state": state.value, "reason": None}


async def test_the_three_way_call_is_answered_as_a_conference_on_every_route():
    template = "/api/calls/{call_id}/conference"
    async with _client(_stand_in(_call(), room=_room(ConferenceState.JOINED))) as client:
        got = await _served(client, "GET", f"/api/calls/{CALL_ID}/conference", template, AGENT_TOKEN, 200)
        left = await _served(client, "DELETE", f"/api/calls/{CALL_ID}/conference/1001", template + "/{party}",
                             AGENT_TOKEN, 202)
    assert got == left == {"call_id": CALL_ID, "room": "hl202612060000001", "ticket_id": TICKET.id,
                           "target": "110", "state": "joined", "parties": ["1001", "110", "caller"]}
    dialling = _stand_in(_call(), room=_room(ConferenceState.DIALLING))
    dialling.conferences.of_call = lambda call_id: None  # no three-way call yet: POST may start one
    async with _client(dialling) as client:
        started = await _served(client, "POST", f"/api/calls/{CALL_ID}/conference?wait=false", template,
                                AGENT_TOKEN, 202, json={"target": "110"})
    assert (started["state"], started["parties"]) == ("dialling", ["1001", "caller"])


async def test_active_calls_and_a_calls_story():
    async with _client(_stand_in(_call())) as client:
        calls = await _served(client, "GET", "/api/calls", "/api/calls", SUPERVISOR_TOKEN, 200)
        story = await _served(client, "GET", f"/api/calls/{CALL_ID}", "/api/calls/{call_id}", SUPERVISOR_TOKEN, 200)
    assert calls == {"calls": [{"call_id": CALL_ID, "site": "12345", "caller": "138****5678",
                                "answered_by": "PJSIP/1001", "started_at": 1795530000.25}]}
    assert (story["call_id"], story["ticket_id"], story["active"]) == (CALL_ID, TICKET.id, True)
    assert story["events"] == [{"id": "1795530000250-0", "event": "call.started", "at": 1795530000.25,
                                "data": {"call_id": CALL_ID, "site": "12345", "caller": "138****5678"}}]


async def test_seat_states_and_a_pause_and_a_ready():
    async with _client(_stand_in(None)) as client:
        seats = await _served(client, "GET", "/api/seats", "/api/seats", SUPERVISOR_TOKEN, 200)
        paused = await _served(client, "POST", "/api/agents/1001/pause", "/api/agents/{agent}/pause",
                               AGENT_TOKEN, 200, json={"reason": "培训"})
        ready = await _served(client, "POST", "/api/agents/1001/ready", "/api/agents/{agent}/ready", AGENT_TOKEN, 200)
    assert seats == {"seats": {"12345": {"1001": "talking", "1002": "paused"}, "110": {}, "remote": {}}}
    assert paused == {"agent": "1001", "site": "12345", "state": "paused", "reason": "培训"}
    assert ready == {"agent": "1001", "site": "12345", "state": "idle", "reason": None}


async def test_harassment_flags_are_listed_flagged_and_lifted_masked():
    async with _client(_stand_in(None)) as client:
        listed = await _served(client, "GET", "/api/harassment", "/api/harassment", SUPERVISOR_TOKEN, 200)
        flagged = await _served(client, "POST", "/api/harassment", "/api/harassment", AGENT_TOKEN, 201,
                                json={"number": "13812341234", "reason": "恐吓"})
        lifted = await _served(client, "DELETE", "/api/harassment/13812341234", "/api/harassment/{number}",
                               SUPERVISOR_TOKEN, 200)
    ref = number_ref("13812341234")
    assert listed == {"max_calls": 3, "window_s": 600, "flagged": [
        {"number": "138****1234", "ref": ref, "by": "supervisor", "reason": "反复辱骂坐席", "at": 1795530000.5,
         "site": ""}]}
    assert flagged == {"number": "138****1234", "ref": ref, "by": "agent 1001", "reason": "恐吓",
                       "at": 1795530002.0, "site": "12345"}
    assert lifted == {"unflagged": "138****1234", "ref": ref}
    assert "13812341234" not in str([listed, flagged, lifted])


def test_the_agents_call_is_documented_as_the_agent_call_model():
    response = OPENAPI["paths"]["/api/agents/{agent}/call"]["get"]["responses"]["200"]
    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/AgentCall"}
    components = OPENAPI["components"]["schemas"]
    generated = component_schemas(AgentCall)
    assert components["AgentCall"] == generated["AgentCall"]
    assert components["AgentCallTicket"] == generated["AgentCallTicket"]
    assert components["AgentCall"]["required"] == ["call_id", "site", "caller", "state", "ticket_id", "ticket"]
    assert components["AgentCall"]["properties"]["state"]["enum"] == ["ringing", "talking", "conference"]
    assert components["AgentCall"]["additionalProperties"] is False


def test_transfer_and_conference_states_are_the_state_machines():
    components = OPENAPI["components"]["schemas"]
    assert components["Transfer"] == component_schemas(Transfer)["Transfer"]
    assert components["Transfer"]["properties"]["state"] == {"$ref": "#/components/schemas/TransferState"}
    assert components["TransferState"]["enum"] == [s.value for s in TransferState]
    assert components["ConferenceState"]["enum"] == [s.value for s in ConferenceState]
    assert components["SeatState"]["enum"] == [s.value for s in SeatState]


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_every_success_of_these_plugins_is_a_documented_reply_model(plugin):
    fragment = PLUGINS[plugin].api
    checked = 0
    for template, item in fragment["paths"].items():
        for method, operation in item.items():
            for status in operation["responses"]:
                if status not in ("200", "201", "202"):
                    continue
                model = _documented_model(template, method, int(status))
                # the fragment lists the model's schema, and it is the one the document serves
                assert fragment["schemas"][model.__name__] == component_schemas(model)[model.__name__]
                assert OPENAPI["components"]["schemas"][model.__name__] == fragment["schemas"][model.__name__]
                checked += 1
    assert checked >= {"call_control": 8, "seat_pool": 3, "ivr": 3}[plugin]
