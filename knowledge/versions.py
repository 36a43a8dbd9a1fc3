"""Versions of an entry: when the data file's copy replaces the stored one, what an edit
changed, and the history record kept of each previous version. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from knowledge.entries import COLUMNS, Entry

FILE_EDITOR = "file"  # ``by`` of a version loaded from the data file
COMPARED = tuple(c for c in COLUMNS if c not in ("id", "version"))


def file_replaces(stored: Entry | None, from_file: Entry) -> bool:
    """The file's entry is stored when there is none yet, or when the file's version is
    higher than the one the stored entry last took from the file: a supervisor's edit
    survives restarts until the file's row is bumped (once, however often it was edited)."""
    return stored is None or from_file.version > stored.file_version


def from_file(stored: Entry | None, row: Entry) -> Entry:
    """The stored entry a file ``row`` that replaces ``stored`` makes: the row's fields,
    remembering the row's version, numbered after every version stored before."""
    version = row.version if stored is None else max(row.version, stored.version + 1)
    return replace(row, version=version, file_version=row.version)


def changes(before: Entry, after: Entry) -> dict[str, list[str]]:
    """The fields that differ: field -> [before, after] (as text)."""
    old, new = before.cells(), after.cells()
    return {name: [old[name], new[name]] for name in COMPARED if old[name] != new[name]}


def next_version(before: Entry, edited: Entry, by: str, at: float) -> Entry:
    """An edit of ``before`` (all its fields given in ``edited``) as the next version."""
    return replace(edited, id=before.id, version=before.version + 1, updated_at=at, updated_by=by,
                   file_version=before.file_version)


@dataclass(frozen=True)
class HistoryRecord:
    """One change of an entry: the version it made, who and when, what changed, and the
    whole previous version (so any version can be read back)."""

    version: int
    by: str
    at: float
    change: str  # created, updated, loaded (from the data file)
    changes: dict[str, list[str]]
    previous: dict[str, str] | None  # the previous version's fields; None when created

    def dumps(self) -> str:
        return json.dumps({"version": self.version, "by": self.by, "at": self.at, "change": self.change,
                           "changes": self.changes, "previous": self.previous}, ensure_ascii=False)

    @classmethod
    def loads(cls, raw: str) -> HistoryRecord:
        data: dict[str, Any] = json.loads(raw)
        return cls(int(data["version"]), str(data["by"]), float(data["at"]), str(data["change"]),
                   {str(k): [str(x) for x in v] for k, v in data["changes"].items()},
                   {str(k): str(v) for k, v in data["previous"].items()} if data.get("previous") else None)


def record_of(before: Entry | None, after: Entry, change: str) -> HistoryRecord:
    if before is None:
        return HistoryRecord(after.version, after.updated_by, after.updated_at, change, {}, None)
    return HistoryRecord(after.version, after.updated_by, after.updated_at, change, changes(before, after),
                         before.cells())
