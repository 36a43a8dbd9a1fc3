"""A caller's number as hotline-link keeps it. Pure.

The number comes from the SIP From (or P-Asserted-Identity) of whoever calls, through AMI
events and the AGI header: anything at all, line breaks included (pjsip unescapes the user
part). Only a plausible number is kept; everything else is ``anonymous``, so nothing a
caller wrote travels on into an AMI action, a dialplan variable, a ticket or a log line.

``CallerNumber`` is the one phone-number type: what Asterisk saw (``digits``), who it is
(``identity``: one key per subscriber, however the number was spelt) and how it is logged
(``masked``). Harassment screening and its flags, repeat calls and the 回访 opt-out key a
caller by its identity, so a caller has one identity everywhere; log lines mask with
``mask_digits`` and show a ``CallerNumber`` value as ``masked`` whatever its key.

The identity is the number as dialled from inside China (what the outbound context dials
and what Redis keys embed):

* a mobile is its 11 digits ``1[3-9]xxxxxxxxx``, whether presented as ``+86 138...``,
  ``0086 138...``, ``86 138...`` or with the long-distance ``0`` in front (``0138...``);
* a fixed line is ``0`` + area code + local number (``02588881234``, ``01012345678``),
  presented as ``+86 25 8888 1234`` (``+862588881234``) or ``0086 25...`` too, and with the
  ``0`` written after the country code (``+86 (0)25...``) too;
* any other number after ``+`` or ``00`` is foreign (or not a number of China's plan):
  ``00`` + country code + number (``+14155550100`` -> ``0014155550100``), dialled as is
  (one too long for ``00`` within ``MAX_DIGITS`` keeps its ``+``);
* everything else (service numbers 110, 12345, 95588; local numbers without their area
  code; internal extensions) is kept as presented.

Fewer than ``MIN_DIGITS`` digits identify nobody; neither does a withheld or malformed caller
id: those are anonymous (``identity == ""``). ``parse`` never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ANONYMOUS = "anonymous"
MAX_DIGITS = 20  # E.164 is at most 15; room for a trunk prefix (0086...) and an extension
MIN_DIGITS = 3  # fewer identify no subscriber: neither screened nor called back
_PLAUSIBLE = re.compile(rf"\+?[0-9]{{1,{MAX_DIGITS}}}")
_EXTENSION = re.compile(r"[0-9A-Za-z*#+._-]{1,40}")
# a number as a person or a peer platform writes it: digits grouped by spaces, hyphens,
# dots or parentheses (+86 138-0000-1111, (025) 8888 1234); nothing else
_WRITTEN = re.compile(r"\+?[0-9 ().-]+")
_SEPARATORS = re.compile(r"[ ().-]")

COUNTRY_CODE = "86"
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
# a fixed line's national number: area code without its 0, then the local number
# (Beijing 10 and the 2x cities with 8 digits; three-digit area codes with 7 or 8)
_LANDLINE = re.compile(r"(?:10|2[0-9])[0-9]{8}|[3-9][0-9]{9,10}")


def _national(nsn: str) -> str | None:
    """The identity of what follows the country code 86, or None if it is no number of
    China's plan (a service number, a typo): then the whole number stays international."""
    if _MOBILE.fullmatch(nsn):
        return nsn
    if _LANDLINE.fullmatch(nsn):
        return "0" + nsn
    if nsn[:1] == "0" and (_MOBILE.fullmatch(nsn[1:]) or _LANDLINE.fullmatch(nsn[1:])):
        return _domestic(nsn)  # the trunk 0 written after the country code
    return None


def _domestic(number: str) -> str:
    """A number as dialled inside China: a mobile loses the long-distance 0 some trunks put
    in front of an out-of-area mobile (013800001111); anything else is kept."""
    if number[:1] == "0" and _MOBILE.fullmatch(number[1:]):
        return number[1:]
    return number


def _identity(number: str) -> str:
    """The canonical key of a plausible number (``\\+?[0-9]{3,20}``); the rules are in the
    module's docstring. ``_identity(_identity(n)) == _identity(n)``."""
    digits = number.lstrip("+")
    if number.startswith("+"):
        international = digits
    elif digits.startswith("00"):
        international = digits[2:]
    elif digits.startswith(COUNTRY_CODE) and _national(digits[2:]) is not None:
        international = digits  # 8613800001111: a trunk that drops the +
    else:
        return _domestic(digits)
    if international.startswith(COUNTRY_CODE):
        national = _national(international[2:])
        if national is not None:
            return national
    # dialled from China with 00; a "+" number too long for that keeps its +
    return "00" + international if len(international) <= MAX_DIGITS - 2 else "+" + international


def mask_digits(text: str) -> str:
    """``13812341234`` -> ``138****1234``: the first three characters and the last four
    digits kept, the rest starred; a run of six characters or fewer keeps its first two."""
    if len(text) <= 6:
        return text[:2] + "*" * (len(text) - 2)
    keep_tail = 4
    keep_head = min(3, len(text) - keep_tail - 1)
    return text[:keep_head] + "*" * (len(text) - keep_head - keep_tail) + text[-keep_tail:]


@dataclass(frozen=True, repr=False)
class CallerNumber:
    """One caller's number. Compared and hashed by ``identity`` only: ``+8613800001111``
    and ``13800001111`` are equal. Anonymous values have no identity (and are no one
    subscriber): check ``is_anonymous`` before using one as a key.

    ``str()`` and ``repr()`` show the masked form, so a value that slips into a log line or an
    f-string never shows the number; build keys and dial strings from ``identity``."""

    digits: str = field(compare=False)  # as presented, validated (\+?[0-9]{1,20}); "" if not
    identity: str  # the canonical key of the subscriber; "" when anonymous

    @classmethod
    def parse(cls, raw: object) -> CallerNumber:
        """A caller id as Asterisk (or an API client) presents it: digits with an optional
        leading ``+``, surrounding whitespace ignored. Anything else (withheld, a name, a
        header someone tried to inject, a separator) is anonymous. Never raises."""
        text = raw.strip() if isinstance(raw, str) else ""
        if not _PLAUSIBLE.fullmatch(text):
            return ANONYMOUS_NUMBER
        if len(text.lstrip("+")) < MIN_DIGITS:
            return cls(text, "")
        return cls(text, _identity(text))

    @classmethod
    def parse_written(cls, raw: object) -> CallerNumber:
        """A number as a person or a peer platform wrote it (a ticket's caller):
        ``parse`` after dropping the spaces, hyphens, dots and parentheses between digits.
        Letters, line breaks and anything else still make it anonymous. Never raises."""
        text = raw.strip() if isinstance(raw, str) else ""
        if _WRITTEN.fullmatch(text):
            text = _SEPARATORS.sub("", text)
        return cls.parse(text)

    @property
    def is_anonymous(self) -> bool:
        """No subscriber to key by, screen or call back: withheld, malformed or too short."""
        return not self.identity

    @property
    def masked(self) -> str:
        """The identity as a log line or an HTTP answer shows it (``138****1234``); service
        numbers of five digits or fewer stay readable; ``anonymous`` when there is none."""
        shown = self.identity or self.digits
        if not shown:
            return ANONYMOUS
        return mask_digits(shown) if len(shown.lstrip("+")) >= 6 else shown

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"CallerNumber({self.masked})"


ANONYMOUS_NUMBER = CallerNumber("", "")


def caller_number(raw: str | None) -> str:
    """Digits with an optional leading ``+``, at most ``MAX_DIGITS`` of them; ``anonymous``
    for anything else (withheld, a name, a header someone tried to inject)."""
    return CallerNumber.parse(raw).digits or ANONYMOUS


def dialled_number(raw: str | None) -> str:
    """The extension a call was dialled to (the Request-URI's user part, or ``s``): letters,
    digits and ``*#+._-``, at most 40 of them; anything else is empty."""
    text = (raw or "").strip()
    return text if _EXTENSION.fullmatch(text) else ""


def caller_id(number: str | None) -> str:
    """An AMI/dialplan ``CallerID`` value, built from the cleaned number only."""
    clean = caller_number(number)
    return '"Anonymous" <anonymous>' if clean == ANONYMOUS else f'"{clean}" <{clean}>'
