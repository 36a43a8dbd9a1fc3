"""The surge IVR's menus as data, and what a key press (or silence) leads to.

Pure: no I/O. ``asterisk_conf/extensions_ivr.conf`` is written to match these tables; a
unit test reads the dialplan and checks that every key, action and prompt agrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Action(str, Enum):
    SELF_SERVICE = "self_service"  # a submenu of recorded answers to frequent questions
    CALLBACK = "callback"  # a ticket asking an agent to call the caller back
    WEB_CHANNEL = "web_channel"  # where to ask online, then back to the menu
    WAIT = "wait"  # keep waiting for an agent (back to intake, not offered the IVR again)
    EMERGENCY = "emergency"  # straight through to 110


@dataclass(frozen=True)
class MenuEntry:
    key: str
    action: Action
    label: str


@dataclass(frozen=True)
class Answer:
    """One frequent question of the self-service submenu and the prompt answering it."""

    key: str
    topic: str
    label: str
    prompt: str


MAIN_MENU: tuple[MenuEntry, ...] = (
    MenuEntry("1", Action.SELF_SERVICE, "自助查询常见问题"),
    MenuEntry("2", Action.CALLBACK, "留下电话等待回电"),
    MenuEntry("3", Action.WEB_CHANNEL, "网上办理渠道"),
    MenuEntry("0", Action.WAIT, "继续等待人工服务"),
    MenuEntry("9", Action.EMERGENCY, "紧急警情转110"),
)
SELF_SERVICE: tuple[Answer, ...] = (
    Answer("1", "social_security", "社保查询", "answer_social_security"),
    Answer("2", "housing_fund", "住房公积金提取", "answer_housing_fund"),
    Answer("3", "household_hours", "户籍业务办理时间", "answer_household_hours"),
    Answer("4", "move_car", "挪车求助", "answer_move_car"),
)
SUBMENU_BACK_KEY = "*"  # from the self-service submenu back to the main menu
SUBMENU_AGENT_KEY = "0"  # from the self-service submenu to an agent
WAIT_FOR_KEY_S = 6  # WaitExten after each menu prompt
MISSES_ALLOWED = 1  # a timeout or a wrong key repeats the menu this often, then: WAIT
# the caller who hears the menu and presses nothing wants an agent: that is the default
TIMEOUT_ACTION = Action.WAIT
EMERGENCY_TARGET = "110"


@dataclass(frozen=True)
class Decision:
    """``action`` to take, or ``repeat`` the menu (after the ``invalid`` prompt)."""

    action: Action | None
    repeat: bool = False
    misses: int = 0


def main_menu_keys() -> dict[str, Action]:
    return {entry.key: entry.action for entry in MAIN_MENU}


def decide(key: str | None, misses: int) -> Decision:
    """The main menu's answer to a key (``None``: no key before the timeout), given how
    many timeouts/wrong keys came before. Every path ends in an action: nobody is dropped."""
    action = main_menu_keys().get(key) if key else None
    if action is not None:
        return Decision(action, misses=misses)
    if misses < MISSES_ALLOWED:
        return Decision(None, repeat=True, misses=misses + 1)
    return Decision(TIMEOUT_ACTION, misses=misses + 1)


def answer_for(key: str) -> Answer | None:
    return next((a for a in SELF_SERVICE if a.key == key), None)


def prompts_used() -> frozenset[str]:
    """Every prompt name the menus need (each must exist in ``ivr.prompts.PROMPTS``)."""
    return frozenset({"menu", "invalid", "no_input", "self_service_menu", "after_answer", "web_channel",
                      "callback_done", "callback_failed", "to_agent", "goodbye",
                      "harassment_warning"} | {a.prompt for a in SELF_SERVICE})


def _check() -> None:
    keys = [e.key for e in MAIN_MENU]
    sub = [a.key for a in SELF_SERVICE] + [SUBMENU_BACK_KEY, SUBMENU_AGENT_KEY]
    if len(set(keys)) != len(keys) or len(set(sub)) != len(sub):
        raise ValueError("a menu uses one key twice")
    if main_menu_keys().get("9") is not Action.EMERGENCY:
        raise ValueError("9 must take the caller to 110")


_check()
