"""The Redis key names of tickets and the closed loop, each built in its capability's one
place, are the stored data's names: they never change (what Redis holds would be orphaned)."""

from __future__ import annotations

import hashlib

from linkage.redis_keys import LinkageKeys
from linkage.repeats import number_key, place_key
from tickets import outbox, redis_keys, timeline


def test_the_tickets_keys_keep_their_names():
    assert redis_keys.ticket_key("12345-20261124-000007") == "hl:ticket:12345-20261124-000007"
    assert redis_keys.ticket_key("12345-*") == "hl:ticket:12345-*"  # a SCAN pattern
    assert redis_keys.call_ticket_key("c1") == "hl:call-ticket:c1"
    assert redis_keys.ticket_seq_key("110", "20261124") == "hl:ticket-seq:110:20261124"
    assert redis_keys.handed_over_key("t") == "hl:handed-over:t"
    assert redis_keys.handover_sent_key("t") == "hl:handover-sent:t"
    assert redis_keys.timeline_call_key("c1") == timeline.call_key("c1") == "hl:timeline:call:c1"
    assert redis_keys.timeline_ticket_key("t") == timeline.ticket_key("t") == "hl:timeline:ticket:t"
    assert redis_keys.ticket_calls_key("t") == "hl:ticket-calls:t"
    assert redis_keys.timeline_once_key("c1", "call.started") == "hl:timeline:once:c1:call.started"
    assert redis_keys.open_calls_key("12345") == timeline.open_calls_key("12345") == "hl:calls:open-since:12345"
    assert (outbox.DUE, outbox.DEAD, outbox.DEAD_AT) == ("hl:outbox:due", "hl:outbox:dead", "hl:outbox:dead-at")
    assert redis_keys.outbox_job_key("j") == outbox.job_key("j") == "hl:outbox:job:j"
    assert redis_keys.push_stats_key("110") == "hl:stats:push:110"
    assert redis_keys.push_received_key("p") == "hl:push-received:p"


def test_the_closed_loops_keys_keep_their_names():
    keys = LinkageKeys()
    assert keys.prefix == "hl:linkage:"
    assert keys.dispatch("t") == "hl:linkage:dispatch:t"
    assert keys.events == "hl:linkage:events"
    assert (keys.due, keys.deadline("t|accept"), keys.flags) == (
        "hl:linkage:due", "hl:linkage:deadline:t|accept", "hl:linkage:flags")
    assert (keys.phone_due, keys.phone("t|reminder"), keys.ask("a1"), keys.ask_claimed("a1")) == (
        "hl:linkage:phone-due", "hl:linkage:phone:t|reminder", "hl:linkage:ask:a1", "hl:linkage:ask-claimed:a1")
    assert keys.callback_optout == "hl:linkage:callback-optout"
    assert keys.repeat_count("t") == "hl:linkage:repeat-count:t"
    assert keys.repeat_number("12345", "13800001111") == number_key("hl:linkage:", "12345", "13800001111")
    assert keys.repeat_number("12345", "anonymous") is None
    assert keys.repeat_place("12345", "320681", "供水") == place_key("hl:linkage:", "12345", "320681", "供水")
    assert keys.feedback_attempts("QD-WATER") == "hl:linkage:feedback-attempts:QD-WATER"
    digest = hashlib.sha256(b"hl-feedback:0513777010").hexdigest()[:24]
    assert keys.feedback_caller_failures("0513777010") == f"hl:linkage:feedback-caller-failures:{digest}"
    assert keys.feedback_lock_alert("QD-WATER") == "hl:linkage:feedback-lock-alert:QD-WATER"
    assert keys.voice_notes("t") == "hl:linkage:voice-notes:t"


def test_a_test_or_benchmark_prefix_holds_every_loop_key():
    keys = LinkageKeys("hltest:abc:linkage:")
    assert keys.dispatch("t") == "hltest:abc:linkage:dispatch:t"
    assert keys.repeat_number("12345", "13800001111").startswith("hltest:abc:linkage:repeat:number:12345:")
