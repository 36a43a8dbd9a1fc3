"""The SIPp callers' key presses and speech: one RTP stream per call, built from
sip-tester's recordings (Debian package sip-tester)."""

from __future__ import annotations

import struct
from itertools import pairwise
from pathlib import Path

import pytest

from devtools.sip.dtmf import _ALAW_TO_ULAW, RECORDINGS, VOICE, key_recordings, keyed
from tests.conftest import _unavailable


def rtp_headers(pcap: bytes) -> list[tuple[int, int, int, int]]:
    """(payload type, sequence number, timestamp, SSRC) of each packet."""
    out, offset = [], 24
    while offset + 16 <= len(pcap):
        captured = struct.unpack("<I", pcap[offset + 8:offset + 12])[0]
        packet = pcap[offset + 16:offset + 16 + captured]
        offset += 16 + captured
        rtp = 14 + (packet[14] & 0x0F) * 4 + 8
        seq, ts, ssrc = struct.unpack(">HII", packet[rtp + 2:rtp + 12])
        out.append((packet[rtp + 1] & 0x7F, seq, ts, ssrc))
    return out


def test_keys_and_speech_make_one_stream_in_order(tmp_path: Path):
    if not (RECORDINGS / "g711a.pcap").is_file():
        _unavailable("sip-tester's recordings are not installed (Debian package sip-tester)")
    files = key_recordings(["1", VOICE, "#"], tmp_path, "call")
    packets = [rtp_headers(f.read_bytes()) for f in files]
    assert {pt for pt, *_ in packets[0] + packets[2]} == {101}  # telephone events
    assert {pt for pt, *_ in packets[1]} == {0}  # speech as µ-law, what the callers offer
    stream = [p for part in packets for p in part]
    assert len({ssrc for *_, ssrc in stream}) == 1
    seqs = [seq for _, seq, _, _ in stream]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    stamps = [ts for _, _, ts, _ in stream]
    assert stamps == sorted(stamps)
    voice = [ts for _, _, ts, _ in packets[1]]
    assert len(voice) > 200 and {b - a for a, b in pairwise(voice)} == {240}  # 30 ms packets
    assert stamps[-1] > voice[-1]  # the # after the speech is a newer event, not a late copy


def test_a_law_to_mu_law():
    assert _ALAW_TO_ULAW[0xD5] == 0xFE and _ALAW_TO_ULAW[0x55] == 0x7E  # +8 and -8
    assert _ALAW_TO_ULAW[0xAA] == 0x80 and _ALAW_TO_ULAW[0x2A] == 0x00  # the loudest, both signs


def test_keyed_puts_the_first_key_after_the_pause_and_ends_with_pound():
    assert keyed("12", 1500) == [(1500, "1"), (300, "2"), (300, "#")]
    with pytest.raises(Exception, match="no DTMF key"):
        key_recordings(["x"], Path("/nonexistent"), "bad")
