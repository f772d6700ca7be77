"""The fold's state for one deployment: everything its status document is rendered from.

Timestamps are kept as canonical UTC strings (``2026-11-28T12:00:00.123456Z``): fixed
width, so they sort chronologically as strings and render without re-formatting.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

HISTORY_LIMIT = 10
# How many recent event ids a deployment remembers to drop producer retries. A retry
# arrives right after the original; a window keeps the state bounded for long-lived
# deployments.
DEDUP_WINDOW = 64


def format_time(value: datetime) -> str:
    """Canonical RFC 3339 form of an aware datetime: UTC, microseconds, ``Z``."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReplicaState(_Frozen):
    id: str
    node_id: str | None = None
    status: str
    container_id: str | None = None
    started_at: str | None = None
    stopped_at: str | None = None


class StatusChange(_Frozen):
    old_status: str | None
    new_status: str
    changed_at: str
    reason: str | None
    seq: int  # log order within the deployment: breaks ties between equal changed_at


class ResourcesState(_Frozen):
    cpu_cores: float = 0.0
    memory_mb: int = 0
    gpu_units: int = 0
    storage_gb: int = 0


class DeploymentState(_Frozen):
    deployment_id: str
    created: bool = False
    deleted: bool = False
    owner: str | None = None
    name: str | None = None
    status: str | None = None
    target_replicas: int = 0
    resources: ResourcesState = ResourcesState()
    replicas: tuple[ReplicaState, ...] = ()
    history: tuple[StatusChange, ...] = ()  # newest first, at most HISTORY_LIMIT
    created_at: str | None = None
    updated_at: str | None = None
    events_applied: int = 0
    recent_event_ids: tuple[str, ...] = ()
    # Offset of the last record folded into this state (its partition is fixed by the key);
    # -1 before any. Stored with the state so a redelivered record is recognised and skipped.
    position: int = -1

    @property
    def served(self) -> bool:
        """Whether the status endpoint serves this deployment."""
        return self.created and not self.deleted

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> DeploymentState:
        return cls.model_validate_json(raw)
