"""The self-service menu's answers, from the knowledge base (知识库): the entry with
``ivr_key`` 1-4 gives the text of that key's prompt (``menu.SELF_SERVICE``: key 1 is
``answer_social_security``...) and its ``ivr_label`` the key's words in the
``self_service_menu`` prompt (…请按1). The prompt names and the dialplan's keys stay those of
``menu.py``; only what they say comes from the knowledge base.

A key whose entry is missing (the file or a supervisor removed its ``ivr_key``, or it was
retired) says ``FALLBACK_ANSWER``, which sends the caller to an agent, and keeps the menu's
own label: the menu never offers a key that plays nothing. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ivr.menu import SELF_SERVICE, SUBMENU_AGENT_KEY, Answer

FALLBACK_ANSWER = "这个问题请转人工服务咨询，转人工服务请按0。"
MENU_TAIL = "返回上一级请按星号键，转人工服务请按0。"
ANSWER_PROMPTS = frozenset({a.prompt for a in SELF_SERVICE} | {"self_service_menu"})


class IvrEntry(Protocol):
    """What the IVR reads of a knowledge entry."""

    @property
    def answer(self) -> str: ...

    @property
    def ivr_label(self) -> str: ...


def _label(answer: Answer, entry: IvrEntry | None) -> str:
    return (entry.ivr_label if entry is not None and entry.ivr_label else answer.label).strip()


def answer_prompts(entries: Mapping[str, IvrEntry]) -> dict[str, str]:
    """The texts of the self-service prompts (``self_service_menu`` and the four answers)
    from the knowledge entries by IVR key (``KnowledgeService.ivr_answers``)."""
    texts: dict[str, str] = {}
    menu = []
    for answer in SELF_SERVICE:
        entry = entries.get(answer.key)
        texts[answer.prompt] = entry.answer.strip() if entry is not None and entry.answer.strip() \
            else FALLBACK_ANSWER
        menu.append(f"{_label(answer, entry)}请按{answer.key}，")
    assert SUBMENU_AGENT_KEY == "0"  # MENU_TAIL says so
    texts["self_service_menu"] = "".join(menu) + MENU_TAIL
    return texts


def missing_keys(entries: Mapping[str, IvrEntry]) -> list[str]:
    """The self-service keys that fall back (no entry answers them)."""
    return [a.key for a in SELF_SERVICE if a.key not in entries]
