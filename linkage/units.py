"""The linked units directory (联动单位): who handles a case once it leaves the call centers.

A directory is a UTF-8 CSV file per jurisdiction, in the catalog's layout (comment lines,
``key,value`` metadata rows, then a header row starting with ``id``; see
``tickets.catalog``, whose row reader it shares)::

    schema,1
    version,2023.04.14-1
    jurisdiction,qidong
    id,name,level,duty_phone,backup_phone,webhook_url,secret_ref,handles
    QD-GAS,燃气公司,1,77009,78009,https://gas.example/hl,unit_secret_qd_gas,QD-12345-068

``level`` is the response level of the Qidong plan: 1 (24 h, on scene within 30 minutes),
2 (24 h, on scene as required), 3 (working hours only). ``handles`` lists catalog entry
ids separated by ``|``; an id ending in ``*`` matches every id with that prefix.
``secret_ref`` names a key of the secrets file; the secret itself is never in this file.
Every problem is a ``ConfigError`` naming the file, the line and the reason. Pure: reads
text, returns values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from hotline_link.core.errors import ConfigError
from tickets.catalog import (
    JURISDICTION_NAME,
    REQUIRED_META,
    Catalog,
    data_error,
    parse_table,
    read_text,
)

DATA_PACKAGE = "linkage"
LEVELS = (1, 2, 3)
REQUIRED_COLUMNS = ("id", "name", "level", "duty_phone", "backup_phone", "handles")
OPTIONAL_COLUMNS = ("webhook_url", "secret_ref", "note")
_UNIT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_PHONE = re.compile(r"^\+?[0-9]{3,20}$")
_SECRET_REF = re.compile(r"^[a-z][a-z0-9_]*$")
_HANDLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\*?$")


@dataclass(frozen=True, slots=True)
class Unit:
    id: str
    name: str
    level: int
    duty_phone: str
    backup_phone: str
    webhook_url: str
    secret_ref: str
    handles: tuple[str, ...]
    line: int

    def handles_entry(self, entry_id: str) -> bool:
        return any(entry_id.startswith(h[:-1]) if h.endswith("*") else entry_id == h
                   for h in self.handles)

    @property
    def by_system(self) -> bool:
        """Dispatched by a signed webhook; otherwise by phone to the duty line."""
        return bool(self.webhook_url)


@dataclass(frozen=True, slots=True)
class UnitDirectory:
    jurisdiction: str
    version: str
    title: str
    origin: str
    units: tuple[Unit, ...]

    def get(self, unit_id: str) -> Unit | None:
        return next((u for u in self.units if u.id == unit_id), None)

    def names(self) -> dict[str, str]:
        """Each unit's name by its id."""
        return {u.id: u.name for u in self.units}

    def for_entry(self, entry_id: str) -> tuple[Unit, ...]:
        """The units that handle a catalog entry, the most urgent level first."""
        return tuple(sorted((u for u in self.units if u.handles_entry(entry_id)), key=lambda u: u.level))

    def named(self, name: str) -> tuple[Unit, ...]:
        return tuple(u for u in self.units if u.name == name)


def _unit(rec: dict[str, str], origin: str, line: int) -> Unit:
    for column in ("id", "name", "level", "duty_phone"):
        if not rec[column]:
            raise data_error(origin, line, f"column {column!r} is empty")
    if not _UNIT_ID.match(rec["id"]):
        raise data_error(origin, line, f"bad unit id {rec['id']!r}: letters, digits, '-', '_', '.' only")
    if rec["level"] not in ("1", "2", "3"):
        raise data_error(origin, line, f"level must be 1, 2 or 3, found {rec['level']!r}")
    for column in ("duty_phone", "backup_phone"):
        if rec[column] and not _PHONE.match(rec[column]):
            raise data_error(origin, line, f"{column} {rec[column]!r} is not a dialable number")
    url, ref = rec.get("webhook_url", ""), rec.get("secret_ref", "")
    if url and not url.startswith(("http://", "https://")):
        raise data_error(origin, line, f"webhook_url {url!r} must start with http:// or https://")
    if url and not ref:
        raise data_error(origin, line, "a webhook_url needs a secret_ref (the key of its secret in the secrets file)")
    if ref and not _SECRET_REF.match(ref):
        raise data_error(origin, line, f"secret_ref {ref!r} must name a secrets-file key "
                                   "(lower-case letters, digits, '_'); never put the secret itself here")
    handles = tuple(h.strip() for h in rec["handles"].split("|")) if rec["handles"] else ()
    for handle in handles:
        if not _HANDLE.match(handle):
            raise data_error(origin, line, f"bad catalog entry id {handle!r} in handles")
    return Unit(rec["id"], rec["name"], int(rec["level"]), rec["duty_phone"], rec["backup_phone"],
                url, ref, handles, line)


def parse_units(text: str, origin: str) -> UnitDirectory:
    """Parse a units directory; ``origin`` names the file in error messages."""
    meta, header_line, units = parse_table(
        text, origin, header_first="id", meta_keys=REQUIRED_META + ("title", "source"), required_meta=REQUIRED_META,
        columns=REQUIRED_COLUMNS, optional_columns=OPTIONAL_COLUMNS, row=_unit, key=lambda u: u.id, what="unit id")
    if not units:
        raise data_error(origin, header_line, "the directory has no units")
    return UnitDirectory(meta["jurisdiction"], meta["version"], meta.get("title", ""), origin, tuple(units))


def check_against_catalog(directory: UnitDirectory, catalog: Catalog) -> None:
    """Every ``handles`` id must name an entry of the jurisdiction's catalog."""
    ids = [e.id for e in catalog.entries]
    for unit in directory.units:
        for handle in unit.handles:
            if handle.endswith("*"):
                if not any(i.startswith(handle[:-1]) for i in ids):
                    raise data_error(directory.origin, unit.line,
                                     f"handles {handle!r} matches no entry of {catalog.origin}")
            elif handle not in ids:
                raise data_error(directory.origin, unit.line, f"handles {handle!r}: no such entry in {catalog.origin}")


def load_units(path: str | Path) -> UnitDirectory:
    path = Path(path)
    return parse_units(read_text(path), str(path))


def units_for(name: str) -> UnitDirectory:
    """The units directory a ``linkage_jurisdiction`` setting names: a shipped
    jurisdiction, or the path of a units file (``.csv``)."""
    return load_units(name) if name.endswith(".csv") else load_jurisdiction_units(name)


def load_jurisdiction_units(name: str) -> UnitDirectory:
    """The shipped directory of one jurisdiction (``linkage/data/units/{name}.csv``)."""
    if not JURISDICTION_NAME.match(name):
        raise ConfigError(f"bad jurisdiction name {name!r}")
    ref = resources.files(DATA_PACKAGE).joinpath("data", "units", f"{name}.csv")
    if not ref.is_file():
        raise ConfigError(f"no units directory for jurisdiction {name!r}")
    directory = parse_units(ref.read_text(encoding="utf-8"), f"units/{name}.csv")
    if directory.jurisdiction != name:
        raise ConfigError(f"units/{name}.csv: declares jurisdiction {directory.jurisdiction!r}, expected {name!r}")
    return directory
