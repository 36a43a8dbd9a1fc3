"""The transfer catalog files: every shipped one parses; every kind of bad file is
rejected with its file name, line number and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline_link.core.errors import ConfigError
from tickets.catalog import (
    PLATFORMS,
    available_jurisdictions,
    load_catalog,
    load_default_cues,
    load_default_synonyms,
    load_jurisdiction,
    parse_cues,
    parse_synonyms,
)

HEADER = "id,platform,category,sub_category,matter,responsible_unit,emergency,keywords"
META = "schema,1\nversion,2024.01.02-1\njurisdiction,test\n"
GOOD_ROWS = ("A-1,110,违法犯罪,盗窃,盗窃案件,公安局,false,偷|被偷\n"
             "A-2,12345,公共设施,供水,停水,水务公司,false,停水\n")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "test.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_shipped_catalog_parses() -> None:
    names = available_jurisdictions()
    assert {"default", "siyang", "qidong", "wuqia"} <= set(names)
    for name in names:
        catalog = load_jurisdiction(name)
        assert catalog.jurisdiction == name
        assert {e.platform for e in catalog.entries} == set(PLATFORMS)
        assert all(e.matter and e.responsible_unit for e in catalog.entries)
        assert all(e.platform == "110" for e in catalog.entries if e.emergency)


def test_seed_lists_are_complete() -> None:
    # 启东 annex: 62 rows 12345->110 and 71 rows 110->12345; 泗阳 annex 1: 9 + 8 items;
    # 乌恰 annex: 22 + 9 items.
    assert len(load_jurisdiction("qidong").for_platform("110")) == 62
    assert len(load_jurisdiction("qidong").for_platform("12345")) == 71
    assert len(load_jurisdiction("siyang").for_platform("12345")) == 9
    assert len(load_jurisdiction("siyang").for_platform("110")) == 8
    assert len(load_jurisdiction("wuqia").entries) == 31


def test_entry_fields(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, "# comment\n" + META + HEADER + "\n\n" + GOOD_ROWS))
    assert catalog.version == "2024.01.02-1"
    first = catalog.entry("A-1")
    assert (first.platform, first.sub_category, first.keywords, first.line) == ("110", "盗窃", ("偷", "被偷"), 7)
    assert first.emergency is False


def test_shipped_cues_parse() -> None:
    cues = load_default_cues()
    assert cues.terms("danger")["着火"] >= 1.0
    assert "没有" in cues.terms("negator")


@pytest.mark.parametrize(("text", "line", "reason"), [
    (META + "id,platform,category,sub_category,matter,emergency,keywords\n" + GOOD_ROWS,
     4, "missing column(s): responsible_unit"),
    (META + HEADER + "\n" + GOOD_ROWS + "A-3,119,火灾,火灾,火灾,消防,true,着火\n",
     7, "unknown platform '119'"),
    (META + HEADER + "\n" + GOOD_ROWS + "A-1,110,违法犯罪,抢劫,抢劫,公安局,true,抢\n",
     7, "duplicate id 'A-1' (first on line 5)"),
    ("schema,1\nversion,v2\njurisdiction,test\n" + HEADER + "\n" + GOOD_ROWS,
     4, "bad version 'v2'"),
    ("schema,2\nversion,2024.01.02\njurisdiction,test\n" + HEADER + "\n" + GOOD_ROWS,
     4, "unsupported schema '2'"),
    ("version,2024.01.02\njurisdiction,test\n" + HEADER + "\n" + GOOD_ROWS,
     3, "metadata key 'schema' missing"),
    (META + HEADER + "\n" + GOOD_ROWS + "A-3,110,违法犯罪,抢劫,抢劫\n",
     7, "expected 8 fields"),
    (META + HEADER + "\n" + GOOD_ROWS + "A-3,110,违法犯罪,抢劫,抢劫,公安局,maybe,抢\n",
     7, "emergency must be true or false"),
    (META + HEADER + "\n" + GOOD_ROWS + "A-3,12345,违法犯罪,抢劫,抢劫,公安局,true,抢\n",
     7, "an emergency entry must have platform 110"),
    (META + HEADER + "\n" + GOOD_ROWS + "A-3,110,违法犯罪,抢劫,,公安局,false,抢\n",
     7, "column 'matter' is empty"),
    (META + HEADER + "\n" + GOOD_ROWS + "A-3,110,违法犯罪,抢劫,抢劫,公安局,false,抢||夺\n",
     7, "empty keyword"),
    (META + HEADER + ",colour\n" + GOOD_ROWS, 4, "unknown column(s): colour"),
    (META + "owner,me\n" + HEADER + "\n" + GOOD_ROWS, 4, "unknown metadata key 'owner'"),
    (META + HEADER + "\n" + 'A-3,110,"unclosed,x,y,z,w,false,k\n', 5, "not a valid CSV row"),
    (META + HEADER + "\nA-2,12345,公共设施,供水,停水,水务公司,false,停水\n", 4, "no entry for platform 110"),
])
def test_malformed_file_is_rejected(tmp_path: Path, text: str, line: int, reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_catalog(path)
    message = str(err.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert reason in message


def test_not_utf8_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes((META + HEADER + "\n" + GOOD_ROWS).encode("gbk"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_catalog(path)


def test_unknown_jurisdiction_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"known: .*default"):
        load_jurisdiction("atlantis")


def test_bad_cue_file_is_rejected() -> None:
    text = "schema,1\nversion,2024.01.02\nterm,kind,weight,note\n着火,danger,1.2,\n着火,danger,1.0,\n"
    with pytest.raises(ConfigError, match=r"^cues-test:5: duplicate term '着火'"):
        parse_cues(text, "cues-test")
    with pytest.raises(ConfigError, match=r"^cues-test:5: unknown cue kind 'scary'"):
        parse_cues(text.replace("1.2,\n着火,danger,1.0", "1.2,\n起火,scary,1.0"), "cues-test")


def test_the_synonym_table_loads_and_checks_its_rows() -> None:
    table = load_default_synonyms()
    assert table.synonyms and all(s.means for s in table.synonyms)
    joint = [s for s in table.synonyms if len(s.groups) > 1]
    assert joint and all(all(group for group in s.groups) for s in joint)
    head = "schema,1\nversion,2026.12.07-1\nterm,means,note\n"
    parsed = parse_synonyms(head + "顺走|偷拿,被偷|盗窃,theft\n车&不见了,被偷,a vehicle\n", "s.csv")
    assert parsed.synonyms[0].groups == (("顺走", "偷拿"),) and parsed.synonyms[0].means == ("被偷", "盗窃")
    assert parsed.synonyms[1].groups == (("车",), ("不见了",))
    with pytest.raises(ConfigError, match=r"s\.csv:4: empty word in column 'means'"):
        parse_synonyms(head + "顺走,,theft\n", "s.csv")
    with pytest.raises(ConfigError, match=r"s\.csv:4: empty word in column 'term'"):
        parse_synonyms(head + "车&&不见了,被偷,x\n", "s.csv")
