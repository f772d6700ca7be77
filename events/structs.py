"""The projector's fast decoder: the contract's events as msgspec Structs.

``events.models`` is the contract; this module mirrors it for one job, decoding records in
the projector's hot path, where pydantic's validation and the two models it builds per event
were the largest share of an event's CPU (docs/performance.md#cpu). The mirror is
deliberately narrower than the contract, never wider: whatever it refuses goes to the
contract's own decoder (``events.codec``), which accepts it or names the reason it is
invalid. So a record the mirror accepts must be one the contract accepts, with the same
values; the equivalence is tested field by field (name, requiredness, type, bounds) and on
generated and mutated records (tests/unit/test_structs.py).

Each Struct answers what the fold reads exactly as its model does: the same attribute names,
``model_fields_set`` where the fold asks which fields were given, and the defaults of fields
left out. Times differ in form only: they are kept as the canonical UTC text the fold
renders (``events.times``), which the fold takes as it is.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, ClassVar, Literal, get_args

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType, field

from events.models import INT64_MAX, DeploymentStatus, ReplicaStatus
from events.times import CANONICAL_LENGTH, format_time

NonNegativeInt = Annotated[int, Meta(ge=0, le=INT64_MAX)]
# The contract refuses infinities; msgspec reads an overflowing number (1e400) as one.
NonNegativeFloat = Annotated[float, Meta(ge=0, le=1.7976931348623157e308)]
NonEmptyStr = Annotated[str, Meta(min_length=1)]
# RFC 3339 with at most microseconds: the contract's parser truncates longer fractions and
# msgspec's rounds them, so those (and every other spelling) take the contract's path.
# Checked in ``_time`` rather than as a msgspec pattern, which was slower per event.
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)", re.ASCII)
_to_datetime = msgspec.json.Decoder(datetime)


def _canonical_shape(text: str) -> bool:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` with anything in the digits' places."""
    return (
        text[4] == text[7] == "-"
        and text[10] == "T"
        and text[13] == text[16] == ":"
        and text[19] == "."
        and text[26] == "Z"
    )


def _time(text: str) -> str:
    """The canonical form of an event time, checked to be a real instant (not 2026-13-45).
    Raises ``ValueError`` (a decoding error, for msgspec) for anything else."""
    if len(text) == CANONICAL_LENGTH and text.isascii() and _canonical_shape(text):
        # Already canonical, as producers usually write it: only the instant is checked,
        # which fromisoformat reads from this shape as the contract does.
        datetime.fromisoformat(text[:-1])
        return text
    if _RFC3339.fullmatch(text) is None:
        raise ValueError(f"{text!r}: not a time this decoder reads; the contract's decides")
    try:
        return format_time(_to_datetime.decode(b'"' + text.encode() + b'"'))
    except (msgspec.ValidationError, OverflowError) as exc:
        raise ValueError(str(exc)) from None  # msgspec reports it as this Struct's error


class Resources(Struct, kw_only=True):
    cpu_cores: NonNegativeFloat = 0.0
    memory_mb: NonNegativeInt = 0
    gpu_units: NonNegativeInt = 0
    storage_gb: NonNegativeInt = 0


class ResourcesAllocatedData(Struct, kw_only=True):
    cpu_cores: NonNegativeFloat
    memory_mb: NonNegativeInt
    gpu_units: NonNegativeInt
    storage_gb: NonNegativeInt


class DeploymentCreatedData(Struct, kw_only=True):
    user_id: uuid.UUID
    name: str
    target_replicas: NonNegativeInt
    given_status: DeploymentStatus | UnsetType = field(default=UNSET, name="status")
    resources: Resources | None = None

    _REQUIRED: ClassVar[frozenset[str]] = frozenset({"user_id", "name", "target_replicas"})

    @property
    def status(self) -> DeploymentStatus:
        return "pending" if self.given_status is UNSET else self.given_status

    @property
    def model_fields_set(self) -> set[str]:
        given = set(self._REQUIRED)
        if self.given_status is not UNSET:
            given.add("status")
        if self.resources is not None:
            given.add("resources")
        return given


class DeploymentScaledData(Struct, kw_only=True):
    target_replicas: NonNegativeInt


class DeploymentStatusChangedData(Struct, kw_only=True):
    new_status: DeploymentStatus
    old_status: DeploymentStatus | None = None
    reason: str | None = None


class DeploymentDeletedData(Struct, kw_only=True):
    pass


class ReplicaStatusChangedData(Struct, kw_only=True):
    """The optional fields are kept as given (UNSET if absent), read through properties
    that give the contract's default, None; ``model_fields_set`` tells which were given."""

    replica_id: uuid.UUID
    status: ReplicaStatus
    given_node_id: uuid.UUID | UnsetType | None = field(default=UNSET, name="node_id")
    given_container_id: str | UnsetType | None = field(default=UNSET, name="container_id")
    given_started_at: str | UnsetType | None = field(default=UNSET, name="started_at")
    given_stopped_at: str | UnsetType | None = field(default=UNSET, name="stopped_at")

    def __post_init__(self) -> None:
        if isinstance(self.given_started_at, str):
            self.given_started_at = _time(self.given_started_at)
        if isinstance(self.given_stopped_at, str):
            self.given_stopped_at = _time(self.given_stopped_at)

    @property
    def node_id(self) -> uuid.UUID | None:
        return None if self.given_node_id is UNSET else self.given_node_id

    @property
    def container_id(self) -> str | None:
        return None if self.given_container_id is UNSET else self.given_container_id

    @property
    def started_at(self) -> str | None:
        return None if self.given_started_at is UNSET else self.given_started_at

    @property
    def stopped_at(self) -> str | None:
        return None if self.given_stopped_at is UNSET else self.given_stopped_at

    @property
    def model_fields_set(self) -> set[str]:
        given = {"replica_id", "status"}
        for name in ("node_id", "container_id", "started_at", "stopped_at"):
            if getattr(self, "given_" + name) is not UNSET:
                given.add(name)
        return given


class ReplicaRemovedData(Struct, kw_only=True):
    replica_id: uuid.UUID


class _CloudEvent(Struct, kw_only=True, tag_field="type"):
    specversion: Literal["1.0"]
    id: NonEmptyStr
    source: NonEmptyStr
    subject: uuid.UUID
    time: str  # canonical after decoding (see the module's docstring)
    datacontenttype: Literal["application/json"] | None = None

    def __post_init__(self) -> None:
        self.time = _time(self.time)

    @property
    def deployment_id(self) -> str:
        return str(self.subject)


class DeploymentCreated(_CloudEvent, tag="deployment.created"):
    data: DeploymentCreatedData


class DeploymentScaled(_CloudEvent, tag="deployment.scaled"):
    data: DeploymentScaledData


class DeploymentStatusChanged(_CloudEvent, tag="deployment.status_changed"):
    data: DeploymentStatusChangedData


class DeploymentResourcesAllocated(_CloudEvent, tag="deployment.resources_allocated"):
    data: ResourcesAllocatedData


class DeploymentDeleted(_CloudEvent, tag="deployment.deleted"):
    data: DeploymentDeletedData = field(default_factory=DeploymentDeletedData)


class ReplicaStatusChanged(_CloudEvent, tag="replica.status_changed"):
    data: ReplicaStatusChangedData


class ReplicaRemoved(_CloudEvent, tag="replica.removed"):
    data: ReplicaRemovedData


FastEvent = (
    DeploymentCreated
    | DeploymentScaled
    | DeploymentStatusChanged
    | DeploymentResourcesAllocated
    | DeploymentDeleted
    | ReplicaStatusChanged
    | ReplicaRemoved
)

# Each event type's Struct, by its tag: the type it stands for.
STRUCTS: dict[str, type[_CloudEvent]] = {
    cls.__struct_config__.tag: cls for cls in get_args(FastEvent)
}

decoder: msgspec.json.Decoder[FastEvent] = msgspec.json.Decoder(FastEvent)
