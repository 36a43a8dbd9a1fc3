"""Call recordings: file names, who handled a ticket, listing a ticket's recordings, the
retention sweep; and the sandbox loading a module added to modules.conf."""

from __future__ import annotations

import os
import wave
from pathlib import Path

from devtools.sandbox import missing_modules
from tickets.recordings import CallRecordings, handlers, parse_name
from tickets.redis_keys import ticket_calls_key
from tickets.store import TICKET_TTL_S, Ticket


def write_wav(path: Path, seconds: float, rate: int = 8000) -> None:
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(b"\0\0" * int(seconds * rate))


def test_names_are_call_id_and_part():
    assert parse_name("hl12345-1796675436.87-1.wav") == ("hl12345-1796675436.87", 1)
    assert parse_name("1796675436.87-12.wav") == ("1796675436.87", 12)
    for bad in ("../x-1.wav", "hl12345-1796675436.87.wav", "hl12345-1796675436.87-1.mp3",
                "hl12345-17966.87-1.wav/x", "-1.87-1.wav", "a b.1-1.wav", "x/y-1.wav", ""):
        assert parse_name(bad) is None, bad


def test_handlers_are_the_agents_the_story_puts_on_its_calls():
    story = [{"event": "call.answered", "data": {"answered_by": "PJSIP/1001"}},
             {"event": "transfer.answered", "data": {"agent": "1002", "target": "110"}},
             {"event": "ticket.updated", "data": {"by": "1004", "changes": {"summary": "x"}}},  # an edit
             {"event": "callback.step", "data": {"step": "offered", "agent": "1005"}},  # rang out
             {"event": "callback.step", "data": {"step": "connected", "agent": "1006"}},
             {"event": "call.ended", "data": {"answered_by": None}}, {"data": {}}, {}]
    assert handlers(story, ["1001", "1002", "1003", "1004", "1005", "1006"]) == {"1001", "1002", "1006"}
    assert handlers(story, ["1003"]) == set()
    assert handlers([{"data": {"answered_by": "PJSIP/trunk-110"}}], ["110"]) == set()


async def test_a_ticket_lists_its_own_calls_recordings_only(private_redis, tmp_path):
    site_dir = tmp_path / "12345"
    site_dir.mkdir()
    write_wav(site_dir / "hl12345-100.1-1.wav", 2.0)
    write_wav(site_dir / "hl12345-100.1-2.wav", 0.5)
    write_wav(site_dir / "hl12345-200.2-1.wav", 1.0)  # another ticket's call
    (site_dir / "hl12345-100.1-3.wav").write_bytes(b"RIFF")  # still being written: no length yet
    ticket = Ticket(id="12345-20261207-0001", site="12345", call_id="hl12345-100.1")
    await private_redis.sadd(ticket_calls_key(ticket.id), "hl12345-100.1", "linkage-12345-20261207-0001")
    recordings = CallRecordings(private_redis, lambda site: tmp_path / site, ["12345"])

    found = await recordings.for_ticket(ticket)
    assert [(r.name, r.part, r.seconds) for r in sorted(found, key=lambda r: r.part)] == [
        ("hl12345-100.1-1.wav", 1, 2.0), ("hl12345-100.1-2.wav", 2, 0.5), ("hl12345-100.1-3.wav", 3, 0.0)]
    assert await recordings.path_of(ticket, "hl12345-100.1-1.wav") == site_dir / "hl12345-100.1-1.wav"
    assert await recordings.path_of(ticket, "hl12345-200.2-1.wav") is None
    assert await recordings.path_of(ticket, "../12345/hl12345-100.1-1.wav") is None


async def test_the_sweep_deletes_what_outlived_the_tickets(private_redis, tmp_path):
    site_dir = tmp_path / "12345"
    site_dir.mkdir()
    old, new, other = site_dir / "hl12345-1.1-1.wav", site_dir / "hl12345-2.2-1.wav", site_dir / "notes.wav"
    for path in (old, new, other):
        write_wav(path, 0.1)
    now = 2_000_000_000.0
    os.utime(old, (now - TICKET_TTL_S - 60, now - TICKET_TTL_S - 60))
    os.utime(new, (now - TICKET_TTL_S + 60, now - TICKET_TTL_S + 60))
    os.utime(other, (now - TICKET_TTL_S - 60, now - TICKET_TTL_S - 60))
    recordings = CallRecordings(private_redis, lambda site: tmp_path / site, ["12345", "110"])
    assert await recordings.sweep(now) == 1
    assert not old.exists() and new.exists() and other.exists()  # not a recording's name: not ours


def test_the_sandbox_loads_modules_added_since_a_site_started():
    conf = "[modules]\nautoload = no\nload => app_dial.so\nload=>app_mixmonitor.so\nnoload => chan_iax2.so\n"
    show = ("Module                         Description     Use Count  Status      Support Level\n"
            "app_dial.so                    Dialing Application   0  Running   core\n"
            "1 modules loaded\n")
    assert missing_modules(conf, show) == ["app_mixmonitor.so"]
    assert missing_modules(conf, show + "app_mixmonitor.so  Mixed Audio Monitoring   0 Running core\n") == []
