"""Knowledge entries (一问一答) and their data files: ``knowledge/data/{jurisdiction}.csv``.

One UTF-8 CSV file per jurisdiction (the jurisdictions of ``tickets/data/catalog/``), a
header row then one entry a row; lines starting with ``#`` and blank lines are skipped::

    id,version,question,answer,category,platform,valid_from,valid_to,source,shareable,ivr_key,ivr_label
    QD-KB-002,1,住房公积金怎么提取？,提取住房公积金……,公积金,12345,,,高频咨询,yes,2,住房公积金提取

``platform`` is 12345, 110 or both; ``valid_from``/``valid_to`` are dates (YYYY-MM-DD, both
days included; empty: open); ``shareable`` (yes/no) is whether the other platform may see
it; ``ivr_key`` (empty or 1-4) makes the entry the answer of that key of the IVR's
self-service menu, ``ivr_label`` its words in the menu prompt. Every problem is a
``ConfigError`` naming the file, the line and the column; no row is ever skipped.

Pure: the only I/O is reading the packaged files.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date
from importlib import resources

from hotline_link.core.errors import ConfigError

COLUMNS = ("id", "version", "question", "answer", "category", "platform", "valid_from", "valid_to", "source",
           "shareable", "ivr_key", "ivr_label")
REQUIRED = ("id", "version", "question", "answer", "category", "platform")
PLATFORMS = ("12345", "110", "both")
IVR_KEYS = ("1", "2", "3", "4")
ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", re.ASCII)
JURISDICTION = re.compile(r"^[a-z][a-z0-9_-]{0,31}$", re.ASCII)
DATA_PACKAGE = "knowledge"
DEFAULT_JURISDICTION = "default"
MAX = {"question": 200, "answer": 2000, "category": 32, "source": 200, "ivr_label": 20}
_YES_NO = {"yes": True, "no": False}


class EntryError(ValueError):
    """One field of an entry is wrong: ``column`` and why."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f"{column}: {reason}")
        self.column = column
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Entry:
    """One question and its answer, as of one version."""

    id: str
    version: int
    question: str
    answer: str
    category: str
    platform: str  # 12345, 110 or both
    valid_from: date | None = None
    valid_to: date | None = None  # the last day it applies (retired after it)
    source: str = ""
    shareable: bool = False
    ivr_key: str = ""  # "" or 1-4: the IVR self-service menu's key that speaks it
    ivr_label: str = ""  # its words in the self-service menu prompt (…请按1)
    updated_at: float = 0.0  # when this version was stored (0: not stored yet)
    updated_by: str = ""  # who stored it: "file" for the data file, else the token's holder
    # the data file's version this entry last took (a file row: its own version); edits keep it
    file_version: int = 0

    def valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day <= self.valid_to)

    def serves(self, platform: str) -> bool:
        """Whether the entry answers for ``platform`` (12345 or 110)."""
        return self.platform in ("both", platform)

    def cells(self) -> dict[str, str]:
        """The entry as text fields (the file's columns, and when and by whom it was stored)."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool):
                out[f.name] = "yes" if value else "no"
            elif isinstance(value, date):
                out[f.name] = value.isoformat()
            elif value is None:
                out[f.name] = ""
            else:
                out[f.name] = str(value)
        return out


def _date(column: str, text: str) -> date | None:
    if not text:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise EntryError(column, f"bad date {text[:40]!r} (expected YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise EntryError(column, f"bad date {text!r} (no such day)") from None


def entry_of(cells: Mapping[str, str]) -> Entry:
    """An entry from its text fields (a file's row, a stored hash), checked; an
    ``EntryError`` names the first bad column."""
    get = {k: (cells.get(k) or "").strip() for k in (*COLUMNS, "updated_at", "updated_by", "file_version")}
    for column in REQUIRED:
        if not get[column]:
            raise EntryError(column, "empty")
    if not ID.match(get["id"]):
        raise EntryError("id", f"bad id {get['id'][:70]!r}: 1-64 of letters, digits, '-', '_', '.'")
    if not get["version"].isascii() or not get["version"].isdigit() or not 1 <= int(get["version"]) <= 10**9:
        raise EntryError("version", f"bad version {get['version'][:20]!r} (a whole number from 1)")
    for column, limit in MAX.items():
        if len(get[column]) > limit:
            raise EntryError(column, f"longer than {limit} characters")
    if get["platform"] not in PLATFORMS:
        raise EntryError("platform", f"unknown platform {get['platform'][:20]!r} (expected 12345, 110 or both)")
    valid_from, valid_to = _date("valid_from", get["valid_from"]), _date("valid_to", get["valid_to"])
    if valid_from and valid_to and valid_to < valid_from:
        raise EntryError("valid_to", f"{valid_to} is before valid_from {valid_from}")
    shareable = get["shareable"].lower() or "no"
    if shareable not in _YES_NO:
        raise EntryError("shareable", f"expected yes or no, found {get['shareable'][:20]!r}")
    if get["ivr_key"] not in ("", *IVR_KEYS):
        raise EntryError("ivr_key", f"bad ivr_key {get['ivr_key'][:20]!r} (empty or 1-4)")
    if get["ivr_key"] and not get["ivr_label"]:
        raise EntryError("ivr_label", "an IVR answer needs its label in the self-service menu")
    if get["ivr_key"] and get["platform"] == "110":
        raise EntryError("ivr_key", "the self-service IVR is 12345's: an IVR answer's platform is 12345 or both")
    try:
        updated_at = float(get["updated_at"] or 0)
    except ValueError:
        raise EntryError("updated_at", "not a number") from None
    file_version = get["file_version"] or get["version"]
    if not file_version.isascii() or not file_version.isdigit():
        raise EntryError("file_version", "not a whole number")
    return Entry(get["id"], int(get["version"]), get["question"], get["answer"], get["category"], get["platform"],
                 valid_from, valid_to, get["source"], _YES_NO[shareable], get["ivr_key"], get["ivr_label"],
                 updated_at, get["updated_by"], int(file_version))


def duplicate_ivr_key(entries: Iterable[Entry]) -> tuple[Entry, Entry] | None:
    """Two entries answering the same IVR key with validity periods that overlap, or None."""
    by_key: dict[str, list[Entry]] = {}
    for entry in entries:
        if entry.ivr_key:
            for other in by_key.setdefault(entry.ivr_key, []):
                if _overlap(entry, other):
                    return other, entry
            by_key[entry.ivr_key].append(entry)
    return None


def _overlap(a: Entry, b: Entry) -> bool:
    lo = max(a.valid_from or date.min, b.valid_from or date.min)
    hi = min(a.valid_to or date.max, b.valid_to or date.max)
    return lo <= hi


def parse_entries(text: str, origin: str) -> tuple[Entry, ...]:
    """The entries of one data file's text; ``origin`` names the file in errors."""
    def error(line: int, column: str, reason: str) -> ConfigError:
        return ConfigError(f"{origin} line {line}, column {column}: {reason}")

    reader = csv.reader(text.splitlines())
    header: list[str] | None = None
    header_line = 0
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    ivr: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        if not cells or not "".join(cells).strip() or cells[0].lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in cells]
        if header is None:
            header, header_line = cells, line
            for index, name in enumerate(cells, 1):
                if name not in COLUMNS:
                    raise error(line, f"{index} ({name[:30]!r})", f"unknown column; known: {', '.join(COLUMNS)}")
            if len(set(cells)) != len(cells):
                raise error(line, "header", "a column is named twice")
            if missing := [c for c in REQUIRED if c not in cells]:
                raise error(line, missing[0], "missing column")
            continue
        if len(cells) != len(header):
            raise error(line, "*", f"expected {len(header)} fields ({','.join(header)}), found {len(cells)}")
        try:
            entry = entry_of(dict(zip(header, cells, strict=True)))
        except EntryError as exc:
            raise error(line, exc.column, exc.reason) from None
        if entry.id in seen:
            raise error(line, "id", f"duplicate id {entry.id!r} (first on line {seen[entry.id]})")
        seen[entry.id] = line
        if entry.ivr_key in ivr and _overlap(entry, entries[ivr[entry.ivr_key]]):
            raise error(line, "ivr_key", f"key {entry.ivr_key} is answered twice "
                                         f"(also by {entries[ivr[entry.ivr_key]].id})")
        if entry.ivr_key:
            ivr[entry.ivr_key] = len(entries)
        entries.append(entry)
    if header is None:
        raise ConfigError(f"{origin}: no header row")
    if not entries:
        raise error(header_line, "*", "the file has no entries")
    return tuple(entries)


def available_jurisdictions() -> tuple[str, ...]:
    """The jurisdictions whose knowledge file is shipped in ``knowledge/data``."""
    folder = resources.files(DATA_PACKAGE).joinpath("data")
    return tuple(sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".csv")))


def load_jurisdiction(name: str) -> tuple[Entry, ...]:
    """The shipped entries of one jurisdiction (``default``, ``qidong``, ``siyang``...)."""
    if not JURISDICTION.match(name):
        raise ConfigError(f"bad knowledge jurisdiction name {name[:40]!r}")
    ref = resources.files(DATA_PACKAGE).joinpath("data", f"{name}.csv")
    if not ref.is_file():
        raise ConfigError(f"no knowledge file for jurisdiction {name!r} "
                          f"(shipped: {', '.join(available_jurisdictions())})")
    try:
        text = ref.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"knowledge/data/{name}.csv: not UTF-8 text ({exc.reason})") from None
    return parse_entries(text, f"knowledge/data/{name}.csv")


def knowledge_jurisdiction(configured: str, catalog_jurisdiction: str) -> str:
    """The file a deployment loads: ``[knowledge] jurisdiction`` when set, else the one the
    tickets plugin ranks its catalog with (``catalog_jurisdiction`` / ``linkage_jurisdiction``),
    when a knowledge file is shipped for it, else ``default``."""
    if configured:
        return configured
    return catalog_jurisdiction if catalog_jurisdiction in available_jurisdictions() else DEFAULT_JURISDICTION


def ivr_answers(entries: Iterable[Entry], day: date) -> dict[str, Entry]:
    """The IVR self-service menu's answers on ``day``: key (1-4) -> its entry (12345's or both)."""
    return {e.ivr_key: e for e in entries if e.ivr_key and e.valid_on(day) and e.serves("12345")}
