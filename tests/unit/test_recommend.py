"""The recommender: clear cases, negation, emergency bias, and the labelled cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tickets.catalog import SynonymTable, load_jurisdiction, parse_catalog
from tickets.recommend import Recommender

CASES = Path(__file__).resolve().parents[1] / "data" / "labelled_cases.jsonl"
# Measured on labelled_cases.jsonl (147 cases): platform accuracy 1.0, 110 recall 1.0.
# The file was used to tune the keyword and cue lists, so the floor leaves room for edits
# to the catalog; two blind batches written before tuning scored 0.83 and 0.63.
ACCURACY_FLOOR = 0.95


@pytest.fixture(scope="module")
def recommender() -> Recommender:
    return Recommender.for_jurisdiction("default")


def cases() -> list[dict]:
    with CASES.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.mark.parametrize(("text", "platform", "entry_id"), [
    ("家里突然停电了", "12345", "D-12345-02"),
    ("小区停水了，一直没来水", "12345", "D-12345-01"),
    ("我的电动车被偷了", "110", "D-110-03"),
    ("厨房着火了，火很大", "110", "D-110-30"),
    ("想问一下身份证丢了怎么补办", "12345", "D-12345-81"),
    ("老板拖欠工资三个月了", "12345", "D-12345-53"),
])
def test_clear_cases(recommender: Recommender, text: str, platform: str, entry_id: str) -> None:
    got = recommender.recommend(text)
    assert (got.platform, got.entry_id) == (platform, entry_id), got.reasons
    entry = recommender.catalog.entry(entry_id)
    assert (got.category, got.matter, got.responsible_unit) == (entry.category, entry.matter,
                                                                 entry.responsible_unit)
    assert 0.0 < got.confidence <= 1.0


def test_negation_lowers_the_danger(recommender: Recommender) -> None:
    hurt = recommender.recommend("路口出了车祸，有人受伤")
    unhurt = recommender.recommend("路口出了车祸，没有人受伤")
    assert hurt.emergency and hurt.platform == "110"
    assert not unhurt.emergency and unhurt.platform == "110"  # still a traffic accident
    assert any("已否定" in r and "受伤" in r for r in unhurt.reasons)


def test_negation_stops_at_the_clause(recommender: Recommender) -> None:
    got = recommender.recommend("没有人受伤，但是车起火了")
    assert got.emergency and got.platform == "110"


def test_a_question_is_not_a_negation(recommender: Recommender) -> None:
    got = recommender.recommend("撞了一个人，不知道有没有人受伤")
    assert got.emergency and got.platform == "110"


def test_dispute_without_violence_is_12345(recommender: Recommender) -> None:
    calm = recommender.recommend("跟邻居吵架了，没有动手，想找人调解")
    violent = recommender.recommend("跟邻居吵架，他动手打人了")
    assert (calm.platform, calm.emergency) == ("12345", False)
    assert (violent.platform, violent.emergency) == ("110", True)


def test_emergency_overrides_a_12345_entry(recommender: Recommender) -> None:
    # 停电 alone is a 12345 matter; a live wire sparking on the road is a 110 emergency.
    assert recommender.recommend("家里停电了").platform == "12345"
    got = recommender.recommend("停电了，电线掉在路上一直冒火花")
    assert got.emergency and got.platform == "110"
    assert got.entry_id.startswith("D-110-")


def test_nothing_matched_goes_to_12345_with_low_confidence(recommender: Recommender) -> None:
    got = recommender.recommend("嗯嗯好的谢谢")
    assert (got.platform, got.emergency) == ("12345", False)
    assert got.confidence < 0.3


def test_other_jurisdictions(recommender: Recommender) -> None:
    qidong = Recommender(load_jurisdiction("qidong"), recommender.cues)
    # 启东's list sends 广场舞 noise to 110 (the default list keeps it with 12345).
    assert qidong.recommend("广场舞音响太吵了").platform == "110"
    assert recommender.recommend("广场舞音响太吵了").platform == "12345"
    siyang = Recommender(load_jurisdiction("siyang"), recommender.cues)
    assert siyang.recommend("有人落水了").entry_id == "SY-110-5"


def test_instances_do_not_share_dictionaries(recommender: Recommender) -> None:
    other = Recommender(load_jurisdiction("wuqia"), recommender.cues)
    assert other._tokenizer is not recommender._tokenizer
    assert "僵尸车" in recommender._tokenizer.FREQ  # a default keyword, not a wuqia one
    assert not other._tokenizer.FREQ.get("僵尸车")


def test_labelled_cases(recommender: Recommender) -> None:
    data = cases()
    assert len(data) >= 80
    results = [(c, recommender.recommend(c["text"])) for c in data]
    emergencies = [(c, r) for c, r in results if c["emergency"]]
    missed = [c["text"] for c, r in emergencies if r.platform != "110"]
    assert len(emergencies) >= 30
    assert not missed, f"emergencies not sent to 110: {missed}"
    accuracy = sum(r.platform == c["platform"] for c, r in results) / len(results)
    assert accuracy >= ACCURACY_FLOOR, accuracy


# --- issue 20: wording the catalog does not use --------------------------------------

HELDOUT = Path(__file__).resolve().parents[1] / "data" / "heldout_cases.jsonl"
TINY_CATALOG = """schema,1
version,2026.12.07-1
jurisdiction,tiny
id,platform,category,sub_category,matter,responsible_unit,emergency,keywords
T-110-1,110,违法犯罪,飞车抢夺,飞车抢夺,公安局,false,飞车抢夺
T-12345-1,12345,公共设施,路灯,路灯不亮,城管局,false,路灯
"""


def test_bigrams_match_a_word_the_catalog_does_not_hold() -> None:
    # 骑车抢夺 holds no catalog keyword and no dictionary word of one; its bigrams 车抢,
    # 抢夺 are in 飞车抢夺. No synonyms, so only the bigrams can find it.
    tiny = Recommender(parse_catalog(TINY_CATALOG, "tiny.csv"), synonyms=SynonymTable("1", "none", ()))
    assert tiny.recommend("有人骑车抢夺").entry_id == "T-110-1"
    assert tiny.recommend("门口的路灯不亮了").entry_id == "T-12345-1"
    assert tiny.recommend("嗯嗯好的").entry_id == "T-12345-1"  # the fallback: nothing matched


def test_synonyms_bring_the_catalog_word(recommender: Recommender) -> None:
    got = recommender.recommend("放在桌上的手机被人顺走了")
    assert (got.platform, got.entry_id) == ("110", "D-110-03"), got.reasons
    unsaid = recommender.recommend("东西没有被偷拿，就是快递一直没送到")
    assert unsaid.platform == "12345", unsaid.reasons  # a negation reaches a synonym


def test_a_theft_reported_after_the_fact_is_110(recommender: Recommender) -> None:
    got = recommender.recommend("昨天晚上停在楼下的电瓶车不见了")
    assert (got.platform, got.entry_id, got.emergency) == ("110", "D-110-03", False), got.reasons


def test_an_unattended_object_is_110(recommender: Recommender) -> None:
    got = recommender.recommend("候车厅有个行李箱放了半天一直没人管")
    assert got.platform == "110" and got.emergency, got.reasons
    assert got.entry_id == "D-110-12"


def test_a_question_about_household_registration_is_12345(recommender: Recommender) -> None:
    got = recommender.recommend("想问一下把户口迁过来需要什么材料")
    assert (got.platform, got.emergency) == ("12345", False), got.reasons
    assert got.entry_id in ("D-12345-80", "D-12345-81")  # the government-service questions
    assert any("咨询" in r for r in got.reasons)
    # Danger outweighs the question: it is no consultation.
    assert recommender.recommend("请问一下，我家着火了怎么办").platform == "110"


def test_the_heldout_file_parses() -> None:
    with HELDOUT.open(encoding="utf-8") as handle:
        data = [json.loads(line) for line in handle if line.strip()]
    assert len(data) >= 100
    assert {c["platform"] for c in data} == {"110", "12345"}
    for case in data:
        assert {"text", "platform", "category", "emergency", "kind"} <= set(case)
        assert case["text"] and case["kind"] and isinstance(case["emergency"], bool)
        assert not case["emergency"] or case["platform"] == "110"
    assert not {c["text"] for c in data} & {c["text"] for c in cases()}  # apart from tuning


@pytest.mark.parametrize("text", [
    "我要报警，有人在我店门口闹事",
    "想报案，我的快递包裹被人冒领了",
    "我想去派出所立案，合伙人卷款跑了",
])
def test_an_intent_to_report_is_110(recommender: Recommender, text: str) -> None:
    got = recommender.recommend(text)
    assert got.platform == "110", got.reasons


@pytest.mark.parametrize("text", [
    "报案回执丢了怎么补办",
    "家里想装个烟雾报警器，去哪办",
    "我不想报警，就想找人调解一下邻居纠纷",
])
def test_paperwork_about_a_report_or_no_intent_stays_12345(recommender: Recommender, text: str) -> None:
    got = recommender.recommend(text)
    assert got.platform == "12345", got.reasons


@pytest.mark.parametrize("text", [
    "下班路上一直被一个陌生男的跟踪",
    "他被人勒索了五千块",
    "我妈在菜市场被人骗了两千块钱",
    "有人拿我的裸照找我要钱",
    "请问我被网友骗了该怎么办",
])
def test_a_victim_of_an_offence_is_110(recommender: Recommender, text: str) -> None:
    got = recommender.recommend(text)
    assert got.platform == "110", got.reasons


@pytest.mark.parametrize("text", [
    "我没有被骗，只是想咨询一下",
    "我担心被骗，想问问怎么防范电信诈骗",
    "楼上装修我被打扰得睡不着",
])
def test_a_negated_feared_or_false_victim_is_no_offence(recommender: Recommender, text: str) -> None:
    got = recommender.recommend(text)
    assert got.platform == "12345", got.reasons


@pytest.mark.parametrize("text", [
    "楼道里堆满杂物，担心着火",
    "路口井盖丢了，晚上容易掉下去",
    "社区能不能办个预防火灾的讲座",
])
def test_a_worry_about_a_hazard_is_no_emergency(recommender: Recommender, text: str) -> None:
    got = recommender.recommend(text)
    assert (got.platform, got.emergency) == ("12345", False), got.reasons


def test_a_worry_reaches_its_own_clause_only(recommender: Recommender) -> None:
    got = recommender.recommend("一直担心着火，结果今天厨房真的着火了")
    assert (got.platform, got.emergency) == ("110", True), got.reasons


@pytest.mark.parametrize("text", ["他倒在地上不动了", "孩子被同学打得头破血流"])
def test_more_injury_words_are_emergencies(recommender: Recommender, text: str) -> None:
    got = recommender.recommend(text)
    assert (got.platform, got.emergency) == ("110", True), got.reasons


@pytest.mark.parametrize("text", ["宿舍柜子里的银行卡和现金都不见了", "公交上有人把手伸到一个大爷的口袋里"])
def test_property_gone_from_a_home_or_a_hand_in_a_pocket_is_theft(recommender: Recommender, text: str) -> None:
    got = recommender.recommend(text)
    assert (got.platform, got.sub_category) == ("110", "盗窃"), got.reasons


def test_a_lost_purse_is_no_theft(recommender: Recommender) -> None:
    got = recommender.recommend("我的钱包丢了，不知道掉在哪了")
    assert got.platform == "12345", got.reasons


@pytest.mark.parametrize("text", ["我的电动车和一辆出租车碰了一下，对方说我全责", "出租车在路口跟我的车擦了"])
def test_a_collision_named_beside_a_12345_trade_word_is_110(recommender: Recommender, text: str) -> None:
    got = recommender.recommend(text)
    assert (got.platform, got.sub_category) == ("110", "交通事故（无人员伤亡）"), got.reasons


def test_a_platform_dispatches_to_its_own_entry_even_when_the_note_sounds_urgent():
    qidong = Recommender.for_jurisdiction("qidong")
    note = "燃气 小区天然气管道漏气需要维修"
    assert qidong.recommend(note).platform == "110"  # a leak is a danger cue: the call may go to 110
    at_12345 = qidong.entry_for(note, "12345")
    assert at_12345 is not None and at_12345.platform == "12345" and at_12345.responsible_unit == "燃气公司"
    assert qidong.entry_for(note, "110").platform == "110"
    assert qidong.entry_for("嗯嗯", "12345") is None  # nothing matches: no proposal
