"""Security on the real sandbox: a caller's SIP From cannot inject AMI actions, the
server's AMI user cannot run System or CLI commands, and one agent's SIP password
registers no other seat."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from devtools.sip.peers import free_udp_port
from hotline_link.core.errors import AmiError, SandboxError
from tests.helpers import is_event
from tests.sandbox.callflows import Api, online_agent


async def test_line_breaks_in_a_callers_from_inject_nothing_into_a_three_way_call(cc_server, softphones, peers):
    """The call of the security read: From: <sip:1380000%0AApplication%3A%20System%0AData%3A
    %20touch%20...>; pjsip unescapes it and AMI's Newchannel carries the line breaks. On
    the tree before the fix the three-way call's Originate ran System as Asterisk."""
    server, api = cc_server, Api(cc_server)
    marker = f"hl-injected-{secrets.token_hex(6)}"
    marker_path = server.settings.rootfs_dir / "tmp" / marker
    injected_user = f"1380000%0AApplication%3A%20System%0AData%3A%20touch%20%2Ftmp%2F{marker}"
    site = server.settings.site("12345")
    with server.bus.subscribe() as events:
        await online_agent(server, softphones, peers, "12345", "1001")
        agent_110 = await online_agent(server, softphones, peers, "110", "2001")
        caller = await peers.call(site, injected_user, site.intake, hold_ms=8000)
        started = await events.wait_for(
            lambda e: e.name == "call.started" and e.data.get("site") == "12345"
            and str(e.data.get("channel", "")).startswith("PJSIP/anonymous"), 10)
        call_id = started.data["call_id"]
        await events.wait_for(is_event("call.answered", call_id=call_id), 10)
        status, body = await api.request("POST", f"/api/calls/{call_id}/conference", "1001",
                                         json={"target": "110"})
        assert status == 200, body
        assert sorted(body["parties"]) == ["1001", "110", "caller"]
        await asyncio.sleep(1)  # System() would have run while the Originate was handled
        assert not marker_path.exists(), "an action injected through the caller's From ran"
        assert started.data["caller"] == "anonymous"
        routed = await events.wait_for(lambda e: e.name == "call.routed" and e.data.get("call_id") == call_id, 5)
        assert routed.data["seat"] == "1001"  # the route hook placed it (no fallback needed)
        status, body = await api.request("GET", f"/api/calls/{call_id}", "1001")
        assert status == 200, body
        callers = {e["data"]["caller"] for e in body["events"] if "caller" in e["data"]}
        assert callers == {"anonymous"}, callers
    assert await caller.finished(20) == 0
    assert await agent_110.finished(10) == 0


async def test_the_servers_ami_user_may_not_run_cli_commands_or_system(server):
    with pytest.raises(AmiError, match=r"[Pp]ermission denied"):
        await server.ami.send("12345", {"Action": "Command", "Command": "core show version"})
    marker = f"hl-system-{secrets.token_hex(6)}"
    with pytest.raises(AmiError):
        await server.ami.send("12345", {
            "Action": "Originate", "Channel": "Local/s@intake", "Application": "System",
            "Data": f"touch /tmp/{marker}", "Timeout": "1000"})
    assert not (server.settings.rootfs_dir / "tmp" / marker).exists()


async def test_one_agents_password_registers_no_other_seat(server, softphones, peers):
    site_12345, site_110 = server.settings.site("12345"), server.settings.site("110")
    password_1001 = softphones.password(site_12345, "1001")
    with pytest.raises(SandboxError, match="could not register"):
        await peers.register(site_12345, "1002", password_1001, free_udp_port(), timeout_s=4)
    with pytest.raises(SandboxError, match="could not register"):
        await peers.register(site_110, "2001", password_1001, free_udp_port(), timeout_s=4)
    await softphones.register(site_12345, "1001")  # its own password does


async def test_the_sandbox_redis_requires_its_password_and_the_state_dir_is_private(server):
    import redis.asyncio as aioredis
    from redis.exceptions import AuthenticationError, ResponseError

    settings = server.settings
    assert settings.redis_password, "the secrets file gives the sandbox's Redis a password"
    anonymous = aioredis.Redis.from_url(settings.redis_url)
    try:
        with pytest.raises((AuthenticationError, ResponseError)):
            await anonymous.get("hl:any")
    finally:
        await anonymous.aclose()
    assert await server.redis.ping()  # the server's client has it
    assert settings.state_dir.stat().st_mode & 0o077 == 0
