"""The exchange channel's Redis key names, built in exchange.redis_keys, are the stored
data's names: they never change (what Redis holds would be orphaned)."""

from __future__ import annotations

import fnmatch

from exchange import redis_keys


def test_the_exchange_keys_keep_their_names():
    assert redis_keys.PREFIX == "hl:exchange:"
    assert (redis_keys.APPLIED, redis_keys.APPLIED_GROUP, redis_keys.APPLIED_DEAD) == (
        "hl:exchange:applied", "appliers", "hl:exchange:applied-dead")
    assert redis_keys.inbox_stream_key("110", "110-20261124-000031") == \
        "hl:exchange:in:stream:110:110-20261124-000031"
    assert (redis_keys.OUTBOX_DUE, redis_keys.OUTBOX_BACKLOG, redis_keys.OUTBOX_STOPPED) == (
        "hl:exchange:out:due", "hl:exchange:out:backlog", "hl:exchange:out:stopped")
    assert redis_keys.outbox_queue_key("110", "12345-20261124-000017") == \
        "hl:exchange:out:queue:110:12345-20261124-000017"
    assert redis_keys.outbox_message_key("ab" * 16) == f"hl:exchange:out:message:{'ab' * 16}"
    assert redis_keys.stopped_field("110", "12345-20261124-000017") == "110:12345-20261124-000017"
    assert redis_keys.LOG == "hl:exchange:log"
    assert redis_keys.about_key("12345-20261124-000017") == "hl:exchange:about:12345-20261124-000017"
    assert redis_keys.about_stream_key("110", "110-20261124-000031") == \
        "hl:exchange:about-stream:110:110-20261124-000031"
    assert redis_keys.linked_key("12345-20261124-000017") == "hl:exchange:linked:12345-20261124-000017"
    assert (redis_keys.CASES, redis_keys.CASES_BACKFILLED) == ("hl:exchange:cases", "hl:exchange:cases-backfilled")
    assert redis_keys.day_key("2026-11-24") == "hl:exchange:days:2026-11-24"
    assert (redis_keys.DAYS_SINCE, redis_keys.DAYS_SINCE_MEMBER) == ("hl:exchange:days-since", "first")


def test_the_audit_pattern_matches_every_audit_index_and_nothing_else():
    about = [redis_keys.about_key("12345-20261124-000017"), redis_keys.about_stream_key("110", "t")]
    others = [redis_keys.linked_key("t"), redis_keys.CASES, redis_keys.LOG, redis_keys.opened_key("m")]
    assert [fnmatch.fnmatchcase(key, redis_keys.ABOUT_PATTERN) for key in about + others] == \
        [True, True, False, False, False, False]


def test_every_exchange_key_is_under_the_prefix():
    not_keys = ("APPLIED_GROUP", "DAYS_SINCE_MEMBER")  # a group's name, a member's
    names = [value for name, value in vars(redis_keys).items() if name.isupper() and name not in not_keys]
    built = [redis_keys.inbox_stream_key("110", "t"), redis_keys.outbox_queue_key("110", "t"),
             redis_keys.outbox_message_key("m"), redis_keys.about_key("t"), redis_keys.about_stream_key("110", "t"),
             redis_keys.linked_key("t"), redis_keys.day_key("2026-11-24")]
    assert names and all(key.startswith(redis_keys.PREFIX) for key in names + built)
