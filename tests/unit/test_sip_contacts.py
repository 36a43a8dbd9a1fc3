"""Waiting for a sandbox softphone's contact to be qualified (devtools.sip.contacts)."""

from __future__ import annotations

import pytest

from devtools.sip.contacts import contact_statuses, wait_reachable
from hotline_link.core.errors import SandboxError


class FakeAsterisk:
    """Answers Getvar of PJSIP_AOR/PJSIP_CONTACT like Asterisk: the status turns after some reads."""

    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses
        self.reads: list[tuple[str, str]] = []

    async def send(self, site: str, action: dict[str, str]) -> dict[str, str]:
        variable = action["Variable"]
        self.reads.append((site, variable))
        if variable.startswith("PJSIP_AOR("):
            return {"Value": "1001;@abc,1001;@def" if variable == "PJSIP_AOR(1001,contact)" else ""}
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {"Value": status if variable.endswith("@abc,status)") else "Unreachable"}


async def test_the_statuses_of_each_contact_are_read() -> None:
    asterisk = FakeAsterisk(["Created"])
    assert await contact_statuses(asterisk.send, "12345", "1001") == ["Created", "Unreachable"]
    assert await contact_statuses(asterisk.send, "12345", "1002") == []
    assert all(site == "12345" for site, _ in asterisk.reads)


async def test_the_wait_ends_once_a_contact_is_reachable() -> None:
    asterisk = FakeAsterisk(["Created", "Unreachable", "Reachable"])
    await wait_reachable(asterisk.send, "12345", "1001", timeout=5, poll_s=0.01)
    assert asterisk.statuses == ["Reachable"]


async def test_a_contact_never_reachable_fails_the_wait_with_its_statuses() -> None:
    asterisk = FakeAsterisk(["Unreachable"])
    with pytest.raises(SandboxError, match=r"1001's contact on site 12345 was not reachable.*Unreachable"):
        await wait_reachable(asterisk.send, "12345", "1001", timeout=0.1, poll_s=0.01)
