"""The knowledge base's pure parts: the data files (and every way one can be wrong), the
version rule, and search ranking with validity dates."""

from __future__ import annotations

from datetime import date

import pytest

from hotline_link.core.errors import ConfigError
from ivr.answers import answer_prompts
from ivr.menu import SELF_SERVICE
from knowledge.entries import (
    COLUMNS,
    available_jurisdictions,
    entry_of,
    ivr_answers,
    knowledge_jurisdiction,
    load_jurisdiction,
    parse_entries,
)
from knowledge.search import Index
from knowledge.versions import changes, file_replaces, next_version, record_of
from tickets.catalog import available_jurisdictions as catalog_jurisdictions

HEADER = ",".join(COLUMNS)
ROW = "T-1,1,社保怎么查？,到社保窗口查询。,社保,12345,,,高频咨询,yes,,"
TODAY = date(2026, 12, 7)
# the self-service menu as the IVR said it before its answers came from the knowledge base
MENU_BEFORE = ("社保查询请按1，住房公积金提取请按2，户籍业务办理时间请按3，挪车求助请按4，"
               "返回上一级请按星号键，转人工服务请按0。")


def _file(*rows: str, header: str = HEADER) -> str:
    return "\n".join(["# a comment", header, *rows]) + "\n"


def test_a_file_parses_into_entries():
    [entry] = parse_entries(_file(ROW), "t.csv")
    assert (entry.id, entry.version, entry.platform, entry.shareable, entry.valid_from) == ("T-1", 1, "12345",
                                                                                            True, None)


@pytest.mark.parametrize(("text", "where"), [
    (_file(ROW, header=HEADER + ",colour"), "t.csv line 2, column 13 ('colour'): unknown column"),
    (_file(ROW.replace(",,,高频", ",2026-02-30,,高频")), "t.csv line 3, column valid_from: bad date '2026-02-30'"),
    (_file(ROW.replace(",,,高频", ",,26/1/1,高频")), "t.csv line 3, column valid_to: bad date '26/1/1'"),
    (_file(ROW, ROW), "t.csv line 4, column id: duplicate id 'T-1' (first on line 3)"),
    (_file(ROW.removesuffix(",,") + ",5,社保"), "t.csv line 3, column ivr_key: bad ivr_key '5'"),
    (_file(ROW.removesuffix(",,") + ",1,"), "t.csv line 3, column ivr_label: an IVR answer needs its label"),
    (_file(ROW.replace(",12345,", ",119,")), "t.csv line 3, column platform: unknown platform '119'"),
    (_file(ROW.replace(",yes,", ",maybe,")), "t.csv line 3, column shareable: expected yes or no"),
    (_file(ROW.replace("T-1,1,", "T-1,v2,")), "t.csv line 3, column version: bad version 'v2'"),
    (_file(ROW.replace(",,,高频", ",2026-05-01,2026-04-01,高频")), "t.csv line 3, column valid_to"),
    (_file(ROW + ",extra"), "t.csv line 3, column *: expected 12 fields"),
    (_file(ROW.removesuffix(",,") + ",1,社保", ROW.replace("T-1", "T-2").removesuffix(",,") + ",1,社保"),
     "t.csv line 4, column ivr_key: key 1 is answered twice (also by T-1)"),
    (_file(), "t.csv line 2, column *: the file has no entries"),
])
def test_a_bad_file_names_the_file_line_and_column(text, where):
    with pytest.raises(ConfigError) as caught:
        parse_entries(text, "t.csv")
    assert where in str(caught.value)


def test_one_key_may_have_two_entries_one_after_the_other():
    old = ROW.replace(",,,高频", ",,2026-06-30,高频").removesuffix(",,") + ",1,社保"
    new = ROW.replace("T-1", "T-2").replace(",,,高频", ",2026-07-01,,高频").removesuffix(",,") + ",1,社保查询"
    entries = parse_entries(_file(old, new), "t.csv")
    assert ivr_answers(entries, date(2026, 6, 30))["1"].id == "T-1"
    assert ivr_answers(entries, date(2026, 7, 1))["1"].id == "T-2"


def test_every_catalog_jurisdiction_ships_a_knowledge_file_with_the_ivr_answers():
    assert set(available_jurisdictions()) == set(catalog_jurisdictions())
    texts = set()
    for name in available_jurisdictions():
        entries = load_jurisdiction(name)
        assert 12 <= len(entries) <= 25, name
        answers = ivr_answers(entries, TODAY)
        assert sorted(answers) == ["1", "2", "3", "4"], name
        prompts = answer_prompts(answers)
        assert prompts["self_service_menu"] == MENU_BEFORE
        texts.add(tuple(prompts[a.prompt] for a in SELF_SERVICE))
        assert any(e.platform == "110" for e in entries) and any(not e.shareable for e in entries)
    assert len(texts) == 1  # the same four answers everywhere, as the IVR said them before
    [(social, fund, hours, car)] = texts
    assert social.startswith("社保缴费和参保记录") and fund.startswith("提取住房公积金")
    assert "上午九点至十二点" in hours and "114转挪车专席" in car


def test_a_missing_answer_falls_back_to_an_agent():
    answers = {k: v for k, v in ivr_answers(load_jurisdiction("default"), TODAY).items() if k != "2"}
    prompts = answer_prompts(answers)
    assert "转人工服务请按0" in prompts["answer_housing_fund"]
    assert "住房公积金提取请按2" in prompts["self_service_menu"]  # the menu's own label


def test_the_jurisdiction_follows_the_catalogs_unless_set():
    assert knowledge_jurisdiction("", "siyang") == "siyang"
    assert knowledge_jurisdiction("wuqia", "siyang") == "wuqia"
    assert knowledge_jurisdiction("", "elsewhere") == "default"


def test_the_file_replaces_a_stored_entry_only_at_its_next_edition():
    v1 = entry_of({"id": "A", "version": "1", "question": "q", "answer": "a", "category": "c", "platform": "both"})
    edited = next_version(v1, entry_of({**v1.cells(), "answer": "b"}), "supervisor", 10.0)
    assert edited.version == 2 and edited.updated_by == "supervisor"
    assert file_replaces(None, v1)
    assert edited.file_version == 1  # an edit keeps the file's edition it was made on
    assert not file_replaces(edited, v1)
    # the file's row bumped once, to 2, replaces the edit: the edit's own version does not count
    assert file_replaces(edited, entry_of({**v1.cells(), "version": "2"}))
    assert changes(v1, edited) == {"answer": ["a", "b"]}
    record = record_of(v1, edited, "updated")
    assert record.previous is not None and record.previous["answer"] == "a"
    assert type(record).loads(record.dumps()) == record


# --- search -------------------------------------------------------------------------------

def _entries():
    return list(load_jurisdiction("qidong"))


def _top(query: str, day: date = TODAY) -> str:
    entries = _entries()
    index = Index(entries)
    keep = [e.valid_on(day) for e in entries]
    hits = index.search(query, limit=3, keep=keep)
    assert hits, query
    return hits[0].entry.question


@pytest.mark.parametrize(("query", "question"), [
    ("公积金怎么取", "住房公积金怎么提取？"),
    ("取公积金要带什么", "住房公积金怎么提取？"),
    ("身份证掉了", "身份证丢了怎么补办？"),
    ("有车挡住我出不去了", "车被别人的车堵住了，怎么找人挪车？"),
    ("派出所几点上班办户口", "户籍业务什么时间可以办理？"),
    ("办港澳通行证", "护照和港澳通行证在哪里办？"),
    ("去外地看病怎么报销", "医保异地就医怎么备案？"),  # through SYNONYMS
    ("查一下社保交了多少", "社保缴费和参保记录怎么查询？"),
])
def test_a_question_worded_differently_still_finds_its_entry(query, question):
    assert _top(query) == question


def test_the_question_weighs_more_than_the_answer():
    index = Index(_entries())
    [first, *_] = index.search("公积金贷款", limit=5)
    assert first.entry.question == "公积金贷款需要满足什么条件？"


def test_an_entry_is_found_only_while_it_is_valid():
    entries = _entries()
    seasonal = next(e for e in entries if e.valid_to is not None)
    index = Index(entries)
    for day, found in ((date(2026, 8, 31), False), (date(2026, 9, 1), True), (date(2027, 6, 30), True),
                       (date(2027, 7, 1), False)):
        hits = index.search("城乡居民医保缴费", limit=5, keep=[e.valid_on(day) for e in entries])
        assert (seasonal.id in {h.entry.id for h in hits}) is found, day


def test_nothing_matches_nothing():
    assert Index(_entries()).search("的了吗", limit=5) == []
    assert Index(_entries()).search("zzzz", limit=5) == []
