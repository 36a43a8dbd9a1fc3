"""Property tests of the catalog CSV reader: any text gives a catalog or a ConfigError that
names the file and line, never another exception; a written catalog reads back the same."""

from __future__ import annotations

import csv
import io
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from hotline_link.core.errors import ConfigError
from tickets.catalog import parse_catalog, parse_cues

BOUNDED = settings(max_examples=300, deadline=None)
HEAD = "schema,1\nversion,2024.01.02\njurisdiction,test\n"
HEADER = "id,platform,category,sub_category,matter,responsible_unit,emergency,keywords,source\n"
_PIECES = st.sampled_from([
    "schema,1", "version,2024.01.02", "jurisdiction,test", HEADER.strip(), "term,kind,weight,note",
    "A-1,110,治安,打架,打架斗殴,公安局,true,打架|斗殴,附件", "B-1,12345,城管,噪音,噪音扰民,城管局,false,噪音,",
    '"unterminated', '"a""b",c', ",,,,,,,,", "# comment", "", "\ufeff", "\x00", "a\rb", "x,y,z",
    "A-1,110,治安,打架,打架斗殴,公安局,maybe,x,", "A-1,12345,x,y,z,u,true,a||b,", "危险,danger,1.5,",
    "危险,danger,nan,", "危险,danger,1e400,", "不,negator,0.5,note"])


def _check(text: str, parse) -> None:
    try:
        parse(text, "t.csv")
    except ConfigError as exc:
        assert re.match(r"t\.csv:\d+: ", str(exc)), str(exc)


@BOUNDED
@given(st.text(max_size=400))
def test_any_text_gives_a_catalog_or_a_config_error(text):
    _check(text, parse_catalog)
    _check(text, parse_cues)


@BOUNDED
@given(st.lists(_PIECES, max_size=12), st.sampled_from(["\n", "\r\n", "\r"]))
def test_rows_mixing_good_and_bad_never_crash(rows, eol):
    _check(eol.join(rows), parse_catalog)
    _check(HEAD + HEADER + eol.join(rows), parse_catalog)
    _check("schema,1\nversion,2024.01.02\nterm,kind,weight,note\n" + eol.join(rows), parse_cues)


_CELL = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="|#\ufeff"),
                min_size=1, max_size=12).map(str.strip).filter(bool)


@BOUNDED
@given(st.lists(st.tuples(_CELL, _CELL, _CELL, st.lists(_CELL, max_size=3)), min_size=1, max_size=6))
def test_a_written_catalog_reads_back(rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    written = []
    for index, (category, matter, unit, keywords) in enumerate(rows + [("c", "m", "u", [])]):
        platform = "110" if index % 2 == 0 else "12345"
        if index == len(rows):
            platform = "12345" if all(i % 2 == 0 for i in range(len(rows))) else "110"
        entry_id = f"E-{index}"
        writer.writerow([entry_id, platform, category, "", matter, unit, "false", "|".join(keywords), ""])
        written.append((entry_id, platform, category, matter, unit, tuple(keywords)))
    catalog = parse_catalog(HEAD + HEADER + out.getvalue(), "t.csv")
    assert [(e.id, e.platform, e.category, e.matter, e.responsible_unit, e.keywords)
            for e in catalog.entries] == written
