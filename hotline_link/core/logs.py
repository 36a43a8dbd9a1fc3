"""structlog set-up: JSON lines on stdout, one event name plus key/values.

Configured once at start-up by ``configure_logging``. Processors of our own run on every
line, so no call site can forget them: secrets are dropped, and caller numbers are masked,
in the caller keys, inside any other text value and in exception text.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from hotline_link.core.numbers import CallerNumber, mask_digits

NUMBER_KEYS = frozenset({"caller", "callee", "number", "caller_id", "connected_line"})
# values that are identifiers, never free text holding a number
_NOT_TEXT_KEYS = frozenset({"event", "timestamp", "level"})
SECRET_KEYS = frozenset({"secret", "password", "token", "ami_secret", "push_secret", "agent_password",
                         "authorization", "redis_password", "push_secrets", "site_ami_secrets", "sms_secrets",
                         "sms_secret"})
_DIGITS = re.compile(r"\+?\d{6,}")
_DIGIT_RUN = re.compile(r"\d{6,}")


def mask_number(number: str | CallerNumber) -> str:
    """``13812341234`` -> ``138****1234``; service numbers and extensions (110, 12345,
    1001: five digits or fewer) stay readable. In any other text (a SIP URI, a display
    name) every run of six or more digits is masked the same way. A ``CallerNumber`` shows
    its identity masked (``CallerNumber.masked``)."""
    if isinstance(number, CallerNumber):
        return number.masked
    text = str(number)
    if _DIGITS.fullmatch(text):
        return mask_digits(text)
    return _DIGIT_RUN.sub(lambda run: mask_digits(run.group()), text)


# caller numbers inside other text (a channel name such as Local/13812341234@ctx-0000001a;1,
# an error, an exception): mobiles (1 + 10 digits) and landlines with their area code
# (0 + 9-11 digits), with or without 86 / +86 / 0086 in front. Not inside a longer run of
# hex digits: a channel's sequence, a ticket's day or a uuid is not a number.
_NUMBER_IN_TEXT = re.compile(r"(?<![0-9A-Fa-f+])(?:(?:\+|00)?86)?(?:1\d{10}|0\d{9,11})(?![0-9A-Fa-f])")
# what a call dials, as an exten or a Local channel's exten: any number of 7 digits or more
# (a local number without its area code too); service numbers such as 123459 stay readable
_DIALLED_NUMBER = re.compile(r"(?<![0-9A-Fa-f])\+?\d{7,}(?![0-9A-Fa-f])")
_LOCAL_EXTEN = re.compile(r"(?<=Local/)\+?\d{7,}(?=@)")
DIALLED_KEYS = frozenset({"dialled", "exten", "destination"})


# numbers written in groups: 138 1234 5678, 138-1234-5678, 0513-8123 4567, +86 138 1234 5678,
# and international ones with their + (+1 415 555 0100, +14155550100): at least one
# separator or a leading +, 8 to 15 digits in all (a date or a ticket id has other shapes)
_GROUPED_NUMBER = re.compile(r"(?<![\w+-])(?:\+\d{1,3}[ -]?)?\d{2,4}(?:[ -]\d{2,4}){1,4}(?![\w-])"
                             r"|(?<![\w+])\+\d{8,15}(?!\w)")


def _masked(match: re.Match[str]) -> str:
    return mask_number(match.group(0))


def _masked_grouped(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    if not (8 <= digits <= 15) or (not text.startswith("+") and text.lstrip("+")[0] not in "01"):
        return text
    seen, out = 0, []
    for ch in text:  # keep the first 3 and the last 4 digits, and the separators
        if ch.isdigit():
            seen += 1
            out.append(ch if seen <= 3 or seen > digits - 4 else "*")
        else:
            out.append(ch)
    return "".join(out)


def mask_numbers_in_text(text: str) -> str:
    text = _NUMBER_IN_TEXT.sub(_masked, _LOCAL_EXTEN.sub(_masked, text))
    return _GROUPED_NUMBER.sub(_masked_grouped, text)


def _mask_value(key: str, value: Any) -> Any:
    """A value as logged: number keys masked whole, other text searched for numbers, and
    dicts and lists walked (a ticket's ``changes``, a list of callers)."""
    if isinstance(value, dict):
        return {k: _mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask_value(key, v) for v in value]
    if isinstance(value, CallerNumber):  # under any key: never the number itself
        return value.masked
    if not isinstance(value, str):
        return value
    if key in NUMBER_KEYS:
        return mask_number(value) if len(value) > 5 else value
    if key in DIALLED_KEYS:
        return _DIALLED_NUMBER.sub(_masked, value)
    if key not in _NOT_TEXT_KEYS and not key.endswith("_id"):  # ids are not text
        return mask_numbers_in_text(value)
    return value


def mask_numbers(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Number keys are masked whole; any other text value (a formatted exception too: this
    runs after ``format_exc_info``) has the numbers inside it masked, inside nested dicts
    and lists too."""
    for key, value in list(event_dict.items()):
        event_dict[key] = _mask_value(key, value)
    return event_dict


def mask_foreign_event(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A standard-library logger's line (aiohttp, panoramisk, asyncio): its ``event`` is
    free text, not one of our event names, so the numbers in it are masked too."""
    if isinstance(event_dict.get("event"), str):
        event_dict["event"] = mask_numbers_in_text(event_dict["event"])
    return event_dict


def drop_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in SECRET_KEYS.intersection(event_dict):
        event_dict[key] = "[redacted]"
    return event_dict


def configure_logging(level: str = "info", stream: Any = None) -> None:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,  # first: the traceback's text is masked too
            drop_secrets,
            mask_numbers,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # no stream: print to whatever sys.stdout is when a line is written, not to the
        # object it was at start-up (a test's captured stdout is closed after the test)
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    # Libraries (panoramisk, aiohttp, asyncio) log through stdlib: quiet unless asked, and
    # through the same processors, so their lines drop secrets and mask numbers too.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.JSONRenderer(ensure_ascii=False)],
        foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True),
                           structlog.processors.format_exc_info, drop_secrets, mask_foreign_event, mask_numbers]))
    root = logging.getLogger()
    for old_handler in list(root.handlers):
        if getattr(old_handler, "_hotline_link", False):
            root.removeHandler(old_handler)
    handler._hotline_link = True  # type: ignore[attr-defined]  # our mark on a stdlib handler, read back above
    root.addHandler(handler)
    root.setLevel(max(numeric, logging.WARNING))
