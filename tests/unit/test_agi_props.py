"""Property tests of the AGI wire format: whatever a FastAGI peer sends, the parser answers
with a request or an ``AgiProtocolError``, never another exception."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from hotline_link.asterisk.agi.protocol import (
    MAX_HEADER_BYTES,
    parse_reply,
    parse_request_header,
    set_variable_command,
)
from hotline_link.core.errors import AgiProtocolError

BOUNDED = settings(max_examples=300, deadline=None)
_KEYS = st.from_regex(r"agi_[a-z0-9_]{1,12}", fullmatch=True)
# values as Asterisk would send them: one line, any text but a line break
_VALUES = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=40)


@BOUNDED
@given(st.binary(max_size=MAX_HEADER_BYTES + 64))
def test_any_bytes_give_a_request_or_a_protocol_error(block):
    try:
        request = parse_request_header(block)
    except AgiProtocolError:
        return
    assert "agi_network_script" in request.env or "agi_request" in request.env
    assert isinstance(request.script, str)


@BOUNDED
@given(st.lists(st.sampled_from(["agi_network_script: route", "agi_request: agi://h/route?x",
                                 "agi_arg_1: a", "agi_callerid: 138", "agi: x", "no colon", "",
                                 "agi_x:", "AGI_UPPER: 1", "agi_ok:  two spaces", "\x00", "\udcff"]),
                max_size=12), st.sampled_from(["\n", "\r\n"]))
def test_lines_mixing_good_and_bad_never_crash(lines, eol):
    try:
        parse_request_header(eol.join(lines).encode("utf-8", "surrogatepass"))
    except AgiProtocolError:
        pass


@BOUNDED
@given(st.dictionaries(_KEYS, _VALUES, max_size=15), st.lists(_VALUES, max_size=5),
       st.sampled_from(["\n", "\r\n"]))
def test_a_well_formed_header_round_trips(env, args, eol):
    env = {**env, "agi_network_script": "route"}
    env = {k: v for k, v in env.items() if not k.startswith("agi_arg_")}
    env.update({f"agi_arg_{i}": a for i, a in enumerate(args, start=1)})
    block = "".join(f"{k}: {v}{eol}" for k, v in env.items()) + eol
    request = parse_request_header(block.encode("utf-8"))
    # a value keeps everything after the one space Asterisk puts after the colon
    assert request.env == env  # whichever line ending Asterisk used
    assert request.args == tuple(args)
    assert request.script == "route"


@BOUNDED
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_any_reply_line_gives_a_reply_or_a_protocol_error(line):
    try:
        reply = parse_reply(line)
    except AgiProtocolError:
        return
    assert 0 <= reply.code <= 999


@BOUNDED
@given(st.integers(100, 599), st.one_of(st.none(), st.integers(-10**6, 10**6)),
       st.text(st.characters(blacklist_characters="()\r\n", blacklist_categories=("Cs",)), max_size=20))
def test_reply_fields_round_trip(code, result, data):
    line = f"{code} result={result} ({data})\n" if result is not None else f"{code} ({data})\n"
    reply = parse_reply(line)
    assert reply.code == code and reply.result == result and reply.data == data


@BOUNDED
@given(st.text(max_size=20), st.text(max_size=60))
def test_set_variable_is_one_safe_command_or_refused(name, value):
    try:
        command = set_variable_command(name, value)
    except AgiProtocolError:
        return
    assert "\n" not in command and "\r" not in command
    assert command.count('"') == 2 and "\\" not in command
    assert re.fullmatch(r"SET VARIABLE [A-Za-z_][A-Za-z0-9_]* \"[^\"]*\"", command)
