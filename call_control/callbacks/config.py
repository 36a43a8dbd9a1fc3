"""The callback queue's settings: its ``[callbacks]`` table."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from hotline_link.core.settings import Section


class CallbacksConfig(Section):
    table: ClassVar[str] = "callbacks"

    callback_attempts: Annotated[int, Field(ge=1, le=10)] = 3  # citizen attempts before the request fails
    callback_retry_s: Annotated[float, Field(ge=10, le=86400)] = 300.0  # between two citizen attempts
    # an agent who let the offer ring out: the request goes back to the queue (another agent)
    callback_agent_retry_s: Annotated[float, Field(ge=1, le=3600)] = 30.0
    callback_agent_ring_s: Annotated[int, Field(ge=5, le=120)] = 20  # the Originate's Timeout
    # no word from the dialplan this long after the agent answered: the attempt is unanswered
    callback_connect_timeout_s: Annotated[float, Field(ge=30, le=3600)] = 180.0
    # a caller who hung up unanswered at intake is called back within this many minutes
    # (漏接电话回拨); 0 turns missed-call callbacks off
    missed_callback_minutes: Annotated[int, Field(ge=0, le=1440)] = 30
    # ... but not before this many seconds: a caller who hung up often calls again at once,
    # and a callback ringing while they dial in helps nobody (answered since: no callback)
    missed_callback_grace_s: Annotated[float, Field(ge=0, le=3600)] = 120.0
    # callbacks go out within the 回访 calling hours (the closed loop's working calendar);
    # outside them a request waits for the next window. False: at any hour
    callback_calling_hours: bool = True
    callback_tick_s: Annotated[float, Field(gt=0, le=60)] = 1.0
