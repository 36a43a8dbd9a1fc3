"""The units' feedback line (反馈回写 by phone), the pure part.

A unit calls the platform's feedback number, keys the ticket number it was read on the
dispatch call (the digits after the platform: day and sequence), then its PIN, then 1 (on
scene, 到场), 2 (done and resolved, 已办结) or 3 (done but not resolved, 已办结未解决), and
may leave a voice note. The dialplan
(``asterisk_conf/extensions_feedback.conf``) asks; the FastAGI route
(``linkage/feedback_agi.py``) checks and records. Here: what a keyed ticket number means,
whether a PIN is right, when a ticket's line is locked after wrong PINs, and which
feedback step a key stands for.

PINs are secrets: the secrets file holds one per unit, ``unit_pin_<unit id>`` (lowercase,
``-`` as ``_``), 6 to 8 digits.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from linkage.lifecycle import state_of

DAY_DIGITS, SEQ_DIGITS = 8, 6
PIN_RE = re.compile(r"[0-9]{6,8}")
NOTE_NAME_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,95}")
MAX_FAILURES = 5  # wrong PINs of one unit within LOCK_WINDOW_S lock its feedback line
LOCK_WINDOW_S = 900
MIN_NOTE_BYTES = 8044  # a wav header and half a second of 8 kHz 16-bit audio


def pin_key(unit_id: str) -> str:
    """The secrets-file key of a unit's PIN: QD-WATER -> unit_pin_qd_water."""
    return "unit_pin_" + unit_id.lower().replace("-", "_")


def unit_pins(secrets: Mapping[str, str], unit_ids: list[str]) -> dict[str, str]:
    """{unit id: PIN} for the units whose PIN is in the secrets file and well formed."""
    pins = {}
    for unit_id in unit_ids:
        pin = str(secrets.get(pin_key(unit_id), "")).strip()
        if PIN_RE.fullmatch(pin):
            pins[unit_id] = pin
    return pins


def ticket_of_digits(site: str, digits: str) -> str | None:
    """The ticket a unit keyed on ``site``'s feedback line: ``20261124000007`` on 12345 is
    ``12345-20261124-000007`` (see ``linkage.phone.digits_of``); None if it cannot be one."""
    digits = keyed_digits(digits)
    if len(digits) != DAY_DIGITS + SEQ_DIGITS or not digits.isdigit() or not site:
        return None
    return f"{site}-{digits[:DAY_DIGITS]}-{digits[DAY_DIGITS:]}"


def keyed_digits(keyed: str) -> str:
    """What a Read() gave, without spaces and the closing # (empty: nothing was keyed)."""
    return keyed.strip().rstrip("#")


def pin_matches(expected: str | None, keyed: str) -> bool:
    """Constant-time comparison; a unit without a PIN never matches."""
    keyed = keyed_digits(keyed)
    if not expected or not PIN_RE.fullmatch(keyed):
        return False
    return hmac.compare_digest(expected.encode(), keyed.encode())


def locked(attempts: int, max_failures: int = MAX_FAILURES) -> bool:
    """``attempts``: the PIN tries of the unit in the window, this one included, each
    counted before its PIN is compared (a right PIN gives its count back), so concurrent
    calls cannot test more than ``max_failures`` wrong PINs."""
    return attempts > max_failures


@dataclass(frozen=True)
class StepChoice:
    """What a key of the step menu reports: the feedback step, its body, and the words
    written on the ticket for the unit."""

    step: str  # arrival | result
    resolved: bool | None  # for a result: 解决 or not (the report's 解决率)
    said: str

    def body(self, with_note: bool) -> dict[str, object]:
        said = self.said + ("（见语音留言）" if with_note else "")
        if self.step == "arrival":
            return {"situation": said}
        return {"resolved": self.resolved, "summary": said}


STEP_KEYS: Mapping[str, StepChoice] = MappingProxyType({
    "1": StepChoice("arrival", None, "单位电话反馈：已到达现场"),
    "2": StepChoice("result", True, "单位电话反馈：已办结"),
    "3": StepChoice("result", False, "单位电话反馈：已办结，未能解决"),
})


def step_of_key(key: str) -> StepChoice | None:
    return STEP_KEYS.get(key.strip())


@dataclass(frozen=True)
class Check:
    """The answer to one keyed ticket number and PIN: ``ok`` with the unit, or a reason
    (``bad_ticket``, ``not_dispatched``, ``no_pin``, ``locked``, ``bad_pin``)."""

    ok: bool
    reason: str = ""
    ticket_id: str = ""
    unit: str = ""
    state: str = ""


def unit_to_try(ticket_id: str | None, record: Mapping[str, str] | None) -> str:
    """The unit whose PIN a keyed ticket asks for, or "" when it names no dispatched ticket
    (then no PIN is compared and no try is counted)."""
    if ticket_id is None or record is None or not state_of(record).with_unit:
        return ""
    return record.get("unit", "")


def check(ticket_id: str | None, record: Mapping[str, str] | None, pins: Mapping[str, str],
          keyed_pin: str, attempts: int) -> Check:
    """Decide on a keyed ticket and PIN; ``attempts`` as for ``locked``. A wrong ticket and
    a wrong PIN read the same to the caller (the dialplan says 工单号或密码有误), so the
    line does not tell which tickets exist."""
    if ticket_id is None:
        return Check(False, "bad_ticket")
    unit = unit_to_try(ticket_id, record)
    if not unit:
        return Check(False, "not_dispatched", ticket_id)
    if not keyed_digits(keyed_pin):
        return Check(False, "no_pin", ticket_id, unit)
    if locked(attempts):
        return Check(False, "locked", ticket_id, unit)
    if not pin_matches(pins.get(unit), keyed_pin):
        return Check(False, "bad_pin", ticket_id, unit)
    return Check(True, "", ticket_id, unit, (record or {}).get("state", ""))


def note_name(ticket_id: str, at: float, nonce: str) -> str:
    """The voice note's file name (no extension): ticket, time and a nonce (two calls on one
    ticket in the same second keep their own notes), safe for a path."""
    return f"{ticket_id}-note-{int(at)}-{nonce}"
