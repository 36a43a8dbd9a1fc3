"""Where a transfer or conference can go: names from the configured directory. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from call_control.errors import SamePlatform, UnknownTarget


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
