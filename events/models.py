"""The event contract: CloudEvents 1.0 (structured JSON mode), one model per event type.

The Kafka record key and the ``subject`` attribute are both the deployment id.
Unknown extra fields (CloudEvents extensions, newer data fields) are ignored so that
producers can evolve the contract without breaking the projector.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

DeploymentStatus = Literal["pending", "scheduled", "running", "stopped", "failed"]
ReplicaStatus = Literal["pending", "starting", "running", "stopped", "failed"]

# Counts are 64-bit on the wire: a larger one is refused here rather than accepted and then
# unwritable by the projector (orjson, like most JSON stacks, stops at 64 bits).
INT64_MAX = 2**63 - 1
NonNegativeInt = Annotated[int, Field(ge=0, le=INT64_MAX, strict=True)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
NonEmptyStr = Annotated[str, Field(min_length=1)]


def _in_utc_range(value: datetime) -> datetime:
    # The projector keeps times in UTC: 0001-01-01T00:00:00+01:00 has no UTC form.
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time has no UTC form (out of range)") from None
    return value


Time = Annotated[AwareDatetime, AfterValidator(_in_utc_range)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Resources(_Model):
    cpu_cores: NonNegativeFloat = 0.0
    memory_mb: NonNegativeInt = 0
    gpu_units: NonNegativeInt = 0
    storage_gb: NonNegativeInt = 0


class DeploymentCreatedData(_Model):
    user_id: uuid.UUID
    name: str
    target_replicas: NonNegativeInt
    status: DeploymentStatus = "pending"
    resources: Resources | None = None


class DeploymentScaledData(_Model):
    target_replicas: NonNegativeInt


class DeploymentStatusChangedData(_Model):
    new_status: DeploymentStatus
    old_status: DeploymentStatus | None = None
    reason: str | None = None


class ResourcesAllocatedData(Resources):
    cpu_cores: NonNegativeFloat
    memory_mb: NonNegativeInt
    gpu_units: NonNegativeInt
    storage_gb: NonNegativeInt


class DeploymentDeletedData(_Model):
    pass


class ReplicaStatusChangedData(_Model):
    """Absent fields keep their value in the view; ``model_fields_set`` tells which were given."""

    replica_id: uuid.UUID
    status: ReplicaStatus
    node_id: uuid.UUID | None = None
    container_id: str | None = None
    started_at: Time | None = None
    stopped_at: Time | None = None


class ReplicaRemovedData(_Model):
    replica_id: uuid.UUID


class _CloudEvent(_Model):
    specversion: Literal["1.0"]
    id: NonEmptyStr
    source: NonEmptyStr
    subject: uuid.UUID
    time: Time
    datacontenttype: Literal["application/json"] | None = None

    @cached_property
    def deployment_id(self) -> str:
        """The canonical (lower-case, hyphenated) deployment id (formatted once: the codec
        and the projector both ask for it)."""
        return str(self.subject)


class DeploymentCreated(_CloudEvent):
    type: Literal["deployment.created"]
    data: DeploymentCreatedData


class DeploymentScaled(_CloudEvent):
    type: Literal["deployment.scaled"]
    data: DeploymentScaledData


class DeploymentStatusChanged(_CloudEvent):
    type: Literal["deployment.status_changed"]
    data: DeploymentStatusChangedData


class DeploymentResourcesAllocated(_CloudEvent):
    type: Literal["deployment.resources_allocated"]
    data: ResourcesAllocatedData


class DeploymentDeleted(_CloudEvent):
    type: Literal["deployment.deleted"]
    data: DeploymentDeletedData = DeploymentDeletedData()


class ReplicaStatusChanged(_CloudEvent):
    type: Literal["replica.status_changed"]
    data: ReplicaStatusChangedData


class ReplicaRemoved(_CloudEvent):
    type: Literal["replica.removed"]
    data: ReplicaRemovedData


Event = Annotated[
    DeploymentCreated
    | DeploymentScaled
    | DeploymentStatusChanged
    | DeploymentResourcesAllocated
    | DeploymentDeleted
    | ReplicaStatusChanged
    | ReplicaRemoved,
    Field(discriminator="type"),
]

# Each event type's model (its ``type`` literal is the key).
MODELS: dict[str, type[_CloudEvent]] = {
    "deployment.created": DeploymentCreated,
    "deployment.scaled": DeploymentScaled,
    "deployment.status_changed": DeploymentStatusChanged,
    "deployment.resources_allocated": DeploymentResourcesAllocated,
    "deployment.deleted": DeploymentDeleted,
    "replica.status_changed": ReplicaStatusChanged,
    "replica.removed": ReplicaRemoved,
}
EVENT_TYPES: tuple[str, ...] = tuple(MODELS)

event_adapter: TypeAdapter[Event] = TypeAdapter(Event)


def new_event(
    type: str,
    subject: str | uuid.UUID,
    data: dict[str, Any] | None = None,
    *,
    source: str = "deploystatus",
    time: datetime | None = None,
    id: str | None = None,
) -> Event:
    """Build and validate an event; ``time`` defaults to now and ``id`` to a fresh uuid."""
    return event_adapter.validate_python(
        {
            "specversion": "1.0",
            "id": id or str(uuid.uuid4()),
            "source": source,
            "type": type,
            "subject": str(subject),
            "time": time or datetime.now(UTC),
            "datacontenttype": "application/json",
            "data": data or {},
        }
    )
