"""Seat skills and which seats may take a call. Pure: no I/O.

Skills (技能组) say what a seat is for: ``general`` (12345 general desk), ``police_desk``
(12345 公安专席: the desk that takes cases handed over by 110), ``intake`` (110 接警).
A call asks for skills in order of preference: a case handed over by 110 goes to a
police-desk seat if one is free, else to any general seat.
"""

from __future__ import annotations

from collections.abc import Mapping

from seat_pool.selection import SeatView, idle_longest_first

GENERAL = "general"
POLICE_DESK = "police_desk"
INTAKE = "intake"
KNOWN_SKILLS = frozenset({GENERAL, POLICE_DESK, INTAKE})


def default_skills(site_id: str, agents: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The sandbox's skills: on 12345 the first two seats are also the police desk."""
    if site_id == "110":
        return {a: (INTAKE,) for a in agents}
    return {a: (GENERAL, POLICE_DESK) if site_id == "12345" and i < 2 else (GENERAL,)
            for i, a in enumerate(agents)}


def wanted_skills(site_id: str, handed_over_from: str) -> tuple[str, ...]:
    """The skills a call asks for, most wanted first."""
    if site_id == "110":
        return (INTAKE,)
    if handed_over_from == "110":
        return (POLICE_DESK, GENERAL)
    return (GENERAL,)


def able_seats(views: list[SeatView], skills: Mapping[str, tuple[str, ...]],
               wanted: tuple[str, ...]) -> list[SeatView]:
    """Idle seats able to take the call: those with the most wanted skill first, each
    group longest-idle first. A seat with no skills listed takes any call."""
    out: list[SeatView] = []
    for skill in wanted:
        for view in idle_longest_first(views):
            if view not in out and skill in skills.get(view.seat, wanted):
                out.append(view)
    return out
