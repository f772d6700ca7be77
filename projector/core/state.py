"""The fold's state for one deployment: everything its status document is rendered from.

A slotted dataclass of named tuples and small ``bytes`` types, not pydantic models: the state
is internal (only the fold builds it, from events already validated), and the projector
copies and stores one per deployment per batch, where a model's validation and copying cost
more than the fold itself. Its parts are immutable, so copies of a state share them safely.
How it is stored is ``projector.core.stored_state``'s business.

Timestamps are kept as canonical UTC strings (``2026-11-28T12:00:00.123456Z``): fixed
width, so they sort chronologically as strings and render without re-formatting.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import NamedTuple

from projector.core.history import NO_HISTORY, History

# How many recent event ids a deployment remembers to drop producer retries. A retry
# arrives right after the original; a window keeps the state bounded for long-lived
# deployments.
DEDUP_WINDOW = 64
# Event ids are remembered as 8-byte digests: the state's size no longer depends on how long
# producers' ids are (a 64-bit digest collides with one of 64 others with odds of about 2^-58).
DIGEST_SIZE = 8


def event_digest(event_id: str) -> bytes:
    return hashlib.blake2b(event_id.encode(), digest_size=DIGEST_SIZE).digest()


# The digests of the last DEDUP_WINDOW event ids applied, newest last, packed in one bytes
# object, read and extended only by the two functions below. Plain bytes, not a type of its
# own: constructing a bytes subclass for every event applied cost measurable fold time.
RecentEvents = bytes


def remembers(recent: RecentEvents, digest: bytes) -> bool:
    """Whether ``digest`` is one of the digests packed in ``recent`` (at a digest boundary)."""
    index = recent.find(digest)
    while index != -1:
        if index % DIGEST_SIZE == 0:
            return True
        index = recent.find(digest, index + 1)
    return False


def remembering(recent: RecentEvents, digest: bytes) -> RecentEvents:
    """``recent`` with ``digest`` added, the oldest one dropped past DEDUP_WINDOW."""
    return (recent + digest)[-DEDUP_WINDOW * DIGEST_SIZE :]


NO_RECENT_EVENTS: RecentEvents = b""


class ReplicaState(NamedTuple):
    id: str
    status: str
    node_id: str | None = None
    container_id: str | None = None
    started_at: str | None = None
    stopped_at: str | None = None


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
    history: History = NO_HISTORY
    created_at: str | None = None
    updated_at: str | None = None
    events_applied: int = 0
    recent_events: RecentEvents = NO_RECENT_EVENTS
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
