import pytest

from hotline_link.asterisk.agi.protocol import (
    parse_reply,
    parse_request_header,
    set_variable_command,
)
from hotline_link.core.errors import AgiProtocolError

HEADER = (b"agi_network: yes\nagi_network_script: route?x=1\nagi_request: agi://127.0.0.1:4573/route?x=1\n"
          b"agi_channel: PJSIP/anonymous-00000001\nagi_uniqueid: hl12345-1.1\n"
          b"agi_callerid: 13812341234\nagi_arg_1: 12345\nagi_arg_2: extra\n")


def test_header_fields_args_and_route_without_query():
    request = parse_request_header(HEADER)
    assert request.script == "route"
    assert request.args == ("12345", "extra")
    assert request.caller == "13812341234"
    assert request.uniqueid == "hl12345-1.1"


def test_request_url_is_used_when_network_script_is_missing():
    request = parse_request_header(b"agi_request: agi://127.0.0.1:4573/route/\n")
    assert request.script == "route"


@pytest.mark.parametrize("block, reason", [
    (b"GET / HTTP/1.1\nHost: x\n", "line 1"),
    (b"agi_channel: x\n", "no agi_network_script"),
    (b"agi_network_script: r\n" + b"agi_x: " + b"y" * 20000 + b"\n", "larger than"),
])
def test_garbage_is_refused_with_a_reason(block, reason):
    with pytest.raises(AgiProtocolError, match=reason):
        parse_request_header(block)


def test_invalid_utf8_does_not_crash():
    assert parse_request_header(b"agi_network_script: r\nagi_callerid: \xff\xfe\n").script == "r"


def test_replies():
    assert parse_reply(b"200 result=1 (PJSIP/1001)\n").data == "PJSIP/1001"
    assert parse_reply("200 result=0").result == 0
    assert parse_reply("200 result=-1").ok is False
    assert parse_reply("510 Invalid or unknown command").code == 510
    with pytest.raises(AgiProtocolError):
        parse_reply("HANGUP")


def test_set_variable_refuses_injection():
    assert set_variable_command("ROUTE_TARGET", "PJSIP/1001") == 'SET VARIABLE ROUTE_TARGET "PJSIP/1001"'
    with pytest.raises(AgiProtocolError):
        set_variable_command("X", 'a"\nEXEC Hangup')
    with pytest.raises(AgiProtocolError):
        set_variable_command("X Y", "v")


def test_a_line_break_in_a_caller_id_stays_in_that_value_and_reads_as_anonymous():
    block = (b"agi_network_script: route\nagi_callerid: 1380000\nApplication: System\n"
             b"Data: touch x\nagi_uniqueid: 1.2\nagi_arg_1: 12345\n")
    request = parse_request_header(block)
    assert request.caller == "anonymous" and request.uniqueid == "1.2" and request.args == ("12345",)
    assert request.env["agi_callerid"] == "1380000\nApplication: System\nData: touch x"


def test_a_caller_id_posing_as_a_header_line_is_refused():
    block = b"agi_network_script: route\nagi_callerid: 1\nagi_network_script: feedback\nagi_arg_1: 12345\n"
    with pytest.raises(AgiProtocolError, match="repeats agi_network_script"):
        parse_request_header(block)
