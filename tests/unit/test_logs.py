import io
import json

import pytest
import structlog

from hotline_link.core.logs import configure_logging, mask_number


@pytest.mark.parametrize("raw, masked", [
    ("13812341234", "138****1234"),
    ("+8613812341234", "+86*******1234"),
    ("02588881234", "025****1234"),
    ("110", "110"), ("12345", "12345"), ("anonymous", "anonymous"),
])
def test_mask_number(raw, masked):
    assert mask_number(raw) == masked


def test_log_line_is_json_with_masked_caller_and_no_secret():
    out = io.StringIO()
    configure_logging("info", stream=out)
    with structlog.contextvars.bound_contextvars(call_id="hl12345-1.2", site="12345"):
        structlog.get_logger().info("call.started", caller="13812341234", secret="hunter2")
    line = json.loads(out.getvalue())
    assert line["event"] == "call.started"
    assert line["call_id"] == "hl12345-1.2" and line["site"] == "12345"
    assert line["caller"] == "138****1234"
    assert line["secret"] == "[redacted]"
    assert "hunter2" not in out.getvalue() and "13812341234" not in out.getvalue()


def test_numbers_inside_other_text_are_masked_but_ids_and_sequences_are_not():
    """An outbound call's channel and exten carry the called number (dispatch, 回访)."""
    out = io.StringIO()
    configure_logging("info", stream=out)
    structlog.get_logger().info("call.started", call_id="hl12345-1795557597.86", dialled="13812341234",
                                feedback_line="123459",
                                channel="Local/13812341234@hotline-ask-out-0000001a;1",
                                error="no answer from 051212345678", ticket_id="12345-20261124-000007",
                                answered_by="PJSIP/1016-00000042", caller_id="02588881234")
    line = json.loads(out.getvalue())
    assert "13812341234" not in out.getvalue() and "051212345678" not in out.getvalue()
    assert line["dialled"] == "138****1234" and line["caller_id"] == "025****1234"
    assert line["channel"] == "Local/138****1234@hotline-ask-out-0000001a;1"
    assert line["error"] == "no answer from 051*****5678"
    assert line["call_id"] == "hl12345-1795557597.86" and line["ticket_id"] == "12345-20261124-000007"
    assert line["answered_by"] == "PJSIP/1016-00000042"
    assert line["feedback_line"] == "123459"  # a service number is no caller's


@pytest.mark.parametrize("key, raw, masked", [
    ("dialled", "88881234", "888*1234"),  # a local number without its area code
    ("dialled", "123459", "123459"),
    ("channel", "Local/88881234@hotline-ask-out-0000001a;1", "Local/888*1234@hotline-ask-out-0000001a;1"),
    ("error", "caller +8613812341234 hung up", "caller +86*******1234 hung up"),
    ("error", "caller 008613812341234 hung up", "caller 008********1234 hung up"),
    ("error", "action ask01234567890abcdef failed", "action ask01234567890abcdef failed"),  # a hex id
])
def test_what_a_call_dials_and_prefixed_numbers_are_masked(key, raw, masked):
    out = io.StringIO()
    configure_logging("info", stream=out)
    structlog.get_logger().info("phone.originated", **{key: raw})
    assert json.loads(out.getvalue())[key] == masked


def test_debug_is_filtered_at_info():
    out = io.StringIO()
    configure_logging("info", stream=out)
    structlog.get_logger().debug("noise")
    assert out.getvalue() == ""


def test_a_caller_number_inside_an_exception_is_masked():
    import io
    import json

    import structlog

    from hotline_link.core.logs import configure_logging

    out = io.StringIO()
    configure_logging("info", stream=out)
    try:
        raise ValueError("no seat for caller 13812345678 (landline 051212345678)")
    except ValueError:
        structlog.get_logger("t").exception("route.failed")
    text = json.loads(out.getvalue())["exception"]
    assert "13812345678" not in text and "051212345678" not in text
    assert "138****5678" in text


def test_without_a_stream_lines_go_to_the_stdout_of_the_moment(monkeypatch):
    """The CLI configures logging once; a stdout replaced later (and the old one closed, as
    pytest does with a test's captured output) must not make logging fail."""
    import sys

    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", first)
    configure_logging("info")
    structlog.get_logger().info("first.line")
    assert json.loads(first.getvalue())["event"] == "first.line"
    first.close()
    monkeypatch.setattr(sys, "stdout", second)
    structlog.get_logger().info("second.line")
    assert json.loads(second.getvalue())["event"] == "second.line"



def test_numbers_inside_nested_values_grouped_or_international_are_masked():
    from hotline_link.core.logs import mask_numbers, mask_numbers_in_text

    line = mask_numbers(None, "info", {"event": "ticket.updated", "changes": {"summary": "回电 13812345678"},
                                       "callers": ["13812345678", {"caller": "13912345678"}]})
    assert line["changes"] == {"summary": "回电 138****5678"}
    assert line["callers"] == ["138****5678", {"caller": "139****5678"}]
    for text, masked in [("call 138 1234 5678 now", "call 138 **** 5678 now"),
                         ("call 138-1234-5678", "call 138-****-5678"),
                         ("+1 415 555 0100 called", "+1 41* *** 0100 called"),
                         ("from +14155550100", "from +141****0100"),
                         ("0513-8123 4567", "051*-**** 4567")]:
        assert mask_numbers_in_text(text) == masked, text
    for text in ("2026-12-06 19:41:43", "ticket 110-20261206-000001", "port 25060 and 4573", "v1.2.3"):
        assert mask_numbers_in_text(text) == text


def test_standard_library_loggers_go_through_the_same_masking_and_redaction(capsys):
    import logging

    configure_logging("info")
    logging.getLogger("aiohttp.test").warning("peer 13812345678 sent %s", "x", extra={"password": "hunter2"})
    err = capsys.readouterr().err
    assert "13812345678" not in err and "138****5678" in err and "hunter2" not in err
