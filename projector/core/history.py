"""A deployment's recent status changes, kept in the form its status document shows them.

Both types are ``bytes``: the entries are rendered once, when the change is folded, and the
document embeds them as they are (as named tuples they were most of a state's memory, and
rendering them again most of a write: docs/performance.md#memory). The types own that
layout, so nothing else splits or searches the bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from events.times import CANONICAL_LENGTH

HISTORY_LIMIT = 10
_SEPARATOR = b"\n"  # JSON text never holds a raw newline
_CHANGED_AT_KEY = b'"changed_at":"'


class StatusChange(bytes):
    """One entry of ``recent_status_changes``: its JSON object, as the document shows it."""

    __slots__ = ()

    @classmethod
    def of(
        cls, old_status: str | None, new_status: str, changed_at: str, reason: str | None
    ) -> StatusChange:
        # A copy of orjson's output: its bytes keep the buffer they were written into, sized
        # for growth, which a kept entry would pin.
        return cls(_entry(old_status, new_status, changed_at, reason))

    @property
    def changed_at(self) -> bytes:
        """The canonical time, as ASCII bytes (which compare as the times do)."""
        return _first_changed_at(self)


class History(bytes):
    """At most HISTORY_LIMIT status changes, newest ``changed_at`` first (on equal times the
    later in the log first): the entries, one per line."""

    __slots__ = ()

    @classmethod
    def of(cls, changes: Iterable[StatusChange]) -> History:
        """The history of ``changes``, given in its order."""
        return cls(_SEPARATOR.join(changes))

    @classmethod
    def from_json(cls, parsed: list[Any]) -> History:
        """The history from its JSON array (``as_json``), parsed."""
        return cls(_SEPARATOR.join(_entry_from_json(entry) for entry in parsed))

    def changes(self) -> list[StatusChange]:
        return [StatusChange(entry) for entry in self.split(_SEPARATOR)] if self else []

    def newest_changed_at(self) -> bytes:
        return _first_changed_at(self)

    def as_json(self) -> orjson.Fragment:
        """The entries as one JSON array, embedded as is wherever orjson writes it."""
        return orjson.Fragment(b"[" + self.replace(_SEPARATOR, b",") + b"]")

    def add(
        self, old_status: str | None, new_status: str, changed_at: str, reason: str | None
    ) -> History:
        """This history with the change, the latest in the log, in its place, cut to the
        newest HISTORY_LIMIT: exact, since an entry that falls out can never come back."""
        change = _entry(old_status, new_status, changed_at, reason)
        if not self:
            return History(change)
        at = changed_at.encode()
        if self.newest_changed_at() <= at:
            # The usual case, a change newer than every other: in front, the oldest cut if
            # the history is full, without splitting it (this runs for every status change).
            if self.count(_SEPARATOR) < HISTORY_LIMIT - 1:
                return History(change + _SEPARATOR + self)
            return History(change + _SEPARATOR + self[: self.rindex(_SEPARATOR)])
        changes = self.changes()
        index = 1  # a linear scan, not a sort: the change is rarely far from the front
        while index < len(changes) and changes[index].changed_at > at:
            index += 1
        if index >= HISTORY_LIMIT:
            return self
        changes.insert(index, StatusChange(change))
        return History.of(changes[:HISTORY_LIMIT])


NO_HISTORY = History()


def _first_changed_at(entries: bytes) -> bytes:
    """The first entry's ``changed_at``. Found by its key, whose pattern cannot occur inside
    a JSON string: its quotes would be escaped."""
    start = entries.index(_CHANGED_AT_KEY) + len(_CHANGED_AT_KEY)
    return entries[start : start + CANONICAL_LENGTH]


def _entry(old_status: str | None, new_status: str, changed_at: str, reason: str | None) -> bytes:
    return orjson.dumps(
        {
            "old_status": old_status,
            "new_status": new_status,
            "changed_at": changed_at,
            "reason": reason,
        }
    )


def _entry_from_json(parsed: object) -> bytes:
    if not isinstance(parsed, dict) or "changed_at" not in parsed:
        raise TypeError(f"a status change must be an object with a changed_at, not {parsed!r}")
    return orjson.dumps(parsed)
