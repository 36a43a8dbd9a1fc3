"""Repeat calls (重复报警/重复诉求) and joint handling (双哨联办). Pure.

A call from the same number, or a case about the same place (行政区划代码) and category,
within the window of an open ticket is linked to that ticket and counted. When the
ticket's calls (the first one plus the repeats) reach the threshold, it is flagged for
joint handling once.
"""

from __future__ import annotations

import hashlib
import re

from hotline_link.core.numbers import CallerNumber


def normalise_number(number: str) -> str:
    """The caller's identity (``CallerNumber.identity``: a mobile's 11 digits, a fixed
    line's 0 + area code + number, without any country prefix), as written on a ticket too
    (separators allowed); '' for an anonymous caller. What 回访 dials and opt-outs keep."""
    return CallerNumber.parse_written(number).identity


def number_key(prefix: str, site: str, number: str | CallerNumber) -> str | None:
    """The Redis key under which a number's open ticket is found (the identity hashed, so
    caller numbers never appear in key names), or None for an anonymous caller."""
    caller = number if isinstance(number, CallerNumber) else CallerNumber.parse_written(number)
    if caller.is_anonymous:
        return None
    return f"{prefix}repeat:number:{site}:{hashlib.sha256(caller.identity.encode()).hexdigest()[:24]}"


def place_key(prefix: str, site: str, division_code: str, category: str) -> str | None:
    if not re.fullmatch(r"\d{6}", division_code or "") or not category.strip():
        return None
    digest = hashlib.sha256(category.strip().encode()).hexdigest()[:16]
    return f"{prefix}repeat:place:{site}:{division_code}:{digest}"


def crosses_threshold(repeats_before: int, repeats_after: int, threshold: int) -> bool:
    """Whether this repeat makes the ticket's calls (1 + repeats) reach the threshold."""
    return repeats_before + 1 < threshold <= repeats_after + 1
