"""Repeat calls (重复报警/重复诉求) and joint handling (双哨联办). Pure.

A call from the same number, or a case about the same place (行政区划代码) and category,
within the window of an open ticket is linked to that ticket and counted. When the
ticket's calls (the first one plus the repeats) reach the threshold, it is flagged for
joint handling once.
"""

from __future__ import annotations

import hashlib
import re

ANONYMOUS = frozenset({"", "anonymous", "unknown", "restricted", "private"})


def normalise_number(number: str) -> str:
    """Digits only, without the country prefix; '' for an anonymous caller."""
    if number.strip().lower() in ANONYMOUS:
        return ""
    digits = re.sub(r"\D", "", number)
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) >= 11:
            digits = digits[len(prefix):]
    return digits if len(digits) >= 3 else ""


def number_key(prefix: str, site: str, number: str) -> str | None:
    """The Redis key under which a number's open ticket is found (the number hashed, so
    caller numbers never appear in key names), or None for an anonymous caller."""
    digits = normalise_number(number)
    if not digits:
        return None
    return f"{prefix}repeat:number:{site}:{hashlib.sha256(digits.encode()).hexdigest()[:24]}"


def place_key(prefix: str, site: str, division_code: str, category: str) -> str | None:
    if not re.fullmatch(r"\d{6}", division_code or "") or not category.strip():
        return None
    digest = hashlib.sha256(category.strip().encode()).hexdigest()[:16]
    return f"{prefix}repeat:place:{site}:{division_code}:{digest}"


def crosses_threshold(repeats_before: int, repeats_after: int, threshold: int) -> bool:
    """Whether this repeat makes the ticket's calls (1 + repeats) reach the threshold."""
    return repeats_before + 1 < threshold <= repeats_after + 1
