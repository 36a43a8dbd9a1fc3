"""The exchange channel's message catalogue, version 1. Pure: no I/O.

Every message is an envelope around one body::

    {"v": 1, "type": "status", "message_id": "<uuid4 hex>",
     "from_platform": "110", "to_platform": "12345",
     "ticket": "110-20261124-000031",        # the sender's own ticket
     "peer_ticket": "12345-20261124-000017",  # the receiver's ticket it is about
     "seq": 2, "sent_at": 1795530667.25,
     "body": {"stage": "arrived", "unit": "...", "detail": "...", "at": 1795530600.0}}

``seq`` counts the messages of one ticket in one direction from 1 (the receiver applies
them in that order, once each); ``message_id`` names one message for good (its retries
carry the same id and seq); ``sent_at`` is when this attempt left the sender (the outbox
stamps each attempt anew; the receiver refuses one outside its replay window). A
``handover`` opens a case on the receiver, so it needs no ``peer_ticket`` (one going back to
the platform it came from names the ticket it came from); every other type is about a case
both sides already hold and must name it.

The types (``type`` picks the body; a discriminated union):

- ``handover``: a case by one-click transfer, three-way call or system push, with what
  ``tickets.sharing.shareable`` lets leave (a restricted one: ``restricted`` and nothing else);
- ``received`` (签收): the receiver's ticket and who accepted it;
- ``status`` (反馈回写): dispatched, accepted, arrived, result, callback (回访), closed;
- ``bounce`` (回流): the case goes back, with the reason;
- ``supervise`` (督办): the sending side presses for progress.

The models are strict (no number read from a string, no ``true`` for ``1``), frozen, and
refuse fields they do not name. Every text is bounded and refuses control characters (line
breaks, NUL, C1 controls, bidirectional overrides). ``parse_envelope`` reads raw bytes and
raises ``BadMessage`` (400 ``bad_message``) naming the field at fault; ``json_schema`` is
the JSON Schema of the envelope for the OpenAPI document.
"""

from __future__ import annotations

import json
import unicodedata
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from exchange.errors import BadMessage
from tickets.store import ticket_platform

VERSION = 1
MAX_MESSAGE_BYTES = 16 * 1024  # a message is a few hundred bytes; more is not one of ours

CATEGORY_CHARS = 40  # as on the call's X-Ticket-Category header
SUMMARY_CHARS = 120  # as on X-Ticket-Summary
UNIT_CHARS = 60
DETAIL_CHARS = 500
REASON_CHARS = 200
NOTE_CHARS = 500

Platform = Literal["12345", "110"]
Mode = Literal["transfer", "conference", "push"]  # 一键转接, 三方通话, 系统推送
Stage = Literal["dispatched", "accepted", "arrived", "result", "callback", "closed"]
MessageType = Literal["handover", "received", "status", "bounce", "supervise"]
MESSAGE_TYPES: tuple[str, ...] = ("handover", "received", "status", "bounce", "supervise")
MODES: tuple[str, ...] = ("transfer", "conference", "push")
STAGES: tuple[str, ...] = ("dispatched", "accepted", "arrived", "result", "callback", "closed")
SYSTEM = "system"  # accepted_by when no person signed for the case (a push taken in)

# --- text ------------------------------------------------------------------------------

# bidirectional embeddings, overrides and isolates: they reorder what a reader sees
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# what the JSON Schema says of every text (lone surrogates are not Unicode text at all)
PLAIN_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$"


def _refused(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in _BIDI


def _plain(value: str) -> str:
    for ch in value:
        if _refused(ch):
            raise ValueError(f"control character U+{ord(ch):04X} is not allowed in text")
    return value


def fit_text(value: str, limit: int) -> str:
    """``value`` as a message may carry it: control characters and runs of white space
    become one space, and it is cut to ``limit`` characters. What a sender uses on a
    ticket's free text, so any ticket makes a valid message."""
    cleaned = "".join(" " if _refused(ch) else ch for ch in value)
    return " ".join(cleaned.split())[:limit].rstrip()


_PLAIN = AfterValidator(_plain)
_PLAIN_DOC = Field(json_schema_extra={"pattern": PLAIN_PATTERN})
Category = Annotated[str, StringConstraints(max_length=CATEGORY_CHARS), _PLAIN, _PLAIN_DOC]
Summary = Annotated[str, StringConstraints(max_length=SUMMARY_CHARS), _PLAIN, _PLAIN_DOC]
Unit = Annotated[str, StringConstraints(min_length=1, max_length=UNIT_CHARS), _PLAIN, _PLAIN_DOC]
Detail = Annotated[str, StringConstraints(max_length=DETAIL_CHARS), _PLAIN, _PLAIN_DOC]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=REASON_CHARS), _PLAIN, _PLAIN_DOC]
Note = Annotated[str, StringConstraints(max_length=NOTE_CHARS), _PLAIN, _PLAIN_DOC]

# --- identifiers -------------------------------------------------------------------------

_MESSAGE_ID = r"^[0-9a-f]{32}$"
_TICKET_ID = r"^(12345|110)-[0-9]{8}-[0-9]{6,9}$"  # tickets.store.TICKET_ID of our two platforms
_DIVISION = r"^([0-9]{6})?$"
_CALLER = r"^(anonymous|\+?[0-9*]{1,21})?$"
_AGENT = r"^([0-9]{1,20}|system)$"
_CALL_ID = r"^[0-9A-Za-z._-]{1,64}$"
_PATTERN_MEANING = {
    _MESSAGE_ID: "must be a version-4 UUID as 32 lowercase hex digits",
    _TICKET_ID: "must be a ticket id of 12345 or 110, such as 12345-20261124-000017",
    _DIVISION: "must be a 行政区划代码 of 6 digits, or empty",
    _CALLER: "must be a number as kept (digits, a leading +, * where masked), 'anonymous' or empty",
    _AGENT: "must be an agent's number or 'system'",
    _CALL_ID: "must be a call id (letters, digits, . _ -, at most 64)",
}


def _uuid4(value: str) -> str:
    parsed = uuid.UUID(hex=value)
    if parsed.version != 4 or parsed.variant != uuid.RFC_4122:
        raise ValueError("must be a version-4 UUID (random), not another version")
    return value


def new_message_id() -> str:
    return uuid.uuid4().hex


def _exactly_one(value: object) -> object:
    # strict mode still reads true or 1.0 as the literal 1; a version is the integer 1 only
    if type(value) is not int or value != VERSION:
        raise PydanticCustomError("unsupported_version", "version {version} is not supported: this server "
                                  "speaks version 1", {"version": json.dumps(value, default=repr)})
    return value


MessageId = Annotated[str, StringConstraints(pattern=_MESSAGE_ID), AfterValidator(_uuid4)]
TicketId = Annotated[str, StringConstraints(pattern=_TICKET_ID)]
Epoch = Annotated[float, Field(gt=0, lt=1e11, description="seconds since the epoch")]
Version = Annotated[Literal[1], BeforeValidator(_exactly_one)]


class _Model(BaseModel):
    # revalidate: a body made with model_copy(update=...) is checked again inside an envelope
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid", allow_inf_nan=False,
                              revalidate_instances="always")


def _rule(field: str, message: str) -> PydanticCustomError:
    """A rule across fields, naming the field it blames (``BadMessage.field``)."""
    return PydanticCustomError("message_rule", message, {"field": field})


# --- bodies ------------------------------------------------------------------------------


class HandoverBody(_Model):
    """A case handed over (by transfer, three-way call or push). A restricted case
    (控制知悉范围) crosses by its ticket number only: ``restricted`` and empty content."""

    mode: Mode
    restricted: bool
    category: Category
    summary: Summary  # 地点和情况
    division_code: Annotated[str, StringConstraints(pattern=_DIVISION)]  # 行政区划代码
    emergency: bool
    caller: Annotated[str, StringConstraints(pattern=_CALLER)]  # as a push carries it
    source_call: Annotated[str, StringConstraints(pattern=_CALL_ID)] | None = None  # the call it came by


class ReceivedBody(_Model):
    """签收: the receiver opened ``receiver_ticket`` for the case; who accepted it."""

    receiver_ticket: TicketId
    accepted_by: Annotated[str, StringConstraints(pattern=_AGENT)]
    at: Epoch


class StatusBody(_Model):
    """反馈回写: a step of the case on the receiving side."""

    stage: Stage
    unit: Unit | None = None  # the handling unit (联动单位), when one has it
    detail: Detail = ""
    at: Epoch


class BounceBody(_Model):
    """回流: the case goes back to the platform that sent it."""

    reason: Reason


class SuperviseBody(_Model):
    """督办 from the sending side."""

    note: Note = ""
    due_at: Epoch | None = None


AnyBody = HandoverBody | ReceivedBody | StatusBody | BounceBody | SuperviseBody

# --- the envelope ------------------------------------------------------------------------


class Message(_Model):
    """What every message carries around its body."""

    v: Version
    type: MessageType
    message_id: MessageId
    from_platform: Platform
    to_platform: Platform
    ticket: TicketId  # the sender's ticket
    peer_ticket: TicketId | None = None  # the receiver's ticket it is about
    seq: Annotated[int, Field(ge=1, le=1_000_000_000)]  # per ticket, per direction, from 1
    sent_at: Epoch  # when this attempt was sent

    @model_validator(mode="after")
    def _ends(self) -> Message:
        if self.from_platform == self.to_platform:
            raise _rule("to_platform", "field 'to_platform' must be the other platform, not "
                                       "from_platform")
        if ticket_platform(self.ticket) != self.from_platform:
            raise _rule("ticket", "field 'ticket' must be a ticket of the sender (from_platform)")
        if self.peer_ticket is not None and ticket_platform(self.peer_ticket) != self.to_platform:
            raise _rule("peer_ticket", "field 'peer_ticket' must be a ticket of the receiver (to_platform)")
        if self.peer_ticket is None and self.type != "handover":
            raise _rule("peer_ticket", f"field 'peer_ticket' is required in a {self.type} message")
        return self

    @property
    def stream(self) -> tuple[str, str]:
        """(sender platform, sender ticket): the sequence ``seq`` counts in."""
        return self.from_platform, self.ticket


class HandoverMessage(Message):
    type: Literal["handover"]
    body: HandoverBody


class ReceivedMessage(Message):
    type: Literal["received"]
    body: ReceivedBody

    @model_validator(mode="after")
    def _own_ticket(self) -> ReceivedMessage:
        if self.body.receiver_ticket != self.ticket:
            raise _rule("body.receiver_ticket", "field 'body.receiver_ticket' must be the sender's ticket "
                                                "(the envelope's 'ticket')")
        return self


class StatusMessage(Message):
    type: Literal["status"]
    body: StatusBody


class BounceMessage(Message):
    type: Literal["bounce"]
    body: BounceBody


class SuperviseMessage(Message):
    type: Literal["supervise"]
    body: SuperviseBody


Envelope = Annotated[HandoverMessage | ReceivedMessage | StatusMessage | BounceMessage | SuperviseMessage,
                     Field(discriminator="type")]
_ENVELOPE: TypeAdapter[Envelope] = TypeAdapter(Envelope)
_EPOCH: TypeAdapter[float] = TypeAdapter(Epoch, config=ConfigDict(strict=True, allow_inf_nan=False))
_MESSAGE_OF: dict[type[BaseModel], type[Message]] = {
    HandoverBody: HandoverMessage, ReceivedBody: ReceivedMessage, StatusBody: StatusMessage,
    BounceBody: BounceMessage, SuperviseBody: SuperviseMessage}
_TYPE_OF = {HandoverMessage: "handover", ReceivedMessage: "received", StatusMessage: "status",
            BounceMessage: "bounce", SuperviseMessage: "supervise"}


def make_envelope(body: AnyBody, *, from_platform: str, to_platform: str, ticket: str, seq: int,
                  sent_at: float, peer_ticket: str | None = None, message_id: str | None = None) -> Envelope:
    """The envelope around ``body`` (its type follows from the body's class), checked as a
    received one would be: a ``BadMessage`` if it breaks a rule."""
    cls = _MESSAGE_OF[type(body)]
    fields = {"v": VERSION, "type": _TYPE_OF[cls], "message_id": message_id or new_message_id(),
              "from_platform": from_platform, "to_platform": to_platform, "ticket": ticket,
              "peer_ticket": peer_ticket, "seq": seq, "sent_at": sent_at, "body": body}
    try:
        return _ENVELOPE.validate_python(fields)
    except ValidationError as exc:
        raise _bad(exc) from None


def restamped(envelope: Envelope, sent_at: float) -> Envelope:
    """The same message (id, seq, body) as a new attempt sent at ``sent_at``."""
    return envelope.model_copy(update={"sent_at": _EPOCH.validate_python(sent_at)})


def envelope_bytes(envelope: Envelope) -> bytes:
    """The wire form: compact JSON, UTF-8, Chinese text as itself."""
    return json.dumps(envelope.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":")).encode()


def json_schema(ref_template: str = "#/$defs/{model}") -> dict[str, Any]:
    """The JSON Schema of an envelope (each type's body under ``$defs``); the OpenAPI
    document passes ``#/components/schemas/{model}``."""
    return _ENVELOPE.json_schema(ref_template=ref_template)


# --- reading -----------------------------------------------------------------------------


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # two "type" keys would be read one way here and maybe another way by an auditor's tool
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise BadMessage(f"field {key!r} is given twice", key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise BadMessage(f"the message is not JSON: {name} is not a JSON number")


def parse_envelope(raw: bytes) -> Envelope:
    """A received message, checked in full; anything else is a ``BadMessage`` naming the field."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise BadMessage(f"the message is {len(raw)} bytes; at most {MAX_MESSAGE_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadMessage("the message is not UTF-8 text") from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise BadMessage(f"the message is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise BadMessage("the message is not JSON this server reads: nested too deep") from None
    if not isinstance(data, dict):
        raise BadMessage("the message must be a JSON object")
    try:
        return _ENVELOPE.validate_python(data)
    except ValidationError as exc:
        raise _bad(exc) from None


def _bad(exc: ValidationError) -> BadMessage:
    field, message = _explain(exc.errors()[0])
    return BadMessage(message, field)


def _explain(error: Any) -> tuple[str, str]:
    """(field, message) of pydantic's first error, in words a peer's operator can act on."""
    loc = [str(part) for part in error["loc"]]
    if loc and loc[0] in MESSAGE_TYPES:  # the tagged union puts the tag first
        loc = loc[1:]
    field = ".".join(loc)
    kind, ctx, msg = error["type"], error.get("ctx") or {}, str(error["msg"])
    known = ", ".join(MESSAGE_TYPES)
    explained: dict[str, Callable[[], str]] = {
        "union_tag_not_found": lambda: f"field 'type' is required: one of {known}",
        "union_tag_invalid": lambda: f"field 'type': unknown message type {ctx.get('tag')}; known: {known}",
        "message_rule": lambda: msg,
        "unsupported_version": lambda: f"field 'v': {msg}",
        "missing": lambda: f"field {field!r} is required",
        "extra_forbidden": lambda: f"field {field!r} is not part of this message",
        "string_too_long": lambda: f"field {field!r} is too long: at most {ctx.get('max_length')} characters",
        "string_too_short": lambda: f"field {field!r} must not be empty",
        "string_pattern_mismatch": lambda: f"field {field!r} "
                                           f"{_PATTERN_MEANING.get(str(ctx.get('pattern')), 'has the wrong form')}",
        "string_unicode": lambda: f"field {field!r} is not valid Unicode text",
        "string_type": lambda: f"field {field!r} must be a string",
        "literal_error": lambda: f"field {field!r} must be one of {ctx.get('expected')}",
        "value_error": lambda: f"field {field!r}: {msg.removeprefix('Value error, ')}",
        "model_type": lambda: f"field {field!r} must be a JSON object",
        "model_attributes_type": lambda: f"field {field!r} must be a JSON object",
        "int_type": lambda: f"field {field!r} must be a whole number",
        "float_type": lambda: f"field {field!r} must be a number",
        "bool_type": lambda: f"field {field!r} must be true or false",
        "finite_number": lambda: f"field {field!r} must be a finite number",
        "greater_than_equal": lambda: f"field {field!r} must be at least {ctx.get('ge')}",
        "less_than_equal": lambda: f"field {field!r} must be at most {ctx.get('le')}",
        "greater_than": lambda: f"field {field!r} must be more than {ctx.get('gt')}",
        "less_than": lambda: f"field {field!r} must be less than {ctx.get('lt')}",
    }
    if kind == "message_rule":
        field = str(ctx.get("field", field))
    if kind in ("union_tag_not_found", "union_tag_invalid"):
        field = "type"
    text = explained.get(kind, lambda: f"field {field!r}: {msg}")()
    return field, text
