"""``python -m agi_scripts.route`` as a classic process AGI (pyst2, stdin/stdout), claiming
a seat in the sandbox's Redis. This test plays Asterisk's side of the pipe."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from hotline_link.core.redis_client import redis_client
from seat_pool.store import SeatStore, claim_key

SITE, SEATS = "remote", ("3001", "3002", "3003", "3004", "3005")


@pytest.fixture
async def store(sandbox_settings):
    redis = redis_client(sandbox_settings, decode_responses=True)
    store = SeatStore(redis, 5)
    for seat in SEATS:
        await redis.delete(claim_key(SITE, seat))
        await store.update(SITE, seat, registered=seat == "3005", device_state="NOT_INUSE")
    yield store
    for seat in SEATS:
        await redis.delete(claim_key(SITE, seat))
        await store.update(SITE, seat, registered=False)
    await redis.aclose()


async def test_process_agi_claims_the_idle_seat(store):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agi_scripts.route", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ))
    proc.stdin.write(b"agi_request: route.py\nagi_channel: PJSIP/trunk-12345-1\n"
                     b"agi_uniqueid: hlremote-1.1\nagi_callerid: 13812341234\nagi_arg_1: remote\n\n")
    await proc.stdin.drain()
    assert await asyncio.wait_for(proc.stdout.readline(), 10) == b'GET VARIABLE "CHANNEL(linkedid)"\n'
    proc.stdin.write(b"200 result=1 (hl12345-99.1)\n")
    await proc.stdin.drain()
    command = await asyncio.wait_for(proc.stdout.readline(), 10)
    assert command == b'SET VARIABLE "ROUTE_TARGET" "PJSIP/3005"\n'
    proc.stdin.write(b"200 result=1\n")
    await proc.stdin.drain()
    proc.stdin.close()
    _, stderr = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, stderr
    assert await store.redis.get(claim_key(SITE, "3005")) == "hl12345-99.1"
    assert b"138****1234" in stderr and b"13812341234" not in stderr
