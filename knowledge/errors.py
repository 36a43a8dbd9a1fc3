"""The knowledge base's errors: each is its HTTP answer, a status and a stable code."""

from __future__ import annotations

from hotline_link.core.errors import HttpError


class KnowledgeError(HttpError):
    status, code = 400, "bad_entry"


class BadEntry(KnowledgeError):
    """A field of an entry is wrong (its name and why)."""


class BadQuery(KnowledgeError):
    status, code = 422, "bad_query"


class NoSuchEntry(KnowledgeError):
    status, code = 404, "no_such_entry"


class EntryConflict(KnowledgeError):
    """The id is taken, the entry changed since the version the editor read, or another
    entry answers the same IVR key."""

    status, code = 409, "entry_conflict"
