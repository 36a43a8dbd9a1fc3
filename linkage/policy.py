"""Deadlines by response level and what an overdue one leads to (督办, then 提级). Pure.

The settings come from ``linkage/data/linkage.toml`` (or the file named by the
``linkage_config`` setting): per level the seconds a unit has to accept a dispatch, to
arrive on scene and to report a result, and how long after a 督办 the case escalates.
Level-3 deadlines count working time only (``calendar.WorkingCalendar``).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from hotline_link.core.errors import ConfigError
from linkage.calendar import WorkingCalendar, parse_calendar

STAGES = ("accept", "arrive", "result")
SUPERVISED, ESCALATED = "supervised", "escalated"


@dataclass(frozen=True)
class LevelRule:
    accept_s: float
    arrive_s: float
    result_s: float
    remind_s: float

    def seconds(self, stage: str) -> float:
        return float(getattr(self, f"{stage}_s"))


@dataclass(frozen=True)
class Leader:
    """A leadership contact told when a major ticket is dispatched (重大事件: 在下达指令的同时
    上报): by a call to ``phone`` and/or a signed message to ``webhook_url`` (its HMAC secret
    under ``secret_ref`` in the secrets file)."""

    name: str
    phone: str = ""
    webhook_url: str = ""
    secret_ref: str = ""


@dataclass(frozen=True)
class LinkageConfig:
    version: str
    calendar: WorkingCalendar
    levels: dict[int, LevelRule]
    escalation_contact: str
    escalation_phone: str
    repeat_window_s: float
    repeat_threshold: int
    leadership: tuple[Leader, ...] = ()  # told when a major ticket is dispatched

    def due(self, level: int, stage: str, start: float) -> float:
        """When ``stage`` is due for a unit of ``level``, counted from ``start`` (dispatch
        for accept, acceptance for arrive and result)."""
        seconds = self.levels[level].seconds(stage)
        if level == 3:
            return self.calendar.add_working(start, seconds)
        return start + seconds

    def remind_due(self, level: int, overdue_at: float) -> float:
        """When a 督办'd deadline escalates if still unmet."""
        seconds = self.levels[level].remind_s
        return self.calendar.add_working(overdue_at, seconds) if level == 3 else overdue_at + seconds

    def dispatch_start(self, level: int, now: float) -> float:
        """When a dispatch reaches the unit: at once, or for level 3 outside working hours
        the start of the next working period (queued)."""
        return self.calendar.next_working(now) if level == 3 else now


def next_step(strikes: int) -> str:
    """An overdue deadline: the first time 督办, the second 提级."""
    if strikes < 0:
        raise ValueError("strikes cannot be negative")
    return SUPERVISED if strikes == 0 else ESCALATED


def _number(table: dict[str, Any], key: str, where: str) -> float:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ConfigError(f"{where}.{key}: expected a finite number of seconds above 0, found {value!r}")
    return float(value)


def parse_leadership(raw: object) -> tuple[Leader, ...]:
    """The ``[[leadership]]`` tables: each a name and a phone (digits) or a webhook_url
    (https, with its secret_ref), or both."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise ConfigError("leadership: expected [[leadership]] tables")
    out = []
    for number, item in enumerate(raw, 1):
        where = f"leadership[{number}]"
        unknown = set(item) - {"name", "phone", "webhook_url", "secret_ref"}
        if unknown:
            raise ConfigError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
        name, phone = item.get("name"), item.get("phone", "")
        url, secret_ref = item.get("webhook_url", ""), item.get("secret_ref", "")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where}.name: expected a non-empty string")
        if not isinstance(phone, str) or (phone and not phone.isdigit()):
            raise ConfigError(f"{where}.phone: expected digits, found {phone!r}")
        if not isinstance(url, str) or (url and not url.startswith(("https://", "http://"))):
            raise ConfigError(f"{where}.webhook_url: expected an http(s) URL, found {url!r}")
        if not isinstance(secret_ref, str) or bool(url) != bool(secret_ref):
            raise ConfigError(f"{where}: a webhook_url needs its secret_ref (and a secret_ref its webhook_url)")
        if not phone and not url:
            raise ConfigError(f"{where}: expected a phone, a webhook_url or both")
        out.append(Leader(name.strip(), phone, url, secret_ref))
    return tuple(out)


def parse_config(raw: dict[str, Any], origin: str) -> LinkageConfig:
    try:
        if raw.get("schema") != 1:
            raise ConfigError(f"schema must be 1, found {raw.get('schema')!r}")
        levels_raw = raw.get("levels")
        if (not isinstance(levels_raw, dict) or sorted(levels_raw) != ["1", "2", "3"]
                or not all(isinstance(v, dict) for v in levels_raw.values())):
            raise ConfigError("levels: expected tables [levels.1], [levels.2] and [levels.3]")
        levels = {int(k): LevelRule(*(_number(v, f"{s}_s", f"levels.{k}") for s in (*STAGES, "remind")))
                  for k, v in levels_raw.items()}
        for number, rule in levels.items():
            if not rule.accept_s <= rule.arrive_s <= rule.result_s:
                raise ConfigError(f"levels.{number}: expected accept_s <= arrive_s <= result_s")
        escalation = raw.get("escalation", {})
        if (not isinstance(escalation, dict) or not escalation.get("contact")
                or not str(escalation.get("phone", "")).isdigit()):
            raise ConfigError("escalation: expected contact = \"...\" and phone = \"digits\"")
        repeats = raw.get("repeats", {})
        threshold = repeats.get("threshold") if isinstance(repeats, dict) else None
        if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 2:
            raise ConfigError(f"repeats.threshold: expected a whole number >= 2, found {threshold!r}")
        calendar = raw.get("calendar") or {}
        if not isinstance(calendar, dict):
            raise ConfigError("calendar: expected a table [calendar]")
        return LinkageConfig(str(raw.get("version", "")), parse_calendar(calendar), levels,
                             str(escalation["contact"]), str(escalation["phone"]),
                             _number(repeats, "window_s", "repeats"), threshold,
                             parse_leadership(raw.get("leadership")))
    except ConfigError as exc:
        raise ConfigError(f"{origin}: {exc}") from None


def load_config(path: str | Path | None = None) -> LinkageConfig:
    """The given file, or the shipped ``linkage/data/linkage.toml``."""
    if path:
        try:
            text, origin = Path(path).read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    else:
        text = resources.files("linkage").joinpath("data", "linkage.toml").read_text(encoding="utf-8")
        origin = "linkage.toml"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    return parse_config(raw, origin)
