"""The cases' index backfilled from the audit, between two real deployments (12345's and
110's: two redis-servers, two aiohttp servers, real clients): a deployment whose index lost
its cases (as one upgraded from the version before the index) lists the same rows again
after a pass, a second pass enters nothing, a case a live step indexes meanwhile keeps its
time, corrupt audit entries are skipped and counted, the plugin runs it once per deployment
at start, and the CLI prints its counts. Times come from the tests' Clock."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp

from exchange import case_backfill
from exchange.case_backfill import INDEX_VERSION, Counts
from exchange.messages import HandoverBody
from exchange.redis_keys import ABOUT_PATTERN, CASES, CASES_BACKFILLED, about_key, opened_key
from hotline_link.cli import main
from tests.unit.exchange_deployments import SUPERVISOR_TOKEN, Clock, Deployment, served_pair
from tests.unit.exchange_samples import T12345, ticket_110, ticket_12345
from tests.unit.test_exchange_plugin_app import police_config_file

CASES_URL = "/api/exchange/v1/cases"
SECRET = ticket_110(id="110-20261124-000032", call_id="hl110-1795530667.3", category="涉案",
                    summary="涉案线索，地址保密", division_code="370211")
WAIT_S = 30.0  # a background task of the service: generous, never a fixed sleep


async def listed(session: aiohttp.ClientSession, one: Deployment) -> list[dict[str, Any]]:
    """Every case the API lists on ``one`` (this file's data fits one page)."""
    async with session.get(one.url + CASES_URL, headers={"Authorization": f"Bearer {SUPERVISOR_TOKEN}"}) as resp:
        body = await resp.json()
    assert resp.status == 200 and body["next_cursor"] is None, body
    cases: list[dict[str, Any]] = body["cases"]
    return cases


async def exchange_a_few(hotline: Deployment, police: Deployment) -> dict[str, str]:
    """12345 pushes a case to 110; 110 transfers one to 12345, then a restricted one, then
    pushes 12345's case back (回流 by push: a new ticket on 12345). Each step settled, a
    minute apart. 12345's tickets each opened, by name."""
    await hotline.tickets.save(ticket_12345())
    pushed = await hotline.push.push(T12345, "110")
    await hotline.settle(police)
    opened_110 = await police.pushed_ticket(pushed.push_id)
    opened: dict[str, str] = {}
    for name, ticket in (("transfer", ticket_110()), ("restricted", SECRET)):
        hotline.clock.now += 60
        await police.tickets.save(ticket)
        sent = await police.service.hand_over_call(ticket, "transfer", "12345", ticket.call_id)
        await police.settle(hotline)
        opened[name] = str(await hotline.redis.get(opened_key(sent.message_id)))
    hotline.clock.now += 60
    back = await police.push.push(opened_110.id, "12345")
    await police.settle(hotline)
    opened["back"] = (await hotline.pushed_ticket(back.push_id)).id
    return opened


async def forget_the_index(*deployments: Deployment) -> None:
    """The index as the version before it left it: none."""
    for one in deployments:
        await one.redis.delete(CASES, CASES_BACKFILLED)


async def audit_indexes(one: Deployment) -> int:
    return len({key async for key in one.redis.scan_iter(ABOUT_PATTERN)})


async def test_a_pass_lists_the_cases_exchanged_before_the_index_as_they_were(deployments, session):
    hotline, police = deployments
    opened = await exchange_a_few(hotline, police)
    before = {one.platform: await listed(session, one) for one in deployments}
    assert [(c["ticket"], c["direction"]) for c in before["12345"]] == [
        (T12345, "out"), (opened["transfer"], "in"), (opened["restricted"], "in"), (opened["back"], "in")]
    assert [(c["direction"], c["restricted"]) for c in before["110"]] == [
        ("in", False), ("out", False), ("out", True), ("out", False)]
    await forget_the_index(hotline, police)
    assert [await listed(session, one) for one in deployments] == [[], []]

    for one in deployments:
        counts = await one.service.backfill.run()
        assert counts == Counts(scanned=await audit_indexes(one), indexed=4, already=0, bad=0, not_taken=0)
        assert await listed(session, one) == before[one.platform]  # the same rows, times and all
        assert await one.redis.get(CASES_BACKFILLED) == INDEX_VERSION
    [secret] = [c for c in await listed(session, hotline) if c["ticket"] == opened["restricted"]]
    assert (secret["restricted"], secret["category"], secret["summary"], secret["peer_ticket"]) == \
        (True, None, None, SECRET.id)  # by its number only, as live

    for one in deployments:  # again: nothing new, nothing moved
        counts = await one.service.backfill.run()
        assert (counts.indexed, counts.already) == (0, 4)
        assert await listed(session, one) == before[one.platform]


async def test_a_case_a_live_step_indexes_during_the_pass_keeps_its_time(deployments, monkeypatch):
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345())
    await hotline.push.push(T12345, "110")
    await hotline.settle(police)
    pushed_at = hotline.clock.now
    await forget_the_index(hotline)
    enter = case_backfill.enter_missing

    async def after_a_live_handover(redis: Any, entries: Any) -> int:
        # between the pass's read of the audit and its write: a three-way call hands the
        # ticket over again, and its step indexes the case (missing) at its own time
        hotline.clock.now += 60
        await hotline.service.hand_over(ticket_12345(), "conference", "110", source_call="hl12345-1795530667.13")
        return await enter(redis, entries)

    monkeypatch.setattr(case_backfill, "enter_missing", after_a_live_handover)
    counts = await hotline.service.backfill.run()
    assert (counts.indexed, counts.already) == (0, 1)
    assert await hotline.redis.zscore(CASES, f"{T12345}:out") == pushed_at + 60  # the live step's, not the audit's


async def test_a_handover_the_applier_has_not_taken_is_left_to_it(deployments):
    hotline, police = deployments
    await police.tickets.save(ticket_110())
    await police.service.hand_over_call(ticket_110(), "transfer", "12345", ticket_110().call_id)
    await police.service.send_once()  # admitted on 12345 (audited "applied"), not applied yet
    assert (await hotline.service.backfill.run()).not_taken == 1
    channel = hotline.service._on()
    [(_, envelope)] = await channel.inbox.claim(hotline.service.consumer, 10, 0)
    assert isinstance(envelope.body, HandoverBody)
    opened = await hotline.service._open(channel, envelope, envelope.body)  # the applier half way: not linked
    counts = await hotline.service.backfill.run()
    assert (counts.indexed, counts.not_taken) == (0, 1) and await hotline.redis.zcard(CASES) == 0
    hotline.clock.now += 30
    await hotline.service.apply_once(idle_ms=0)  # the applier again, to its end: the live step indexes it
    counts = await hotline.service.backfill.run()
    assert (counts.indexed, counts.already, counts.not_taken) == (0, 1, 0)
    assert await hotline.redis.zscore(CASES, f"{opened}:in") == hotline.clock.now  # the applier's time


async def test_corrupt_audit_entries_are_skipped_logged_and_counted(deployments, log_lines):
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345())
    await hotline.push.push(T12345, "110")
    await hotline.settle(police)
    await forget_the_index(hotline)
    await hotline.redis.xadd(about_key(T12345), {"direction": "out", "type": "handover"})
    await hotline.redis.xadd(about_key(T12345), {"direction": "out", "message_id": "m1", "type": "handover",
                                                 "kind": "push", "from": "12345", "ticket": T12345,
                                                 "outcome": "queued", "at": "soon"})
    await hotline.redis.set(about_key("not-a-stream"), "x")

    counts = await hotline.service.backfill.run()
    assert (counts.indexed, counts.bad) == (1, 3)
    assert await hotline.redis.zscore(CASES, f"{T12345}:out") == hotline.clock.now
    skipped = log_lines.events("exchange.cases_backfill_skipped")
    assert [(line["key"], line["why"]) for line in skipped] == [
        (about_key(T12345), "no message_id, from, ticket, outcome, at"), (about_key(T12345), "'at' is no time: 'soon'")]
    [unreadable] = log_lines.events("exchange.cases_backfill_unreadable")
    assert unreadable["key"] == about_key("not-a-stream") and "WRONGTYPE" in unreadable["error"]
    [done] = log_lines.events("exchange.cases_backfilled")
    assert {name: done[name] for name in counts.as_dict()} == counts.as_dict()


async def test_the_service_backfills_once_per_deployment_in_the_background_at_start(deployments, session,
                                                                                      log_lines):
    hotline, police = deployments
    await hotline.tickets.save(ticket_12345())
    await hotline.push.push(T12345, "110")
    await hotline.settle(police)
    before = await listed(session, hotline)
    await forget_the_index(hotline)

    async def started_and_backfilled() -> None:
        await hotline.service.start()
        [task] = [t for t in hotline.service._tasks if t.get_name() == "exchange-cases-backfill"]
        await asyncio.wait_for(asyncio.shield(task), WAIT_S)
        await hotline.service.stop()

    await started_and_backfilled()
    assert await listed(session, hotline) == before
    assert [line["indexed"] for line in log_lines.events("exchange.cases_backfilled")] == [1]
    await hotline.redis.delete(CASES)  # the marker stays: a start again runs no pass
    await started_and_backfilled()
    assert await listed(session, hotline) == [] and len(log_lines.events("exchange.cases_backfilled")) == 1
    assert await hotline.service.backfill.run_once() is None


# --- the command ---------------------------------------------------------------------------

def police_config(directory: Path, redis_url: str, exchange: str) -> Path:
    """110's deployment on ``redis_url``, its [exchange] table ``exchange``."""
    directory.mkdir(parents=True, exist_ok=True)
    return police_config_file(directory, exchange, extra=f'redis_url = "{redis_url}"\n')


async def pushed_and_forgotten(redis_url: str, peer_redis_url: str) -> None:
    """12345 pushes a case to 110, today by the calendar (the command reads the real clock),
    and 110's index is emptied."""
    async with aiohttp.ClientSession() as session, \
            served_pair(redis_url, peer_redis_url, session, Clock(time.time())) as (hotline, police):
        await hotline.tickets.save(ticket_12345())
        await hotline.push.push(T12345, "110")
        await hotline.settle(police)
        await forget_the_index(police)


def test_the_command_runs_a_pass_and_prints_its_counts(redis_url, peer_redis_url, tmp_path, capsys):
    asyncio.run(pushed_and_forgotten(redis_url, peer_redis_url))
    capsys.readouterr()  # the exchange's own log lines
    config = police_config(tmp_path / "110", peer_redis_url,
                           'exchange_peer_url = "http://127.0.0.1:8081"\nexchange_allow_http_loopback = true')
    assert main(["--config", str(config), "backfill-cases"]) == 0
    out, err = capsys.readouterr()
    [line] = out.splitlines()
    assert json.loads(line) == {"scanned": 2, "indexed": 1, "already": 0, "bad": 0, "not_taken": 0}
    assert '"exchange.cases_backfilled"' in err  # the log line: stderr, never in the way of the counts
    assert main(["--config", str(config), "backfill-cases"]) == 0
    assert json.loads(capsys.readouterr().out) == {"scanned": 2, "indexed": 0, "already": 1, "bad": 0,
                                                   "not_taken": 0}


def test_the_command_refuses_a_deployment_without_the_channel(redis_url, tmp_path, capsys):
    config = police_config(tmp_path / "110", redis_url, "")
    assert main(["--config", str(config), "backfill-cases"]) == 2
    assert capsys.readouterr().err.startswith("hotline-link: error: the exchange channel does not run on this "
                                              "deployment: no exchange_peer_url")

