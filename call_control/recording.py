"""Where the platform's recording of a call ends (全程录音, ``[hl-record]`` in the dialplan):
once the caller talks on with another platform and none of this platform's agents (a
completed warm transfer, the last local agent leaving a three-way call), this site stops
recording; the other platform records its own part. A blind transfer stops it in the
dialplan (``transfer-out``)."""

from __future__ import annotations

import structlog

from hotline_link.asterisk.ami.manager import AmiManager
from hotline_link.core.errors import AmiError

log = structlog.get_logger(__name__)


async def stop_recording(ami: AmiManager, site: str, channel: str, call_id: str) -> None:
    """StopMixMonitor on the caller's ``channel``; a channel not being recorded (recording
    off for the site) or already gone is no error."""
    try:
        await ami.send(site, {"Action": "StopMixMonitor", "Channel": channel})
        # a caller sent back to intake later (a three-way call whose other platform left) is
        # recorded again, in a new part
        await ami.send(site, {"Action": "Setvar", "Channel": channel, "Variable": "HL_RECORDING", "Value": ""})
        log.info("recording.stopped", call_id=call_id, site=site)
    except AmiError as exc:
        log.info("recording.not_stopped", call_id=call_id, site=site, reason=str(exc)[:200])
