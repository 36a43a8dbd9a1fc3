"""The analysis service over a real redis-server: the tickets' time index (written on
save, backfilled once), alerts raised once per surge and kept across instances, cue
clusters, disputes heard on the bus, and the report packs written once. Clocks are
injected: no test depends on today's date."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from redis.asyncio import Redis

from analysis.config import AnalysisConfig
from analysis.service import AnalysisService
from hotline_link.core.bus import BusEvent, EventBus
from hotline_link.core.events import AnalysisAlert, LinkageDispatched, LinkageRefused, TicketPushedIn
from hotline_link.core.zone import HOTLINE_ZONE
from tickets.redis_keys import ticket_key, ticket_time_key
from tickets.store import TICKET_TTL_S, Ticket, TicketStore

T0 = dt.datetime(2026, 12, 6, 10, 0, tzinfo=HOTLINE_ZONE).timestamp()
H, D = 3600.0, 86400.0
CUES = ("燃气泄漏", "泄漏", "着火")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _service(redis: Redis, bus: EventBus, clock: Clock, tmp_path: Path, **config: object) -> AnalysisService:
    return AnalysisService(redis, bus, TicketStore(redis), config=AnalysisConfig.parse(config),
                           platforms=("12345",), reports_dir=tmp_path / "reports", cues=CUES, clock=clock,
                           instance="one")


async def _open(store: TicketStore, at: float, category: str = "供水", division: str = "320602",
                summary: str = "", site: str = "12345", **more: object) -> Ticket:
    ticket = Ticket(await store.new_id(site, at), site, "", category, summary, created_at=at,
                    division_code=division, **more)  # type: ignore[arg-type]
    await store.save(ticket)
    return ticket


async def test_the_time_index_is_written_on_save(private_redis: Redis):
    store = TicketStore(private_redis)
    called = await _open(store, T0 - 100)
    by_web = await _open(store, T0 - 50, channel="web", received_at=T0 - 500)
    other = await _open(store, T0 - 10, site="110")
    assert await private_redis.zscore(ticket_time_key("12345"), called.id) == T0 - 100
    assert await private_redis.zscore(ticket_time_key("12345"), by_web.id) == T0 - 500  # when the channel got it
    await store.update(called, summary="改了")  # a re-save keeps the score
    assert await private_redis.zscore(ticket_time_key("12345"), called.id) == T0 - 100
    assert await store.ids_between("12345", T0 - 500, T0) == [by_web.id, called.id]
    assert await store.ids_between("12345", T0 - 500, T0 - 100) == [by_web.id]  # to is excluded
    assert await store.ids_between("110", 0, T0) == [other.id]
    much_later = await _open(store, T0 + TICKET_TTL_S + 1)  # older than a ticket's lifetime: trimmed
    assert await store.ids_between("12345", 0, T0 + 2 * TICKET_TTL_S) == [much_later.id]


async def test_tickets_saved_before_the_index_are_backfilled_once(private_redis: Redis, tmp_path: Path):
    store = TicketStore(private_redis)
    old = await _open(store, T0 - D)
    received = await _open(store, T0 - H, received_at=T0 - 2 * H, channel="sms")
    await private_redis.delete(ticket_time_key("12345"))  # as before the index existed
    await private_redis.hset("hl:ticket:broken", mapping={"id": "broken"})  # no site: skipped
    service = _service(private_redis, EventBus(), Clock(T0), tmp_path)
    await service.backfill()
    assert await store.ids_between("12345", 0, T0) == [old.id, received.id]
    await private_redis.delete(ticket_time_key("12345"))
    await service.backfill()  # once per deployment: the marker says it was done
    assert await store.ids_between("12345", 0, T0) == []
    assert await private_redis.exists(ticket_key(old.id))


async def test_a_surge_alerts_once_and_a_second_instance_does_not_raise_it_again(private_redis: Redis,
                                                                                 tmp_path: Path):
    store, bus, clock = TicketStore(private_redis), EventBus(), Clock(T0)
    heard: list[BusEvent] = []
    bus.listen(heard.append)
    for day in range(1, 8):  # the baseline: one 供水 ticket of 320602 in the same hour on 2 of the 7 days
        if day in (2, 5):
            await _open(store, T0 - day * D - 600)
        for _ in range(6):  # 燃气 steady at 6 an hour every day
            await _open(store, T0 - day * D - 900, "燃气")
    surge = [await _open(store, T0 - 3000 + i * 60) for i in range(6)]
    for _ in range(6):
        await _open(store, T0 - 1200, "燃气")
    service = _service(private_redis, bus, clock, tmp_path)
    [alert] = await service.scan()
    assert (alert["kind"], alert["category"], alert["division_code"], alert["count"]) == ("surge", "供水", "320602", 6)
    assert alert["baseline"] == round(2 / 7, 3) and alert["window_s"] == H
    assert alert["ticket_ids"] == [t.id for t in surge] and alert["first_at"] == T0 - 3000
    assert alert["raised_at"] == T0 and alert["site"] == "12345"
    [event] = [e for e in heard if e.is_(AnalysisAlert)]
    assert event.as_(AnalysisAlert).id == alert["id"] and event.data["count"] == 6
    clock.now = T0 + 30
    assert await service.scan() == []  # the surge goes on: not again
    other = AnalysisService(private_redis, bus, store, config=AnalysisConfig(), platforms=("12345",),
                            reports_dir=tmp_path, cues=CUES, clock=clock, instance="two")
    assert await other.scan() == []  # nor by another instance, nor after a restart
    assert [a["id"] for a in await service.alerts(T0 - D)] == [alert["id"]]
    # an hour of quiet, then a new surge: raised again
    clock.now = T0 + 2 * H
    assert await service.scan() == []
    clock.now = T0 + 3 * H + 60
    assert await service.scan() == []  # cooled for a whole window: back to quiet
    for i in range(7):
        await _open(store, clock.now - 600 + i)
    [again] = await service.scan()
    assert again["count"] == 7 and again["id"] != alert["id"]
    assert [a["id"] for a in await service.alerts(T0 - D)] == [again["id"], alert["id"]]  # newest first
    assert await service.alerts(T0 + H) == [again]


async def test_a_cue_cluster_alerts(private_redis: Redis, tmp_path: Path):
    store, clock = TicketStore(private_redis), Clock(T0)
    gas = [await _open(store, T0 - 600 + i, "燃气", summary="楼道里燃气泄漏了") for i in range(3)]
    await _open(store, T0 - 500, "燃气", "320611", summary="燃气泄漏")
    service = _service(private_redis, EventBus(), clock, tmp_path)
    [alert] = await service.scan()
    assert (alert["kind"], alert["cue"], alert["division_code"], alert["count"], alert["category"]) == \
        ("cue", "燃气泄漏", "320602", 3, "燃气")
    assert alert["ticket_ids"] == [t.id for t in gas]
    assert await service.scan() == []


async def test_disputes_are_heard_on_the_bus_and_summed(private_redis: Redis, tmp_path: Path):
    store = TicketStore(private_redis)
    bounced = await _open(store, T0 - 100, "供水")
    refused = await _open(store, T0 - 90, "燃气")
    service = _service(private_redis, EventBus(), Clock(T0), tmp_path)
    for event in (TicketPushedIn(bounced.id, "12345", "110-20261206-000001", "110", True),
                  TicketPushedIn(refused.id, "12345", "110-20261206-000002", "110", False),
                  LinkageRefused(refused.id, "QD-GAS", "12345", "不属于"),
                  LinkageDispatched(refused.id, "QD-GAS", "燃气公司", 1, "auto", "12345", "sup", None, T0),
                  LinkageDispatched(refused.id, "QD-CITY", "城管", 1, "manual", "12345", "sup", None, T0),
                  LinkageDispatched(bounced.id, "QD-W", "水务", 1, "auto", "12345", "sup", None, T0, role="assisting")):
        await service._on_bus(BusEvent.of(event))
    summary = await service.summary(T0 - D, T0)
    assert summary["disputed"] == [
        {"category": "供水", "bounced": 1, "refused": 0, "redispatched": 0, "total": 1},
        {"category": "燃气", "bounced": 0, "refused": 1, "redispatched": 1, "total": 1}]


async def test_report_packs_are_written_once_per_period(private_redis: Redis, tmp_path: Path):
    store = TicketStore(private_redis)
    nov = dt.datetime(2026, 11, 20, 9, 0, tzinfo=HOTLINE_ZONE).timestamp()
    await _open(store, nov, "政务咨询", summary="<b>社保</b>")
    await _open(store, T0, "供水")  # December's: not in November's pack
    service = _service(private_redis, EventBus(), Clock(T0), tmp_path)
    written = await service.write_reports()
    assert written == ["12345-monthly-2026-11", "12345-quarterly-2026-Q3", "12345-yearly-2025"]
    assert await service.write_reports() == []
    (tmp_path / "reports" / "12345-monthly-2026-11.csv").unlink()
    assert await service.write_reports() == []  # claimed once in Redis: never written twice
    pack = json.loads((tmp_path / "reports" / "12345-monthly-2026-11.json").read_text())
    assert (pack["total"], pack["frequent_questions"][0]["example"]) == (1, "<b>社保</b>")
    listed = service.list_reports()
    assert [(r["name"], r["formats"]) for r in listed] == [
        ("12345-monthly-2026-11", ["html", "json"]), ("12345-quarterly-2026-Q3", ["html", "csv", "json"]),
        ("12345-yearly-2025", ["html", "csv", "json"])]


async def test_a_stopped_leader_gives_its_lease_up_at_once(private_redis: Redis, tmp_path: Path):
    first = _service(private_redis, EventBus(), Clock(T0), tmp_path)
    second = AnalysisService(private_redis, EventBus(), TicketStore(private_redis), config=AnalysisConfig.parse({}),
                             platforms=("12345",), reports_dir=tmp_path / "reports", cues=CUES, clock=Clock(T0),
                             instance="two")
    assert await first.store.lead("one", 90_000)
    assert not await second.store.lead("two", 90_000)  # held: the second waits
    await second.store.resign("two")  # resigning a lease one does not hold changes nothing
    assert not await second.store.lead("two", 90_000)
    await first.stop()
    assert await second.store.lead("two", 90_000)  # no 90 s wait after a restart


async def test_a_pack_that_failed_half_way_is_written_by_the_next_try(private_redis: Redis, tmp_path: Path,
                                                                      monkeypatch):
    from analysis import report

    await _open(TicketStore(private_redis), dt.datetime(2026, 11, 20, 9, 0, tzinfo=HOTLINE_ZONE).timestamp())
    service = _service(private_redis, EventBus(), Clock(T0), tmp_path)
    real = report.render

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in rendering")

    monkeypatch.setattr(report, "render", broken)
    with pytest.raises(RuntimeError):
        await service.write_reports()
    monkeypatch.setattr(report, "render", real)
    assert "12345-monthly-2026-11" in await service.write_reports()  # its claim was given back


async def test_no_pack_is_written_before_old_tickets_are_in_the_index(private_redis: Redis, tmp_path: Path):
    service = _service(private_redis, EventBus(), Clock(T0), tmp_path)
    assert await service.store.lead("one", 90_000)
    await service.tick()
    assert not (tmp_path / "reports").exists() or not list((tmp_path / "reports").iterdir())
    await service.backfill()
    await service.tick()
    assert (tmp_path / "reports" / "12345-monthly-2026-11.json").is_file()
