"""Where a transfer or conference can go: names from the configured directory. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from call_control.errors import SamePlatform, UnknownTarget
from hotline_link.core.settings import SiteSettings


@dataclass(frozen=True)
class Target:
    name: str
    number: str


def resolve_target(directory: Mapping[str, str], name: str, own_intake: str) -> Target:
    number = directory.get(str(name))
    if number is None:
        known = ", ".join(sorted(directory))
        raise UnknownTarget(f"unknown target {name!r}; the directory has: {known}")
    if own_intake and number == own_intake:
        raise SamePlatform(f"the call is already on platform {own_intake}")
    return Target(str(name), number)


def receiving_platform(sites: Iterable[SiteSettings], target: Target) -> str:
    """The site whose intake the target number is (``110`` -> site ``110``), else the
    target's name: what a handover to it is recorded under."""
    return next((site.id for site in sites if site.intake == target.number), target.name)


def target_of_number(directory: Mapping[str, str], number: str) -> Target:
    """What an agent's phone dialled, named as the directory names it (``110`` is the
    directory's ``110``); a number the directory lacks is its own name."""
    name = next((name for name, known in sorted(directory.items()) if known == number), number)
    return Target(name, number)
