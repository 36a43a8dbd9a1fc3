"""What may be pushed to the other platform, and how (系统推送). Pure: no I/O.

Rules from the seeds: whatever 110 pushes to 12345 counts as non-emergency; restricted
matters (``tickets.sharing.shareable``: 涉密、涉稳、涉恐、涉案 on 110, or flagged) are never
pushed; a ticket pushed
back to the platform it came from is a bounce (回流) and is counted.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass

from hotline_link.core.errors import HttpError
from tickets.sharing import shareable
from tickets.store import Ticket

PLATFORMS = ("12345", "110")


def other_platform(platform: str) -> str:
    """The platform that is not ``platform`` (one of ``PLATFORMS``)."""
    if platform not in PLATFORMS:
        raise ValueError(f"not a platform: {platform!r}")
    return next(p for p in PLATFORMS if p != platform)


class PushRefused(HttpError):
    status, code = 403, "push_refused"


class BadPush(HttpError):
    status, code = 400, "bad_push"


@dataclass(frozen=True)
class PushPayload:
    push_id: str
    from_platform: str
    to_platform: str
    source_ticket: str
    category: str
    summary: str
    division_code: str
    emergency: bool
    caller: str
    handling_unit: str
    bounced: bool  # going back to the platform it came from (回流)

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def plan_push(ticket: Ticket, to_platform: str, push_id: str | None = None) -> PushPayload:
    source = ticket.site
    if to_platform not in PLATFORMS:
        raise BadPush(f"target must be one of {', '.join(PLATFORMS)}")
    if to_platform == source:
        raise BadPush(f"ticket {ticket.id} is already on platform {source}")
    if not shareable(ticket):
        raise PushRefused(f"ticket {ticket.id} is a restricted matter and is never shared")
    return PushPayload(
        push_id=push_id or uuid.uuid4().hex, from_platform=source, to_platform=to_platform,
        source_ticket=ticket.id, category=ticket.category, summary=ticket.summary,
        division_code=ticket.division_code,
        emergency=ticket.emergency and not (source == "110" and to_platform == "12345"),
        caller=ticket.caller, handling_unit=ticket.handling_unit,
        bounced=ticket.source_platform == to_platform)


def parse_payload(raw: object) -> PushPayload:
    """A received push, checked field by field; anything else is a clear 400."""
    if not isinstance(raw, dict):
        raise BadPush("the push body must be a JSON object")
    text_fields = ("push_id", "from_platform", "to_platform", "source_ticket", "category", "summary",
                   "division_code", "caller", "handling_unit")
    values: dict[str, object] = {}
    for name in text_fields:
        value = raw.get(name, "")
        if not isinstance(value, str) or len(value) > 500:
            raise BadPush(f"field {name!r} must be a string of at most 500 characters")
        values[name] = value
    for name in ("emergency", "bounced"):
        if not isinstance(raw.get(name, False), bool):
            raise BadPush(f"field {name!r} must be true or false")
        values[name] = raw.get(name, False)
    if not values["push_id"] or not values["source_ticket"]:
        raise BadPush("push_id and source_ticket are required")
    if values["to_platform"] not in PLATFORMS or values["from_platform"] not in PLATFORMS \
            or values["to_platform"] == values["from_platform"]:
        raise BadPush("from_platform and to_platform must be 12345 and 110, one each")
    if values["from_platform"] == "110" and values["to_platform"] == "12345":
        values["emergency"] = False  # the receiver enforces the rule too
    return PushPayload(**values)  # type: ignore[arg-type]  # each value checked above: str or bool by name
