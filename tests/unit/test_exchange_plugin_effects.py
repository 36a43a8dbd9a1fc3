"""What the exchange plugin decides, pure: which linkage steps go back to the sender of a
case and as what, and the id of a message that follows from a received one."""

from __future__ import annotations

import uuid

from exchange.effects import Feedback, derived_id, feedback_of, is_written_back
from exchange.messages import make_envelope
from hotline_link.core.bus import BusEvent
from hotline_link.core.events import (
    LinkageAccepted,
    LinkageArrived,
    LinkageCallback,
    LinkageDispatched,
    LinkageResolved,
    LinkageSupervised,
)
from tests.unit.exchange_samples import BODIES, NOW, T110, T12345

TICKET = "110-20261207-000001"


def test_each_linkage_step_is_written_back_as_its_stage():
    steps = [
        (LinkageDispatched(ticket_id=TICKET, unit="U1", unit_name="八大湖派出所", level=1, mode="system", site="110",
                           by="2001", queued_until=None, accept_due=NOW),
         Feedback(TICKET, "dispatched", "八大湖派出所", "", None)),
        (LinkageAccepted(ticket_id=TICKET, unit="U1", site="110", on_time=True, arrive_due=NOW, result_due=NOW),
         Feedback(TICKET, "accepted", "U1", "", None)),
        (LinkageArrived(ticket_id=TICKET, unit="U1", site="110", arrived_at=NOW, on_time=False, situation="到场"),
         Feedback(TICKET, "arrived", "U1", "到场", NOW)),
        (LinkageResolved(ticket_id=TICKET, unit="U1", site="110", resolved=False, on_time=True, summary=""),
         Feedback(TICKET, "result", "U1", "未办结", None)),
        (LinkageCallback(ticket_id=TICKET, unit="U1", site="110", result="满意", by="2001"),
         Feedback(TICKET, "callback", "U1", "满意", None)),
    ]
    for event, feedback in steps:
        assert is_written_back(BusEvent.of(event))
        assert feedback_of(BusEvent.of(event)) == feedback


def test_each_stage_names_the_unit_by_the_name_the_other_platform_can_read():
    names = {"U1": "八大湖派出所"}.get
    steps = [LinkageAccepted(ticket_id=TICKET, unit="U1", site="110", on_time=True, arrive_due=NOW, result_due=NOW),
             LinkageArrived(ticket_id=TICKET, unit="U1", site="110", arrived_at=NOW, on_time=False, situation="到场"),
             LinkageResolved(ticket_id=TICKET, unit="U1", site="110", resolved=True, on_time=True, summary=""),
             LinkageCallback(ticket_id=TICKET, unit="U1", site="110", result="满意", by="2001")]
    assert {feedback_of(BusEvent.of(step), names).unit for step in steps} == {"八大湖派出所"}  # type: ignore[union-attr]
    unknown = LinkageAccepted(ticket_id=TICKET, unit="U9", site="110", on_time=True, arrive_due=NOW, result_due=NOW)
    assert feedback_of(BusEvent.of(unknown), names).unit == "U9"  # type: ignore[union-attr]  # not in the directory


def test_other_events_are_not_written_back():
    supervised = BusEvent.of(LinkageSupervised(ticket_id=TICKET, unit="U1", stage="arrive", due=NOW, late_s=5,
                                               escalates_at=NOW))
    assert not is_written_back(supervised) and feedback_of(supervised) is None


def test_a_derived_id_is_a_stable_message_id_of_its_own():
    received = uuid.uuid4().hex
    first, again = derived_id(received, "received"), derived_id(received, "received")
    assert first == again != received and first != derived_id(received, "other")
    # a valid message id: the catalogue takes it
    make_envelope(BODIES["received"], from_platform="110", to_platform="12345", ticket=T110, peer_ticket=T12345,
                  seq=1, sent_at=NOW, message_id=first)
