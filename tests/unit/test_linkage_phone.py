"""Asking by phone, the pure part: prompts, the attempt plan, AMI events -> outcomes."""

from __future__ import annotations

import pytest

from hotline_link.asterisk.ami.manager import AmiEvent
from linkage.phone import (
    CALLBACK_KEYS,
    PROMPTS,
    Outcome,
    ask_prompts,
    callback_prompt,
    category_prompt_name,
    digits_of,
    dispatch_numbers,
    dispatch_prompt,
    next_step,
    outcome_of,
    overdue_prompt,
    shipped_categories,
)


def test_the_ticket_number_is_read_digit_by_digit_between_the_intro_and_press_1():
    files = dispatch_prompt("12345-20261124-000107").split("&")
    assert files[0] == "hl/ask/dispatch_intro" and files[-1] == "hl/ask/dispatch_press"
    assert files[1:-1] == [f"hl/ask/digit_{d}" for d in "20261124000107"]
    assert digits_of("110-20261124-000002") == "20261124000002"


def test_every_sound_the_calls_play_is_a_synthesised_prompt():
    categories = shipped_categories()
    installed = ask_prompts(categories)
    prompts = [dispatch_prompt("12345-20261124-000001"), callback_prompt(),
               *(dispatch_prompt("12345-20261124-000001", c, categories) for c in sorted(categories)),
               *(overdue_prompt(kind, "110-20261124-000002", stage)
                 for kind in ("reminder", "escalation") for stage in ("accept", "arrive", "result"))]
    for prompt in prompts:
        for name in prompt.split("&"):
            assert name.removeprefix("hl/ask/") in installed, name
    assert all(PROMPTS[f"digit_{d}"] for d in range(10))
    assert "公共设施类" in categories and installed[category_prompt_name("公共设施类")] == "类别，公共设施类。"


def test_a_reminder_or_an_escalation_is_done_on_key_1_only():
    numbers = ["77010", "78010"]
    for kind in ("reminder", "escalation"):
        assert next_step(kind, numbers, 0, Outcome("key", "1"), 5.0, 60).answer == "acknowledged"
        assert next_step(kind, numbers, 0, Outcome("key", "2"), 5.0, 60).action == "retry"
        assert next_step(kind, numbers, 1, Outcome("nokey"), 5.0, 60).action == "exhausted"


def test_the_duty_line_is_tried_twice_then_the_backup():
    assert dispatch_numbers("77009", "78009") == ["77009", "77009", "78009"]
    assert dispatch_numbers("77009", "") == ["77009", "77009"]
    assert dispatch_numbers("77009", "77009", tries_each=1) == ["77009"]


def test_key_1_accepts_a_dispatch_anything_else_moves_on_then_gives_up():
    numbers = ["77009", "77009", "78009"]
    done = next_step("dispatch", numbers, 0, Outcome("key", "1"), 100.0, 30.0)
    assert (done.action, done.answer) == ("done", "accepted")
    for outcome in (Outcome("key", "2"), Outcome("nokey"), Outcome("unanswered", status="NOANSWER"),
                    Outcome("failed")):
        step = next_step("dispatch", numbers, 0, outcome, 100.0, 30.0)
        assert (step.action, step.attempt, step.at) == ("retry", 1, 130.0)
    assert next_step("dispatch", numbers, 1, Outcome("nokey"), 100.0, 30.0).attempt == 2
    assert next_step("dispatch", numbers, 2, Outcome("unanswered"), 100.0, 30.0).action == "exhausted"


@pytest.mark.parametrize("key", sorted(CALLBACK_KEYS))
def test_a_callback_records_the_satisfaction_key(key):
    step = next_step("callback", ["13900001234"] * 2, 0, Outcome("key", key), 0.0, 60.0)
    assert step.action == "done" and step.answer == CALLBACK_KEYS[key]
    assert next_step("callback", ["13900001234"] * 2, 1, Outcome("key", "9"), 0.0, 60.0).action == "exhausted"


def _event(**fields):
    return AmiEvent("12345", "UserEvent", {"UserEvent": "HotlineAsk", **fields})


def test_user_events_become_outcomes_and_foreign_or_bad_ones_are_ignored():
    assert outcome_of(_event(Ask="ask1", Stage="key", Key="1")) == ("ask1", Outcome("key", "1"))
    assert outcome_of(_event(Ask="ask1", Stage="unanswered", Status="BUSY")) == \
        ("ask1", Outcome("unanswered", status="BUSY"))
    assert outcome_of(_event(Ask="ask1", Stage="nokey")) == ("ask1", Outcome("nokey"))
    assert outcome_of(_event(Ask="ask1", Stage="key", Key="12")) is None
    assert outcome_of(_event(Ask="", Stage="key", Key="1")) is None
    assert outcome_of(_event(Ask="ask1", Stage="weird")) is None
    assert outcome_of(AmiEvent("12345", "UserEvent", {"UserEvent": "HotlineIvr", "Stage": "entered"})) is None
