"""A caller's number as hotline-link keeps it. Pure.

The number comes from the SIP From (or P-Asserted-Identity) of whoever calls, through AMI
events and the AGI header: anything at all, line breaks included (pjsip unescapes the user
part). Only a plausible number is kept; everything else is ``anonymous``, so nothing a
caller wrote travels on into an AMI action, a dialplan variable, a ticket or a log line.
"""

from __future__ import annotations

import re

ANONYMOUS = "anonymous"
MAX_DIGITS = 20  # E.164 is at most 15; room for a trunk prefix (0086...) and an extension
_PLAUSIBLE = re.compile(rf"\+?[0-9]{{1,{MAX_DIGITS}}}")
_EXTENSION = re.compile(r"[0-9A-Za-z*#+._-]{1,40}")


def caller_number(raw: str | None) -> str:
    """Digits with an optional leading ``+``, at most ``MAX_DIGITS`` of them; ``anonymous``
    for anything else (withheld, a name, a header someone tried to inject)."""
    text = (raw or "").strip()
    return text if _PLAUSIBLE.fullmatch(text) else ANONYMOUS


def dialled_number(raw: str | None) -> str:
    """The extension a call was dialled to (the Request-URI's user part, or ``s``): letters,
    digits and ``*#+._-``, at most 40 of them; anything else is empty."""
    text = (raw or "").strip()
    return text if _EXTENSION.fullmatch(text) else ""


def caller_id(number: str | None) -> str:
    """An AMI/dialplan ``CallerID`` value, built from the cleaned number only."""
    clean = caller_number(number)
    return '"Anonymous" <anonymous>' if clean == ANONYMOUS else f'"{clean}" <{clean}>'
