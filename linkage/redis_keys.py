"""Every Redis key of the closed loop, built in this one place. Pure.

All live under one prefix (``hl:linkage:`` in production; tests and benchmarks use their
own). The tickets' keys are not here: the loop writes a ticket's story and its calls
through the tickets capability's API. The strings are the stored data's names: changing
one orphans what Redis already holds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from linkage.repeats import number_key, place_key

PREFIX = "hl:linkage:"


@dataclass(frozen=True)
class LinkageKeys:
    prefix: str = PREFIX

    # --- dispatches (linkage.records) ---------------------------------------------------

    def dispatch(self, ticket_id: str) -> str:
        """The hash of a ticket's dispatch: unit, state, the times of each step."""
        return f"{self.prefix}dispatch:{ticket_id}"

    def assisting_dispatch(self, ticket_id: str, unit: str) -> str:
        """The hash of an assisting unit's part of a ticket (joint handling): as a dispatch."""
        return f"{self.prefix}dispatch:{ticket_id}:{unit}"

    def assisting(self, ticket_id: str) -> str:
        """The set of a ticket's assisting units (joint handling), in any state."""
        return f"{self.prefix}assisting:{ticket_id}"

    # --- the event log the report reads (linkage.journal) ------------------------------

    @property
    def events(self) -> str:
        return self.prefix + "events"

    # --- deadlines and red flags (linkage.deadlines) -----------------------------------

    @property
    def due(self) -> str:
        """Sorted set of open deadlines (``{ticket_id}|{stage}``) by due time."""
        return self.prefix + "due"

    def deadline(self, member: str) -> str:
        return f"{self.prefix}deadline:{member}"

    @property
    def flags(self) -> str:
        """The supervisor's red flags, by ticket."""
        return self.prefix + "flags"

    # --- asking by phone (linkage.phone) -----------------------------------------------

    @property
    def phone_due(self) -> str:
        return self.prefix + "phone-due"

    def phone(self, slot: str) -> str:
        return f"{self.prefix}phone:{slot}"

    def ask(self, ask_id: str) -> str:
        """The slot of one attempt (call) of an ask."""
        return f"{self.prefix}ask:{ask_id}"

    def ask_claimed(self, ask_id: str) -> str:
        return f"{self.prefix}ask-claimed:{ask_id}"

    # --- 回访 (linkage.callbacks) -------------------------------------------------------

    @property
    def callback_optout(self) -> str:
        """The numbers never to call back."""
        return self.prefix + "callback-optout"

    # --- repeat calls (linkage.repeat_calls) --------------------------------------------

    def repeat_count(self, ticket_id: str) -> str:
        return f"{self.prefix}repeat-count:{ticket_id}"

    def repeat_number(self, site: str, number: str) -> str | None:
        """A number's open ticket (the number hashed); None for an anonymous caller."""
        return number_key(self.prefix, site, number)

    def repeat_place(self, site: str, division_code: str, category: str) -> str | None:
        """A place and category's open ticket; None without a division code or category."""
        return place_key(self.prefix, site, division_code, category)

    # --- the units' feedback line (linkage.feedback_agi) ---------------------------------

    def feedback_attempts(self, unit: str) -> str:
        return f"{self.prefix}feedback-attempts:{unit}"

    def feedback_caller_failures(self, number: str) -> str:
        """Wrong PINs per calling number (hashed: no number in a key name)."""
        digest = hashlib.sha256(f"hl-feedback:{number}".encode()).hexdigest()[:24]
        return f"{self.prefix}feedback-caller-failures:{digest}"

    def feedback_lock_alert(self, unit: str) -> str:
        return f"{self.prefix}feedback-lock-alert:{unit}"

    def voice_notes(self, ticket_id: str) -> str:
        return f"{self.prefix}voice-notes:{ticket_id}"
