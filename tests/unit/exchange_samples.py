"""Sample tickets and messages of the exchange channel's unit tests."""

from __future__ import annotations

import json
import uuid
from typing import Any

from exchange.messages import (
    AnyBody,
    BounceBody,
    Envelope,
    HandoverBody,
    ReceivedBody,
    StatusBody,
    SuperviseBody,
    envelope_bytes,
    make_envelope,
)
from tickets.store import Ticket

NOW = 1_795_530_000.0
T12345 = "12345-20261124-000017"
T110 = "110-20261124-000031"


def ticket_12345(**changes: Any) -> Ticket:
    fields: dict[str, Any] = {"id": T12345, "site": "12345", "call_id": "hl12345-1795530667.13",
                              "category": "噪音扰民", "summary": "市南区香港中路夜间施工噪音", "created_at": NOW - 600,
                              "caller": "13812341234", "division_code": "370202", "handling_unit": "QD-CG"}
    return Ticket(**{**fields, **changes})


def ticket_110(**changes: Any) -> Ticket:
    fields: dict[str, Any] = {"id": T110, "site": "110", "call_id": "hl110-1795530667.2",
                              "category": "纠纷", "summary": "邻里纠纷，已调解", "created_at": NOW - 300,
                              "caller": "13912345678", "division_code": "370203", "emergency": True}
    return Ticket(**{**fields, **changes})


def handover_body(**changes: Any) -> HandoverBody:
    fields: dict[str, Any] = {"mode": "transfer", "restricted": False, "category": "噪音扰民",
                              "summary": "夜间施工噪音", "division_code": "370202", "emergency": False,
                              "caller": "13812341234", "source_call": "hl12345-1795530667.13"}
    return HandoverBody(**{**fields, **changes})


BODIES: dict[str, AnyBody] = {
    "handover": handover_body(),
    "received": ReceivedBody(receiver_ticket=T110, accepted_by="2001", at=NOW - 5),
    "status": StatusBody(stage="arrived", unit="市南分局八大湖派出所", detail="民警已到场", at=NOW - 5),
    "bounce": BounceBody(reason="非警务类事项，退回12345"),
    "supervise": SuperviseBody(note="请于今日反馈办理进度", due_at=NOW + 3600),
}


def envelope(type_: str = "handover", *, seq: int = 1, sent_at: float = NOW, message_id: str | None = None,
             from_platform: str = "", ticket: str = "", **body_changes: Any) -> Envelope:
    """A valid message of ``type_``: a handover and a supervise from 12345, the other types
    (what the receiving side writes back) from 110."""
    body = BODIES[type_]
    if body_changes:
        body = body.model_copy(update=body_changes)
    sender = from_platform or ("12345" if type_ in ("handover", "supervise") else "110")
    receiver = "110" if sender == "12345" else "12345"
    own = ticket or (T12345 if sender == "12345" else T110)
    peer = None if type_ == "handover" else (T110 if sender == "12345" else T12345)
    return make_envelope(body, from_platform=sender, to_platform=receiver, ticket=own, peer_ticket=peer,
                         seq=seq, sent_at=sent_at, message_id=message_id or uuid.uuid4().hex)


def as_dict(env: Envelope) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(envelope_bytes(env))
    return data
