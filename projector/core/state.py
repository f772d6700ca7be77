"""The fold's state for one deployment: everything its status document is rendered from.

A slotted dataclass of named tuples (and of the recent status changes as the document's
rendered entries, see ``StatusChange``), not pydantic models: the state is internal (only the
fold builds it, from events already validated), and the projector copies and serialises
one per deployment per batch, where a model's validation and copying cost more than the
fold itself. Named tuples are immutable, so copies of a state share them safely.

Timestamps are kept as canonical UTC strings (``2026-11-28T12:00:00.123456Z``): fixed
width, so they sort chronologically as strings and render without re-formatting.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from events.times import CANONICAL_LENGTH
from projector.exceptions import IncompatibleState

HISTORY_LIMIT = 10
# How many recent event ids a deployment remembers to drop producer retries. A retry
# arrives right after the original; a window keeps the state bounded for long-lived
# deployments.
DEDUP_WINDOW = 64
# Event ids are remembered as 8-byte digests, newest last, in one bytes object: the state's
# size no longer depends on how long producers' ids are (a 64-bit digest collides with one
# of 64 others with odds of about 2^-58).
DIGEST_SIZE = 8


def event_digest(event_id: str) -> bytes:
    return hashlib.blake2b(event_id.encode(), digest_size=DIGEST_SIZE).digest()


def remembers(recent: bytes, digest: bytes) -> bool:
    """Whether ``digest`` is one of the digests packed in ``recent`` (at a digest boundary)."""
    index = recent.find(digest)
    while index != -1:
        if index % DIGEST_SIZE == 0:
            return True
        index = recent.find(digest, index + 1)
    return False


class ReplicaState(NamedTuple):
    id: str
    status: str
    node_id: str | None = None
    container_id: str | None = None
    started_at: str | None = None
    stopped_at: str | None = None


# The recent status changes are kept as the document's entries, rendered once (JSON objects,
# newest first, one per line: JSON text never holds a raw newline) in one bytes object: as
# named tuples they were most of a state's memory (docs/performance.md#memory). The document
# embeds them as they are.
StatusChange = bytes
ENTRY_SEPARATOR = b"\n"
CHANGED_AT_KEY = b'"changed_at":"'
TIME_LENGTH = CANONICAL_LENGTH


def status_change(
    old_status: str | None, new_status: str, changed_at: str, reason: str | None
) -> StatusChange:
    return _kept(
        orjson.dumps(
            {
                "old_status": old_status,
                "new_status": new_status,
                "changed_at": changed_at,
                "reason": reason,
            }
        )
    )


def changed_at(entry: StatusChange) -> bytes:
    """The entry's ``changed_at``, as ASCII bytes. Found by its key: the key's pattern cannot
    occur inside a JSON string, where its quotes would be escaped."""
    start = entry.index(CHANGED_AT_KEY) + len(CHANGED_AT_KEY)
    return entry[start : start + TIME_LENGTH]


class ResourcesState(NamedTuple):
    cpu_cores: float = 0.0
    memory_mb: int = 0
    gpu_units: int = 0
    storage_gb: int = 0


NO_RESOURCES = ResourcesState()


@dataclass(slots=True)
class DeploymentState:
    """Mutable only inside ``projector.core.fold``, on a copy of its own (``copy()``): every other
    holder of a state treats it as a value."""

    deployment_id: str
    created: bool = False
    deleted: bool = False
    owner: str | None = None
    name: str | None = None
    status: str | None = None
    target_replicas: int = 0
    resources: ResourcesState = NO_RESOURCES
    replicas: tuple[ReplicaState, ...] = ()
    history: bytes = b""  # entries (see StatusChange), newest first, at most HISTORY_LIMIT
    created_at: str | None = None
    updated_at: str | None = None
    events_applied: int = 0
    recent_events: bytes = b""  # digests of the last DEDUP_WINDOW event ids, newest last
    # Offset of the last record folded into this state (its partition is fixed by the key);
    # -1 before any. Stored with the state so a redelivered record is recognised and skipped.
    position: int = -1

    @property
    def served(self) -> bool:
        """Whether the status endpoint serves this deployment."""
        return self.created and not self.deleted

    def copy(self) -> DeploymentState:
        # Positional and by hand: several times cheaper than dataclasses.replace or copy.copy.
        return DeploymentState(
            self.deployment_id,
            self.created,
            self.deleted,
            self.owner,
            self.name,
            self.status,
            self.target_replicas,
            self.resources,
            self.replicas,
            self.history,
            self.created_at,
            self.updated_at,
            self.events_applied,
            self.recent_events,
            self.position,
        )

    def to_json(self) -> bytes:
        """JSON with the value objects as arrays (compact, and several times faster to write
        and read than objects) and the history's entries as the objects they are."""
        return orjson.dumps(
            {
                "deployment_id": self.deployment_id,
                "created": self.created,
                "deleted": self.deleted,
                "owner": self.owner,
                "name": self.name,
                "status": self.status,
                "target_replicas": self.target_replicas,
                "resources": tuple(self.resources),
                "replicas": [tuple(r) for r in self.replicas],
                "history": history_json(self.history),
                "created_at": self.created_at,
                "updated_at": self.updated_at,
                "events_applied": self.events_applied,
                "recent_events": base64.b64encode(self.recent_events).decode(),
                "position": self.position,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> DeploymentState:
        return cls.from_parsed(orjson.loads(raw))

    @classmethod
    def from_parsed(cls, obj: dict[str, Any]) -> DeploymentState:
        """``from_json`` of JSON already parsed (the dict is consumed)."""
        try:
            obj["resources"] = ResourcesState(*obj["resources"])
            obj["replicas"] = tuple(ReplicaState(*r) for r in obj["replicas"])
            obj["history"] = history_from_json(obj["history"])
            obj["recent_events"] = base64.b64decode(obj["recent_events"])
            return cls(**obj)
        except (KeyError, TypeError, ValueError) as exc:
            raise IncompatibleState(
                f"the stored fold state of deployment {obj.get('deployment_id')!r} is not in "
                f"this version's format ({exc!r}): it was written by an older deploystatus. "
                "Build a new generation with this version (`deploystatus rebuild`, see "
                "README: Upgrading) before running its projectors."
            ) from None


def history_entries(history: bytes) -> list[StatusChange]:
    return history.split(ENTRY_SEPARATOR) if history else []


def history_json(history: bytes) -> orjson.Fragment:
    """The entries as one JSON array, embedded as is wherever orjson writes it."""
    return orjson.Fragment(b"[" + history.replace(ENTRY_SEPARATOR, b",") + b"]")


def history_from_json(entries: list[Any]) -> bytes:
    """The history from its JSON form (``history_json``, parsed)."""
    return _kept(ENTRY_SEPARATOR.join(_history_entry(entry) for entry in entries))


def _history_entry(stored: object) -> StatusChange:
    if not isinstance(stored, dict) or "changed_at" not in stored:
        raise TypeError(f"a history entry must be an object with a changed_at, not {stored!r}")
    return orjson.dumps(stored)


def _kept(written: bytes) -> bytes:
    """A copy of orjson's output to keep. orjson's bytes keep the buffer they were written
    into, sized for growth, so a small kept entry can pin a large buffer
    (docs/performance.md#memory). (``bytes()`` of a bytes object, or a join of one, would be
    the object itself.)"""
    return bytes(memoryview(written))
