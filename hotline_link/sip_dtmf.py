"""Key presses for SIPp callers: Debian's sip-tester ships one RFC 2833 recording per key
(``dtmf_2833_<key>.pcap``), each with its own fixed RTP sequence numbers and timestamps.
Played one after another as they are, a key whose recording has an older timestamp than the
previous key's is taken by Asterisk for a late copy of an old event and ignored (3 then 0
loses the 0). ``key_recordings`` therefore writes copies renumbered so that every key of a
call follows the one before it.
"""

from __future__ import annotations

import struct
from pathlib import Path

from hotline_link.errors import SandboxError

RECORDINGS = Path("/usr/share/sip-tester")  # Debian package sip-tester
KEY_NAMES = {"*": "star", "#": "pound", **{d: d for d in "0123456789"}}
_SEQ_START, _SEQ_STEP = 1000, 50
_TS_START, _TS_STEP = 160_000, 80_000  # 10 s of 8 kHz clock between two keys' events
_PCAP_MAGIC_LE = 0xA1B2C3D4
_ETHERNET = 1


def recording(key: str, recordings: Path = RECORDINGS) -> Path:
    if key not in KEY_NAMES:
        raise SandboxError(f"no DTMF key {key!r}: keys are 0-9, * and #")
    path = recordings / f"dtmf_2833_{KEY_NAMES[key]}.pcap"
    if not path.is_file():
        raise SandboxError(f"{path} is missing: SIPp's DTMF recordings come with Debian's "
                           "sip-tester package; run 'make install'")
    return path


def renumber(pcap: bytes, seq_start: int, timestamp: int) -> bytes:
    """The recording with RTP sequence numbers from ``seq_start`` and every packet's RTP
    timestamp set to ``timestamp`` (one telephone event: all its packets share one)."""
    if len(pcap) < 24:
        raise SandboxError("DTMF recording: not a pcap file")
    magic, _, _, _, _, _, link = struct.unpack("<IHHiIII", pcap[:24])
    if magic != _PCAP_MAGIC_LE or link != _ETHERNET:
        raise SandboxError("DTMF recording: expected a little-endian Ethernet pcap")
    out, offset, seq = bytearray(pcap[:24]), 24, seq_start
    while offset + 16 <= len(pcap):
        header = pcap[offset:offset + 16]
        captured = struct.unpack("<I", header[8:12])[0]
        packet = bytearray(pcap[offset + 16:offset + 16 + captured])
        offset += 16 + captured
        ip = 14
        udp = ip + (packet[ip] & 0x0F) * 4
        rtp = udp + 8
        if len(packet) < rtp + 12 or packet[ip] >> 4 != 4:
            raise SandboxError("DTMF recording: a packet is not IPv4/UDP/RTP")
        struct.pack_into(">HI", packet, rtp + 2, seq & 0xFFFF, timestamp & 0xFFFFFFFF)
        struct.pack_into(">H", packet, udp + 6, 0)  # no UDP checksum (optional in IPv4)
        out += header + packet
        seq += 1
    return bytes(out)


def key_recordings(keys: list[str], workdir: Path, name: str,
                   recordings: Path = RECORDINGS) -> list[Path]:
    """One renumbered recording per key press, in order, written to ``workdir``."""
    sources = [recording(key, recordings) for key in keys]
    workdir.mkdir(parents=True, exist_ok=True)
    out = []
    for index, (key, source) in enumerate(zip(keys, sources)):
        target = workdir / f"{name}-{index:02d}-{KEY_NAMES[key]}.pcap"
        target.write_bytes(renumber(source.read_bytes(), _SEQ_START + index * _SEQ_STEP,
                                    _TS_START + index * _TS_STEP))
        out.append(target)
    return out
