"""The supervisor's JSON answers are its documented ``Reply`` models: the dashboard's state,
an agent logged out and a listen-in ringing. Real handlers on a real aiohttp server over a
real ``SupervisorService`` (its dashboard fed here); the seat pool, AMI and the call book
are stand-ins."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hotline_link.core.bus import EventBus
from hotline_link.core.events import CallAnswered, CallRouted, LinkageSupervisorAlert, QueueJoined, TransferDialling
from hotline_link.core.settings import Settings
from hotline_link.web.auth import Principal, TokenBook
from seat_pool.selection import SeatView
from seat_pool.state import SeatState
from supervisor.schema import AgentLoggedOut, DashboardSeatCounts, DashboardState, ListenRinging
from supervisor.service import SupervisorService
from tests.helpers import web_app_of
from tests.unit.served_replies import served

TOKENS = {"supervisor": ("supervisor-token-0123456789", Principal("supervisor"))}
HEADERS = {"Authorization": f"Bearer {TOKENS['supervisor'][0]}"}


@pytest.fixture
async def supervisor() -> AsyncIterator[SimpleNamespace]:
    settings = Settings(ami_secret="x")
    sent: list[dict[str, str]] = []

    async def log_out(site: str, agent: str) -> SeatState:
        return SeatState.OFFLINE

    async def states(site: str) -> dict[str, SeatState]:
        return {"1003": SeatState.IDLE}

    async def send(site: str, action: dict[str, str], as_list: bool = False) -> dict[str, str]:
        sent.append(action)
        return {"Response": "Success"}

    service = SupervisorService(settings, EventBus(), None, SimpleNamespace(log_out=log_out, states=states),  # type: ignore[arg-type]
                                SimpleNamespace(send=send), SimpleNamespace(of_agent=lambda site, agent: object()))  # type: ignore[arg-type]
    server = SimpleNamespace(tokens=TokenBook(TOKENS.values()), settings=settings, supervisor=service)
    client = TestClient(TestServer(web_app_of(server)))
    await client.start_server()
    yield SimpleNamespace(client=client, service=service, sent=sent)
    await client.close()


def test_seat_counts_name_every_seat_state():
    assert list(DashboardSeatCounts.model_fields) == [state.value for state in SeatState]


async def test_the_dashboard_state_is_its_model(supervisor):
    dashboard, now = supervisor.service.dashboard, time.time()
    dashboard.set_seats("12345", [SeatView("12345", "1001", SeatState.TALKING, now - 30),
                                  SeatView("12345", "1002", SeatState.IDLE, now - 5)])
    dashboard.apply(QueueJoined("c1", "12345", emergency=True, position=1), now - 20)
    dashboard.apply(CallRouted("c2", "12345", seat="1001", outcome="seat"), now - 10)
    dashboard.apply(CallAnswered("c2", "12345", caller="13812345678", answered_by="1001", wait_s=4.0), now - 9)
    dashboard.apply(TransferDialling(agent="1001", transfer_id="t1", call_id="c2", target="110",
                                     ticket_id="12345-20261124-000001", state="dialling", reason=None), now - 8)
    dashboard.apply(LinkageSupervisorAlert(ticket_id="12345-20261124-000001", unit="QD-TOWN",
                                           site="12345", reason="非工作时间紧急事件"), now - 2)
    dashboard.sample(now - 1)
    resp = await supervisor.client.get("/api/supervisor/state", headers=HEADERS)
    state = await served(resp, DashboardState, "/api/supervisor/state", 200)
    assert state["site_order"] == ["12345", "110", "remote"] and list(state["sites"]) == state["site_order"]
    site = state["sites"]["12345"]
    assert [seat["seat"] for seat in site["seats"]] == ["1001", "1002"] and site["seat_counts"]["talking"] == 1
    assert (site["waiting"], site["waiting_emergency"], site["answered_last_hour"]) == (1, 1, 1)
    assert site["answer_rate"] == 1.0 and site["occupancy"] == 0.5
    assert site["overflow"] == {"active": False, "estimated_wait_s": 0.0, "since": None}
    assert site["series"][-1][1:] == [1, 0.5]  # [time, waiting, occupancy]
    assert state["sites"]["110"]["answer_rate"] is None  # nothing to divide by: null, never missing
    assert state["transfers"]["12345->110"] == {"started": 1, "answered": 0}
    assert state["conferences"]["110->12345"] == {"started": 0, "joined": 0}
    assert state["alerts"][0]["detail"] == "12345-20261124-000001 QD-TOWN 非工作时间紧急事件"


async def test_logout_and_listen_answer_their_models(supervisor):
    resp = await supervisor.client.post("/api/supervisor/agents/1002/logout", headers=HEADERS)
    assert await served(resp, AgentLoggedOut, "/api/supervisor/agents/{agent}/logout", 200) == {
        "agent": "1002", "site": "12345", "state": "offline"}
    resp = await supervisor.client.post("/api/supervisor/agents/1002/listen", json={"listener": "1003"},
                                        headers=HEADERS)
    ringing = await served(resp, ListenRinging, "/api/supervisor/agents/{agent}/listen", 202)
    assert (ringing["listener"], ringing["state"]) == ("1003", "ringing_listener")
    assert supervisor.sent[0]["ChannelId"] == ringing["channel_id"]
