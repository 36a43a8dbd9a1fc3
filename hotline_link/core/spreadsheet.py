"""CSV cells a spreadsheet opens as text, never as a formula (CSV injection): every CSV this
server writes (the linkage report, the exchange cases' export) puts its values through
``safe_cell``. Pure."""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A cell a spreadsheet will not run as a formula: text starting with one of
    ``FORMULA_STARTS`` gets a leading apostrophe; anything else is as given."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value
