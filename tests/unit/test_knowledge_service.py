"""The knowledge base over a real redis-server: the data file's version rule at load, edits
with their history and bus events, validity on an injected clock, what a peer may see, and
the IVR's prompts re-synthesised (by an injected synthesiser) when an answer changes."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from hotline_link.core.bus import EventBus
from hotline_link.core.errors import SandboxError
from hotline_link.core.events import KnowledgeChanged
from hotline_link.core.zone import HOTLINE_ZONE
from ivr.answer_prompts import AnswerPrompts
from knowledge.entries import load_jurisdiction
from knowledge.errors import BadEntry, EntryConflict, NoSuchEntry
from knowledge.service import KnowledgeService
from knowledge.store import KnowledgeStore


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=HOTLINE_ZONE).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


FIELDS = {"question": "电动自行车怎么上牌？", "answer": "携带购车发票、合格证和身份证到公安交警部门的上牌点办理。",
          "category": "交通", "platform": "both", "source": "公安类政务服务知识库", "shareable": "yes"}


@pytest.fixture
def clock() -> Clock:
    return Clock(_at("2026-12-07T10:00:00"))


@pytest.fixture
async def service(private_redis: Redis, clock: Clock) -> KnowledgeService:
    svc = KnowledgeService(KnowledgeStore(private_redis), EventBus(), clock=clock, jurisdiction="qidong",
                           platforms={"12345", "remote"})
    await svc.load_file(load_jurisdiction("qidong"))
    return svc


async def test_the_file_is_loaded_for_our_platforms_only(service: KnowledgeService):
    stored = {e.id: e for e in await service.entries()}
    shipped = load_jurisdiction("qidong")
    assert set(stored) == {e.id for e in shipped if e.platform in ("12345", "both")}
    assert all(e.updated_by == "file" and e.version == 1 for e in stored.values())
    police = KnowledgeService(service.store, EventBus(), clock=service.clock, jurisdiction="qidong",
                              platforms={"110"})
    assert (await police.load_file(shipped))["other_platform"] == sum(e.platform == "12345" for e in shipped)


async def test_an_edit_survives_a_restart_until_the_file_is_bumped(service: KnowledgeService):
    shipped = load_jurisdiction("qidong")
    fund = next(e for e in shipped if e.ivr_key == "2")
    edited = await service.update(fund.id, {**fund.cells(), "answer": "公积金提取请登录公积金网上服务大厅办理。"},
                                  "supervisor")
    assert edited.version == 2
    counts = await service.load_file(shipped)  # a restart: the file still says version 1
    assert counts["created"] == counts["replaced"] == 0
    assert (await service.get(fund.id)).answer == "公积金提取请登录公积金网上服务大厅办理。"
    bumped = [replace(e, version=3, answer="新口径：" + e.answer) if e.id == fund.id else e for e in shipped]
    assert (await service.load_file(bumped))["replaced"] == 1
    after = await service.get(fund.id)
    assert (after.version, after.updated_by) == (3, "file") and after.answer.startswith("新口径")
    history = await service.history(fund.id)
    assert [(h.version, h.change, h.by) for h in history] == [(3, "loaded", "file"), (2, "updated", "supervisor"),
                                                              (1, "loaded", "file")]
    assert history[1].changes["answer"][1] == "公积金提取请登录公积金网上服务大厅办理。"
    assert history[0].previous is not None and history[0].previous["version"] == "2"


async def test_the_files_next_edition_replaces_an_entry_edited_several_times(service: KnowledgeService):
    shipped = load_jurisdiction("qidong")
    fund = next(e for e in shipped if e.ivr_key == "2")
    for n in range(3):  # versions 2, 3, 4: all above the file's 1
        await service.update(fund.id, {**fund.cells(), "answer": f"第{n}次修改的口径。"}, "supervisor")
    assert (await service.load_file(shipped))["replaced"] == 0  # the same edition: the edit stays
    bumped = [replace(e, version=2, answer="新一版口径。") if e.id == fund.id else e for e in shipped]
    assert (await service.load_file(bumped))["replaced"] == 1  # bumped once, to 2: it applies
    after = await service.get(fund.id)
    assert (after.version, after.file_version, after.answer) == (5, 2, "新一版口径。")
    await service.update(fund.id, {**after.cells(), "answer": "再改一次。"}, "supervisor")
    assert (await service.load_file(bumped))["replaced"] == 0  # and edits after it survive again
    assert (await service.get(fund.id)).answer == "再改一次。"


async def test_an_edit_is_a_new_version_with_history_and_an_event(service: KnowledgeService, clock: Clock):
    with service.bus.subscribe() as events:
        created = await service.create(FIELDS, "supervisor", entry_id="QD-KB-100")
        clock.now += 60
        updated = await service.update("QD-KB-100", {**FIELDS, "valid_to": "2026-12-31"}, "admin",
                                       expected_version=1)
        seen = list(events.seen)
    assert (created.version, updated.version, updated.updated_by) == (1, 2, "admin")
    assert [e.as_(KnowledgeChanged) for e in seen] == [
        KnowledgeChanged("QD-KB-100", 1, "supervisor", "", "created"),
        KnowledgeChanged("QD-KB-100", 2, "admin", "", "updated")]
    [last, first] = await service.history("QD-KB-100")
    assert (last.by, last.at, last.changes) == ("admin", clock.now, {"valid_to": ["", "2026-12-31"]})
    assert (first.change, first.previous) == ("created", None)
    with pytest.raises(EntryConflict):
        await service.update("QD-KB-100", FIELDS, "admin", expected_version=1)
    with pytest.raises(EntryConflict):
        await service.create(FIELDS, "admin", entry_id="QD-KB-100")
    with pytest.raises(NoSuchEntry):
        await service.update("nope", FIELDS, "admin")
    with pytest.raises(BadEntry, match="valid_from"):
        await service.create({**FIELDS, "valid_from": "2026-13-01"}, "admin")
    generated = await service.create(FIELDS, "admin")
    assert generated.id.startswith("KB-")


async def test_one_ivr_key_has_one_answer_at_a_time(service: KnowledgeService):
    with pytest.raises(EntryConflict, match="IVR key 2"):
        await service.create({**FIELDS, "platform": "12345", "ivr_key": "2", "ivr_label": "电动车上牌"}, "admin")
    successor = {**FIELDS, "platform": "12345", "ivr_key": "2", "ivr_label": "电动车上牌", "valid_from": "2027-01-01"}
    with pytest.raises(EntryConflict):  # the entry answering key 2 is open-ended
        await service.create(successor, "admin")
    fund = next(e for e in load_jurisdiction("qidong") if e.ivr_key == "2")
    await service.update(fund.id, {**fund.cells(), "valid_to": "2026-12-31"}, "admin")  # retired at the year's end
    later = await service.create(successor, "admin")
    assert (await service.ivr_answers())["2"].id == fund.id
    service.clock = Clock(_at("2027-01-02T09:00:00"))
    assert (await service.ivr_answers())["2"].id == later.id


async def test_search_sees_only_what_is_valid_now(service: KnowledgeService, clock: Clock):
    created = await service.create({**FIELDS, "valid_from": "2026-12-10", "valid_to": "2026-12-20"}, "admin")
    for day, found in (("2026-12-09", False), ("2026-12-10", True), ("2026-12-20", True), ("2026-12-21", False)):
        clock.now = _at(f"{day}T12:00:00")
        hits = (await service.search("电动车上牌", limit=5)).hits
        assert (created.id in {h.entry.id for h in hits}) is found, day


async def test_search_filters_and_a_peer_sees_only_shareable_entries(service: KnowledgeService):
    hits = (await service.search("停水了找谁 社保卡丢了", limit=20)).hits
    assert any(not h.entry.shareable for h in hits)
    shared = (await service.search("停水了找谁 社保卡丢了", limit=20, shareable_only=True)).hits
    assert shared and all(h.entry.shareable for h in shared)
    assert {h.entry.category for h in (await service.search("公积金", category="公积金")).hits} == {"公积金"}
    assert all(h.entry.serves("110") for h in (await service.search("办理", platform="110", limit=20)).hits)
    outcome = await service.search("公积金", include_peer=True)
    assert outcome.peer_error == "no peer deployment is configured" and outcome.hits


async def test_the_index_follows_edits(service: KnowledgeService):
    assert not (await service.search("电动车上牌")).hits
    await service.create(FIELDS, "admin")
    assert (await service.search("电动车上牌")).hits[0].entry.question == FIELDS["question"]


# --- the IVR's answers --------------------------------------------------------------------


class Synth:
    """Stands in for install_prompts: records what it was asked, writes nothing."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[dict[str, str]] = []
        self.fail = fail
        self.done = asyncio.Event()

    def __call__(self, prompts: Mapping[str, str], directory: Path) -> list[Path]:
        self.calls.append(dict(prompts))
        self.done.set()
        if self.fail is not None:
            raise self.fail
        return [directory / f"{name}.wav" for name in sorted(prompts)]


async def test_an_ivr_answer_edited_is_resynthesised_with_its_new_text(service: KnowledgeService, tmp_path: Path):
    synth = Synth()
    prompts = AnswerPrompts(service.bus, service.ivr_answers, tmp_path, synth)
    prompts.start()
    try:
        written = await prompts.sync()
        assert len(written) == 5 and written[0].name == "answer_household_hours.wav"
        assert written[0].parent == tmp_path / "hl" / "ivr"
        assert synth.calls[0]["answer_move_car"].startswith("挪车求助，不涉及交通或消防违法的")
        car = next(e for e in load_jurisdiction("qidong") if e.ivr_key == "4")
        synth.done.clear()
        await service.update(car.id, {**car.cells(), "answer": "挪车请使用交管12123应用的挪车服务。",
                                      "ivr_label": "挪车服务"}, "supervisor")
        await asyncio.wait_for(synth.done.wait(), 5)
        assert synth.calls[-1]["answer_move_car"] == "挪车请使用交管12123应用的挪车服务。"
        assert "挪车服务请按4" in synth.calls[-1]["self_service_menu"]
        synth.done.clear()
        await service.create(FIELDS, "admin")  # no IVR key: no synthesis
        await asyncio.sleep(0.05)
        assert not synth.done.is_set()
    finally:
        await prompts.stop()


async def test_a_failing_synthesis_is_logged_and_changes_nothing(service: KnowledgeService, tmp_path: Path,
                                                                 log_lines):
    prompts = AnswerPrompts(service.bus, service.ivr_answers, tmp_path, Synth(SandboxError("espeak-ng not installed")))
    assert await prompts.sync() == []
    [failed] = log_lines.events("ivr.answer_prompts_failed")
    assert "espeak-ng" in failed["error"]
    nowhere = AnswerPrompts(service.bus, service.ivr_answers, tmp_path / "no-asterisk", Synth())
    assert await nowhere.sync() == []


async def test_a_new_days_answer_plays_without_an_edit_to_announce_it(service: KnowledgeService, clock: Clock,
                                                                       tmp_path: Path):
    today = datetime.fromtimestamp(clock.now, HOTLINE_ZONE).date()
    car = next(e for e in load_jurisdiction("qidong") if e.ivr_key == "4")
    await service.update(car.id, {**car.cells(), "valid_to": today.isoformat()}, "supervisor")
    await service.create({**FIELDS, "question": "挪车怎么办？", "answer": "明天起挪车请用交管12123应用。",
                          "platform": "12345", "ivr_key": "4", "ivr_label": "挪车服务",
                          "valid_from": (today + timedelta(days=1)).isoformat()}, "supervisor")
    synth = Synth()
    prompts = AnswerPrompts(service.bus, service.ivr_answers, tmp_path, synth)
    keeping = asyncio.create_task(prompts.keep_synced(every_s=0.01))
    try:
        await asyncio.wait_for(synth.done.wait(), 5)
        assert synth.calls[-1]["answer_move_car"].startswith("挪车求助")  # today's answer
        clock.now += 24 * 3600  # midnight passes: no event, the periodic sync sees the new day
        for _ in range(3):  # a sync already under way may have read the old day
            synth.done.clear()
            await asyncio.wait_for(synth.done.wait(), 5)
        assert synth.calls[-1]["answer_move_car"] == "明天起挪车请用交管12123应用。"
    finally:
        keeping.cancel()
        await asyncio.gather(keeping, return_exceptions=True)


async def test_two_supervisors_giving_one_ivr_key_at_once_cannot_both_succeed(service: KnowledgeService):
    car = next(e for e in load_jurisdiction("qidong") if e.ivr_key == "4")
    await service.update(car.id, {**car.cells(), "ivr_key": "", "ivr_label": ""}, "supervisor")  # key 4 is free
    first = await service.create(FIELDS, "supervisor", entry_id="QD-KB-201")
    second = await service.create({**FIELDS, "question": "电动车怎么挂牌？"}, "supervisor", entry_id="QD-KB-202")
    take_4 = {"ivr_key": "4", "ivr_label": "挪车服务"}
    checked = service._ivr_key_free
    raced = False

    async def check_then_lose_the_race(entry):  # the other supervisor saves between check and write
        nonlocal raced
        await checked(entry)
        if not raced:
            raced = True
            await service.update(second.id, {**second.cells(), **take_4}, "admin")

    service._ivr_key_free = check_then_lose_the_race  # type: ignore[method-assign]
    with pytest.raises(EntryConflict, match="IVR key 4"):
        await service.update(first.id, {**first.cells(), **take_4}, "supervisor")
    assert (await service.get(second.id)).ivr_key == "4" and (await service.get(first.id)).ivr_key == ""


async def test_two_jurisdictions_on_one_redis_keep_their_own_entries(private_redis: Redis, clock: Clock):
    from knowledge.redis_keys import KnowledgeKeys

    def of(jurisdiction: str) -> KnowledgeService:
        return KnowledgeService(KnowledgeStore(private_redis, KnowledgeKeys.of(jurisdiction)), EventBus(),
                                clock=clock, jurisdiction=jurisdiction, platforms={"12345"})

    qidong, default = of("qidong"), of("default")
    await qidong.load_file(load_jurisdiction("qidong"))
    await default.load_file(load_jurisdiction("default"))
    assert {e.id[:2] for e in await qidong.entries()} == {"QD"}
    assert {e.id[:2] for e in await default.entries()} == {"DF"}
    car = next(e for e in await qidong.entries() if e.ivr_key == "4")  # the other's key 4 is no clash
    edited = await qidong.update(car.id, {**car.cells(), "answer": "挪车请用交管12123。"}, "supervisor")
    assert edited.ivr_key == "4" and (await qidong.ivr_answers())["4"].answer == "挪车请用交管12123。"
