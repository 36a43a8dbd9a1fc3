"""What one run can leave on the sandbox for the next, read from Asterisk's CLI answers,
and the liveness timing rendered into pjsip.conf."""

import struct

import pytest

from devtools.sandbox.residue import agent_contacts, count_channels
from devtools.sip.dtmf import keepalive_recording
from hotline_link.core.errors import SandboxError
from hotline_link.core.settings import qualify_timing

CONTACTS = """
  Contact:  <Aor/ContactUri..............................> <Hash....> <Status> <RTT(ms)..>
==========================================================================================

  Contact:  1001/sip:1001@127.0.0.1:41913                  87ae18fb01 Unavail       nan
  Contact:  1001/sip:1001@127.0.0.1:50000                  87ae18fb02 Avail         0.4
  Contact:  1016/sip:1016@127.0.0.1:38000                  17ae18fb01 Avail         0.5
  Contact:  trunk-110/sip:127.0.0.1:25070                  87ae18fb01 Avail         0.626

Objects found: 4
"""


def test_agent_contacts_counts_agents_only_reachable_or_not():
    assert agent_contacts(CONTACTS, frozenset({"1001", "1002", "1016"})) == {"1001": 2, "1016": 1}
    assert agent_contacts("No objects found.\n", frozenset({"1001"})) == {}


def test_channel_count_is_read_or_refused():
    assert count_channels("1 active channel\n1 active call\n19 calls processed\n") == 1
    assert count_channels("0 active channels\n0 active calls\n0 calls processed\n") == 0
    assert count_channels("28 active channels\n14 active calls\n") == 28
    with pytest.raises(SandboxError, match="unexpected answer"):
        count_channels("Unable to connect to remote asterisk")


@pytest.mark.parametrize("liveness", [5, 6, 10, 30, 61, 3600])
def test_a_dead_contact_is_found_within_the_liveness_bound(liveness):
    frequency, timeout = qualify_timing(liveness)
    assert frequency >= 1 and 0 < timeout <= 3
    assert frequency + timeout <= liveness


def test_keepalive_recording_is_a_pcap_of_one_rtp_frame_a_second(tmp_path):
    path = keepalive_recording(tmp_path / "k.pcap", seconds=5)
    data = path.read_bytes()
    assert struct.unpack("<I", data[:4])[0] == 0xA1B2C3D4
    offset, stamps, sequences = 24, [], []
    while offset < len(data):
        sec, usec, captured, _ = struct.unpack("<IIII", data[offset:offset + 16])
        packet = data[offset + 16:offset + 16 + captured]
        rtp = packet[14 + 20 + 8:]
        assert packet[12:14] == b"\x08\x00" and packet[14 + 9] == 17  # IPv4, UDP
        assert rtp[0] == 0x80 and rtp[1] == 0 and len(rtp) == 12 + 160  # RTP v2, PCMU, 20 ms
        stamps.append(sec + usec / 1e6)
        sequences.append(struct.unpack(">H", rtp[2:4])[0])
        offset += 16 + captured
    assert stamps == [0.0, 1.0, 2.0, 3.0, 4.0] and sequences == [0, 1, 2, 3, 4]
    assert keepalive_recording(path, seconds=99) == path and path.read_bytes() == data  # written once


def test_a_seat_out_of_the_pool_is_one_paused_logged_out_or_in_wrap_up():
    from seat_pool.store import left_unready, ready_fields

    now = 1_800_000_000.0
    assert left_unready({"paused": "监听"}, now)
    assert left_unready({"logged_out": "1"}, now)
    assert left_unready({"wrap_until": repr(now + 5)}, now)
    assert not left_unready({"wrap_until": repr(now - 5), "paused": "", "logged_out": "0"}, now)
    assert not left_unready({k: str(v) for k, v in ready_fields(now).items()}, now)
