"""The transfer catalog (分流转办事项清单): which matters belong to 110 and which to 12345.

A catalog is a UTF-8 CSV file an operator can edit in any text editor or spreadsheet::

    # comment lines start with '#'; blank lines are ignored
    schema,1
    version,2023.04.14-1
    jurisdiction,qidong
    title,启东市 12345 热线、110 平台分流转办事项清单
    id,platform,category,sub_category,matter,responsible_unit,emergency,keywords,source
    QD-110-001,110,社会治安类,黄赌毒黑,对卖淫嫖娼、赌博……的举报,公安局,false,赌博|吸毒,附件 一

Metadata rows (``key,value``) come first, then the header row (it starts with ``id``),
then one row per matter. ``keywords`` holds words or short example phrases separated by
``|``. Every problem is a ``ConfigError`` naming the file, the line and the reason; no row
is ever skipped silently.

The emergency cue lexicon (``data/cues.csv``) uses the same layout with the header
``term,kind,weight,note``; see ``parse_cues``. The synonym table (``data/synonyms.csv``,
header ``term,means,note``) maps caller wording to the catalog's own words; see
``parse_synonyms``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TypeVar

from hotline_link.core.errors import ConfigError

SCHEMA = 1
PLATFORMS = ("110", "12345")
REQUIRED_COLUMNS = ("id", "platform", "category", "sub_category", "matter",
                    "responsible_unit", "emergency", "keywords")
OPTIONAL_COLUMNS = ("source",)
REQUIRED_META = ("schema", "version", "jurisdiction")
OPTIONAL_META = ("title", "source")
CUE_COLUMNS = ("term", "kind", "weight", "note")
CUE_KINDS = ("danger", "negator", "urgent", "breaker", "consult", "report", "harm", "worry")
SYNONYM_COLUMNS = ("term", "means", "note")
DATA_PACKAGE = "tickets"

_VERSION = re.compile(r"^\d{4}\.\d{2}\.\d{2}(-\d+)?$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
JURISDICTION_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_BOOLS = {"true": True, "false": False}
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One matter of the list and the platform that takes it."""

    id: str
    platform: str  # "110" or "12345"
    category: str
    sub_category: str
    matter: str
    responsible_unit: str
    emergency: bool
    keywords: tuple[str, ...]
    source: str
    line: int


@dataclass(frozen=True, slots=True)
class Catalog:
    jurisdiction: str
    version: str
    title: str
    source: str
    origin: str  # the file it came from, for messages
    entries: tuple[CatalogEntry, ...]

    def entry(self, entry_id: str) -> CatalogEntry:
        for item in self.entries:
            if item.id == entry_id:
                return item
        raise KeyError(entry_id)

    def for_platform(self, platform: str) -> tuple[CatalogEntry, ...]:
        return tuple(e for e in self.entries if e.platform == platform)


@dataclass(frozen=True, slots=True)
class Cue:
    """A word of the emergency lexicon: a danger sign, a negator, an urgency word or a
    clause breaker (但是: a negation before it does not reach past it)."""

    term: str
    kind: str
    weight: float
    note: str
    line: int


@dataclass(frozen=True, slots=True)
class CueLexicon:
    version: str
    origin: str
    cues: tuple[Cue, ...]

    def terms(self, kind: str) -> dict[str, float]:
        return {c.term: c.weight for c in self.cues if c.kind == kind}


@dataclass(frozen=True, slots=True)
class Synonym:
    """Caller wording and the catalog words it means. ``groups`` holds one tuple of
    alternatives per part of the term: a plain term (偷拿, or 偷拿|顺走) has one group and
    is matched word by word, so a negation reaches it; a term of several parts joined by
    ``&`` (电动车|自行车&不见了) needs one alternative of every part anywhere in the note."""

    term: str
    groups: tuple[tuple[str, ...], ...]
    means: tuple[str, ...]
    note: str
    line: int


@dataclass(frozen=True, slots=True)
class SynonymTable:
    version: str
    origin: str
    synonyms: tuple[Synonym, ...]


# --- reading rows ---------------------------------------------------------------------

def _rows(text: str, origin: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of every row that is neither blank nor a comment."""
    if text.startswith("\ufeff"):
        text = text[1:]
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            cells = next(csv.reader([raw], strict=True))
        except csv.Error as exc:
            raise data_error(origin, number, f"not a valid CSV row ({exc})") from None
        yield number, [c.strip() for c in cells]


def data_error(origin: str, line: int, reason: str) -> ConfigError:
    return ConfigError(f"{origin}:{line}: {reason}")


def _read_meta(rows: Iterator[tuple[int, list[str]]], origin: str, header_first: str,
               allowed: Sequence[str]) -> tuple[dict[str, str], int, list[str]]:
    """Metadata rows up to the header row; returns them, the header line and cells."""
    meta: dict[str, str] = {}
    for number, cells in rows:
        if cells and cells[0] == header_first:
            return meta, number, cells
        if len(cells) != 2:
            raise data_error(origin, number, f"metadata row must be 'key,value', found {len(cells)} fields"
                         f" (or the header row starting with '{header_first}' is missing)")
        key, value = cells
        if key not in allowed:
            raise data_error(origin, number, f"unknown metadata key {key!r} (allowed: {', '.join(allowed)})")
        if key in meta:
            raise data_error(origin, number, f"metadata key {key!r} given twice")
        if not value:
            raise data_error(origin, number, f"metadata key {key!r} has no value")
        meta[key] = value
    raise data_error(origin, 0, f"no header row starting with '{header_first}'")


def _check_meta(meta: dict[str, str], origin: str, header_line: int,
                required: Sequence[str]) -> None:
    for key in required:
        if key not in meta:
            raise data_error(origin, header_line, f"metadata key {key!r} missing before the header row")
    if meta["schema"] != str(SCHEMA):
        raise data_error(origin, header_line,
                     f"unsupported schema {meta['schema']!r}; this version reads schema {SCHEMA}")
    if not _VERSION.match(meta["version"]):
        raise data_error(origin, header_line,
                     f"bad version {meta['version']!r}: expected YYYY.MM.DD or YYYY.MM.DD-N")


def _check_header(cells: list[str], origin: str, line: int, required: Sequence[str],
                  optional: Sequence[str]) -> None:
    missing = [c for c in required if c not in cells]
    if missing:
        raise data_error(origin, line, f"missing column(s): {', '.join(missing)}")
    unknown = [c for c in cells if c not in required and c not in optional]
    if unknown:
        raise data_error(origin, line, f"unknown column(s): {', '.join(unknown)}")
    if len(set(cells)) != len(cells):
        raise data_error(origin, line, "a column is named twice")


def _record(cells: list[str], header: list[str], origin: str, line: int) -> dict[str, str]:
    if len(cells) != len(header):
        raise data_error(origin, line, f"expected {len(header)} fields ({','.join(header)}), found {len(cells)}")
    return dict(zip(header, cells, strict=True))


def parse_table(text: str, origin: str, *, header_first: str, meta_keys: Sequence[str],
                required_meta: Sequence[str], columns: Sequence[str], optional_columns: Sequence[str],
                row: Callable[[dict[str, str], str, int], T], key: Callable[[T], str], what: str,
                jurisdiction: bool = True) -> tuple[dict[str, str], int, list[T]]:
    """The layout every data file here shares (the catalog, the cue lexicon, the units
    directory): metadata rows, a header row starting with ``header_first``, then one item a
    row, made by ``row(record, origin, line)``, whose ``key`` must be unique (``what`` names
    it in the error). With ``jurisdiction`` the metadata names a valid one. Returns the
    metadata, the header's line and the items."""
    rows = _rows(text, origin)
    meta, header_line, header = _read_meta(rows, origin, header_first, meta_keys)
    _check_meta(meta, origin, header_line, required_meta)
    if jurisdiction and not JURISDICTION_NAME.match(meta["jurisdiction"]):
        raise data_error(origin, header_line, f"bad jurisdiction name {meta['jurisdiction']!r}")
    _check_header(header, origin, header_line, columns, optional_columns)
    items: list[T] = []
    seen: dict[str, int] = {}
    for line, cells in rows:
        item = row(_record(cells, header, origin, line), origin, line)
        if key(item) in seen:
            raise data_error(origin, line, f"duplicate {what} {key(item)!r} (first on line {seen[key(item)]})")
        seen[key(item)] = line
        items.append(item)
    return meta, header_line, items


# --- catalog --------------------------------------------------------------------------

def _entry(rec: dict[str, str], origin: str, line: int) -> CatalogEntry:
    for column in ("id", "platform", "category", "matter", "responsible_unit", "emergency"):
        if not rec[column]:
            raise data_error(origin, line, f"column {column!r} is empty")
    if not _ID.match(rec["id"]):
        raise data_error(origin, line, f"bad id {rec['id']!r}: letters, digits, '-', '_', '.' only")
    if rec["platform"] not in PLATFORMS:
        raise data_error(origin, line, f"unknown platform {rec['platform']!r} (expected 110 or 12345)")
    if rec["emergency"].lower() not in _BOOLS:
        raise data_error(origin, line, f"emergency must be true or false, found {rec['emergency']!r}")
    emergency = _BOOLS[rec["emergency"].lower()]
    if emergency and rec["platform"] != "110":
        raise data_error(origin, line, "an emergency entry must have platform 110")
    keywords = tuple(k.strip() for k in rec["keywords"].split("|")) if rec["keywords"] else ()
    if any(not k for k in keywords):
        raise data_error(origin, line, "empty keyword (two '|' in a row or a trailing '|')")
    return CatalogEntry(rec["id"], rec["platform"], rec["category"], rec["sub_category"],
                        rec["matter"], rec["responsible_unit"], emergency, keywords,
                        rec.get("source", ""), line)


def parse_catalog(text: str, origin: str) -> Catalog:
    """Parse catalog text; ``origin`` names the file in error messages."""
    meta, header_line, entries = parse_table(
        text, origin, header_first="id", meta_keys=REQUIRED_META + OPTIONAL_META, required_meta=REQUIRED_META,
        columns=REQUIRED_COLUMNS, optional_columns=OPTIONAL_COLUMNS, row=_entry, key=lambda e: e.id, what="id")
    if not entries:
        raise data_error(origin, header_line, "the catalog has no entries")
    for platform in PLATFORMS:
        if not any(e.platform == platform for e in entries):
            raise data_error(origin, header_line, f"the catalog has no entry for platform {platform}")
    return Catalog(meta["jurisdiction"], meta["version"], meta.get("title", ""),
                   meta.get("source", ""), origin, tuple(entries))


# --- cue lexicon ----------------------------------------------------------------------

def _cue(rec: dict[str, str], origin: str, line: int) -> Cue:
    if not rec["term"]:
        raise data_error(origin, line, "column 'term' is empty")
    if rec["kind"] not in CUE_KINDS:
        raise data_error(origin, line, f"unknown cue kind {rec['kind']!r} (expected {', '.join(CUE_KINDS)})")
    try:
        weight = float(rec["weight"])
    except ValueError:
        raise data_error(origin, line, f"weight must be a number, found {rec['weight']!r}") from None
    if not 0.0 <= weight <= 2.0:
        raise data_error(origin, line, f"weight {weight} outside 0..2")
    return Cue(rec["term"], rec["kind"], weight, rec["note"], line)


def parse_cues(text: str, origin: str) -> CueLexicon:
    meta, _, cues = parse_table(
        text, origin, header_first="term", meta_keys=("schema", "version", "source"),
        required_meta=("schema", "version"), columns=CUE_COLUMNS, optional_columns=(), row=_cue,
        key=lambda c: c.term, what="term", jurisdiction=False)
    return CueLexicon(meta["version"], origin, tuple(cues))


# --- synonym table --------------------------------------------------------------------

def _alternatives(text: str, origin: str, line: int, column: str) -> tuple[str, ...]:
    words = tuple(w.strip() for w in text.split("|"))
    if not text or any(not w for w in words):
        raise data_error(origin, line, f"empty word in column {column!r} (two '|' in a row, or none)")
    return words


def _synonym(rec: dict[str, str], origin: str, line: int) -> Synonym:
    groups = tuple(_alternatives(part.strip(), origin, line, "term") for part in rec["term"].split("&"))
    return Synonym(rec["term"], groups, _alternatives(rec["means"], origin, line, "means"), rec["note"], line)


def parse_synonyms(text: str, origin: str) -> SynonymTable:
    meta, _, synonyms = parse_table(
        text, origin, header_first="term", meta_keys=("schema", "version", "source"),
        required_meta=("schema", "version"), columns=SYNONYM_COLUMNS, optional_columns=(), row=_synonym,
        key=lambda s: s.term, what="term", jurisdiction=False)
    return SynonymTable(meta["version"], origin, tuple(synonyms))


# --- files ----------------------------------------------------------------------------

def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None


def load_catalog(path: str | Path) -> Catalog:
    """Read and check one catalog file."""
    path = Path(path)
    return parse_catalog(read_text(path), str(path))


def available_jurisdictions() -> tuple[str, ...]:
    """Names of the catalogs shipped in ``tickets/data/catalog``."""
    folder = resources.files(DATA_PACKAGE).joinpath("data", "catalog")
    return tuple(sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".csv")))


def load_jurisdiction(name: str) -> Catalog:
    """The shipped catalog of one jurisdiction (``default``, ``siyang``, ``qidong``...)."""
    if not JURISDICTION_NAME.match(name):
        raise ConfigError(f"bad jurisdiction name {name!r}")
    ref = resources.files(DATA_PACKAGE).joinpath("data", "catalog", f"{name}.csv")
    if not ref.is_file():
        known = ", ".join(available_jurisdictions())
        raise ConfigError(f"no catalog for jurisdiction {name!r} (known: {known})")
    catalog = parse_catalog(ref.read_text(encoding="utf-8"), f"catalog/{name}.csv")
    if catalog.jurisdiction != name:
        raise ConfigError(f"catalog/{name}.csv: declares jurisdiction {catalog.jurisdiction!r}, "
                          f"expected {name!r}")
    return catalog


def load_default_cues() -> CueLexicon:
    """The shipped emergency cue lexicon."""
    ref = resources.files(DATA_PACKAGE).joinpath("data", "cues.csv")
    return parse_cues(ref.read_text(encoding="utf-8"), "cues.csv")


def load_default_synonyms() -> SynonymTable:
    """The shipped synonym table."""
    ref = resources.files(DATA_PACKAGE).joinpath("data", "synonyms.csv")
    return parse_synonyms(ref.read_text(encoding="utf-8"), "synonyms.csv")
