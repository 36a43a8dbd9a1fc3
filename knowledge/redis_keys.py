"""The knowledge base's Redis keys, built in one place (prefix ``hl:knowledge:{jurisdiction}:``).

A deployment keeps one jurisdiction's entries; keying them by it means servers of another
jurisdiction on the same Redis (a deployment that changed its jurisdiction, the sandbox's
tests) never mix their entries, their IVR keys or their histories."""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "hl:knowledge:"


@dataclass(frozen=True)
class KnowledgeKeys:
    prefix: str = PREFIX

    @classmethod
    def of(cls, jurisdiction: str) -> KnowledgeKeys:
        return cls(f"{PREFIX}{jurisdiction}:")

    def entry(self, entry_id: str) -> str:
        """The entry's current version: a hash of its fields."""
        return f"{self.prefix}entry:{entry_id}"

    def history(self, entry_id: str) -> str:
        """Its previous versions, newest first: a list of JSON records."""
        return f"{self.prefix}history:{entry_id}"

    @property
    def ids(self) -> str:
        """Every entry's id: a set."""
        return f"{self.prefix}ids"

    @property
    def revision(self) -> str:
        """A counter raised by every change: a search index older than it is rebuilt."""
        return f"{self.prefix}rev"
