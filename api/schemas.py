"""The response schemas, for the OpenAPI document. Responses are served from stored bytes;
these models describe them (and tests check that stored documents validate against them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from events.models import DeploymentStatus, ReplicaStatus


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Replica(_Schema):
    id: str
    node_id: str | None
    status: ReplicaStatus
    container_id: str | None
    started_at: str | None
    stopped_at: str | None


class Resources(_Schema):
    cpu_cores: float
    memory_mb: int
    gpu_units: int
    storage_gb: int


class StatusChange(_Schema):
    old_status: DeploymentStatus | None
    new_status: DeploymentStatus
    changed_at: str
    reason: str | None


class StatusDocument(_Schema):
    """A deployment's status, as precomputed by the projector."""

    deployment_id: str
    name: str
    status: DeploymentStatus
    health: Literal["healthy", "degraded", "unhealthy"]
    target_replicas: int
    replicas: list[Replica]
    resources: Resources
    recent_status_changes: list[StatusChange]
    created_at: str
    updated_at: str


class ErrorDetail(_Schema):
    detail: str


class StatusListItem(_Schema):
    deployment_id: str
    name: str
    status: DeploymentStatus
    health: Literal["healthy", "degraded", "unhealthy"]
    target_replicas: int
    running_replicas: int
    updated_at: str


class HealthCounts(_Schema):
    healthy: int
    degraded: int
    unhealthy: int


class StatusList(_Schema):
    """A page of the caller's deployments, worst health first, then by name, then id."""

    items: list[StatusListItem]
    counts: HealthCounts
    next_cursor: str | None
