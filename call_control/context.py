"""What every call-control service works with, built once by the call control plugin."""

from __future__ import annotations

from dataclasses import dataclass

from call_control.calls import CallBook
from call_control.locks import CallLocks
from hotline_link.asterisk.ami.manager import AmiManager
from hotline_link.core.bus import EventBus
from hotline_link.core.settings import Settings
from tickets.store import TicketStore


@dataclass(frozen=True)
class CallControlContext:
    settings: Settings
    ami: AmiManager
    book: CallBook
    tickets: TicketStore
    locks: CallLocks
    bus: EventBus
