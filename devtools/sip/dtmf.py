"""Key presses for SIPp callers: Debian's sip-tester ships one RFC 2833 recording per key
(``dtmf_2833_<key>.pcap``), each with its own fixed RTP sequence numbers and timestamps.
Played one after another as they are, a key whose recording has an older timestamp than the
previous key's is taken by Asterisk for a late copy of an old event and ignored (3 then 0
loses the 0). ``key_recordings`` therefore writes copies renumbered so that every key of a
call follows the one before it. ``keepalive_recording`` is the media a live phone keeps
sending (Asterisk ends a call whose RTP stops: ``media_timeout_s``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

from hotline_link.core.errors import SandboxError

RECORDINGS = Path("/usr/share/sip-tester")  # Debian package sip-tester
KEY_NAMES = {"*": "star", "#": "pound", **{d: d for d in "0123456789"}}
_SEQ_START, _SEQ_STEP = 1000, 50
_TS_START, _TS_STEP = 160_000, 80_000  # 10 s of 8 kHz clock between two keys' events
_PCAP_MAGIC_LE = 0xA1B2C3D4
VOICE = "voice"  # a pseudo key: speech (a voice note), see key_recordings
_VOICE_SLOTS = 5  # 236 packets of speech: the sequence numbers of 5 keys
_DTMF_SSRC = 235223118  # the SSRC of sip-tester's DTMF recordings
_ETHERNET = 1


def recording(key: str, recordings: Path = RECORDINGS) -> Path:
    if key not in KEY_NAMES:
        raise SandboxError(f"no DTMF key {key!r}: keys are 0-9, * and #")
    path = recordings / f"dtmf_2833_{KEY_NAMES[key]}.pcap"
    if not path.is_file():
        raise SandboxError(f"{path} is missing: SIPp's DTMF recordings come with Debian's "
                           "sip-tester package; run 'make install'")
    return path


def _rtp_packets(pcap: bytes, what: str) -> Iterator[tuple[bytes, bytearray, int]]:
    """(pcap record header, packet, RTP offset) of each packet of a little-endian
    Ethernet pcap of IPv4/UDP/RTP, as sip-tester's recordings are."""
    if len(pcap) < 24:
        raise SandboxError(f"{what}: not a pcap file")
    magic, _, _, _, _, _, link = struct.unpack("<IHHiIII", pcap[:24])
    if magic != _PCAP_MAGIC_LE or link != _ETHERNET:
        raise SandboxError(f"{what}: expected a little-endian Ethernet pcap")
    offset = 24
    while offset + 16 <= len(pcap):
        header = pcap[offset:offset + 16]
        captured = struct.unpack("<I", header[8:12])[0]
        packet = bytearray(pcap[offset + 16:offset + 16 + captured])
        offset += 16 + captured
        ip = 14
        udp = ip + (packet[ip] & 0x0F) * 4
        rtp = udp + 8
        if len(packet) < rtp + 12 or packet[ip] >> 4 != 4:
            raise SandboxError(f"{what}: a packet is not IPv4/UDP/RTP")
        struct.pack_into(">H", packet, udp + 6, 0)  # no UDP checksum (optional in IPv4)
        yield header, packet, rtp


def renumber(pcap: bytes, seq_start: int, timestamp: int) -> bytes:
    """The recording with RTP sequence numbers from ``seq_start`` and every packet's RTP
    timestamp set to ``timestamp`` (one telephone event: all its packets share one)."""
    out, seq = bytearray(pcap[:24]), seq_start
    for header, packet, rtp in _rtp_packets(pcap, "DTMF recording"):
        struct.pack_into(">HI", packet, rtp + 2, seq & 0xFFFF, timestamp & 0xFFFFFFFF)
        out += header + packet
        seq += 1
    return bytes(out)


def keyed(text: str, first_pause_ms: int, gap_ms: int = 300) -> list[tuple[int, str]]:
    """The ``(pause_ms, key)`` list of keying ``text`` then #: the first key after
    ``first_pause_ms`` (into a prompt; Read() lets a key interrupt it), the others ``gap_ms``
    apart."""
    return [(first_pause_ms if i == 0 else gap_ms, key) for i, key in enumerate(text + "#")]


def key_recordings(keys: list[str], workdir: Path, name: str,
                   recordings: Path = RECORDINGS) -> list[Path]:
    """One renumbered recording per key press, in order, written to ``workdir``. The pseudo
    key ``VOICE`` is 7 s of speech (sip-tester's A-law recording, as the µ-law the SIPp
    callers offer) in the same RTP stream: it takes ``_VOICE_SLOTS`` keys' room."""
    sources = [recording(key, recordings) if key != VOICE else recordings / "g711a.pcap" for key in keys]
    workdir.mkdir(parents=True, exist_ok=True)
    out, slot = [], 0
    for index, (key, source) in enumerate(zip(keys, sources, strict=True)):
        target = workdir / f"{name}-{index:02d}-{KEY_NAMES.get(key, key)}.pcap"
        if key == VOICE:
            if not source.is_file():
                raise SandboxError(f"{source} is missing: it comes with Debian's sip-tester package")
            target.write_bytes(voice_as_ulaw(source.read_bytes(), _SEQ_START + slot * _SEQ_STEP,
                                             _TS_START + slot * _TS_STEP))
            slot += _VOICE_SLOTS
        else:
            target.write_bytes(renumber(source.read_bytes(), _SEQ_START + slot * _SEQ_STEP,
                                        _TS_START + slot * _TS_STEP))
            slot += 1
        out.append(target)
    return out


def _alaw_to_linear(byte: int) -> int:
    byte ^= 0x55
    exponent, mantissa = (byte >> 4) & 0x07, byte & 0x0F
    value = (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
    return value if byte & 0x80 else -value


def _linear_to_ulaw(sample: int) -> int:
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


_ALAW_TO_ULAW = bytes(_linear_to_ulaw(_alaw_to_linear(b)) for b in range(256))


def voice_as_ulaw(pcap: bytes, seq_start: int, timestamp: int) -> bytes:
    """sip-tester's A-law speech recording as µ-law (payload type 0) with the DTMF
    recordings' SSRC, sequence numbers from ``seq_start`` and timestamps from ``timestamp``."""
    out, seq, ts = bytearray(pcap[:24]), seq_start, timestamp
    for header, packet, rtp in _rtp_packets(pcap, "voice recording"):
        packet[rtp + 1] = packet[rtp + 1] & 0x80  # payload type 0, PCMU
        struct.pack_into(">HII", packet, rtp + 2, seq & 0xFFFF, ts & 0xFFFFFFFF, _DTMF_SSRC)
        packet[rtp + 12:] = bytes(packet[rtp + 12:]).translate(_ALAW_TO_ULAW)
        out += header + packet
        seq += 1
        ts += len(packet) - rtp - 12  # one sample per byte
    return bytes(out)


_KEEPALIVE_SSRC = 0x484C4B41
_ULAW_SILENCE = b"\xff" * 160  # 20 ms


def keepalive_recording(path: Path, seconds: int = 600, every_ms: int = 1000) -> Path:
    """A pcap of one 20 ms frame of µ-law silence every ``every_ms``, for ``seconds``: what a
    phone with voice activity detection sends while nobody speaks. SIPp plays it from the
    answer on (``play_pcap_audio``) and stops it when the call ends. Written once."""
    if path.is_file():
        return path
    out = bytearray(struct.pack("<IHHiIII", _PCAP_MAGIC_LE, 2, 4, 0, 0, 65535, _ETHERNET))
    for n in range(seconds * 1000 // every_ms):
        rtp = struct.pack(">BBHII", 0x80, 0, n & 0xFFFF, (n * every_ms * 8) & 0xFFFFFFFF,
                          _KEEPALIVE_SSRC) + _ULAW_SILENCE
        udp = struct.pack(">HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
        frame = b"\x00" * 12 + b"\x08\x00" + ip
        at_ms = n * every_ms
        out += struct.pack("<IIII", at_ms // 1000, (at_ms % 1000) * 1000, len(frame), len(frame)) + frame
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(bytes(out))
    partial.replace(path)  # another process writing the same file meanwhile is harmless
    return path
