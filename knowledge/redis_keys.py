"""The knowledge base's Redis keys, built in one place (prefix ``hl:knowledge:``)."""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "hl:knowledge:"


@dataclass(frozen=True)
class KnowledgeKeys:
    prefix: str = PREFIX

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
