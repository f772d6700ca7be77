"""Builders shared by the unit tests: events on a fake clock, raw records, folds."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from events import Event, new_event
from events.times import format_time
from projector.core.document import render
from projector.core.fold import apply
from projector.core.state import DeploymentState

BASE_TIME = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

USER_ID = "5f0c7a3e-1c1b-4d8e-9a55-0c2d7f1e9b10"

# A valid ``data`` object for every event type, as a producer would send it.
SAMPLE_DATA: dict[str, dict[str, Any]] = {
    "deployment.created": {
        "user_id": USER_ID,
        "name": "web-frontend",
        "target_replicas": 3,
        "status": "scheduled",
        "resources": {"cpu_cores": 1.5, "memory_mb": 2048, "gpu_units": 1, "storage_gb": 20},
    },
    "deployment.scaled": {"target_replicas": 5},
    "deployment.status_changed": {
        "new_status": "running",
        "old_status": "scheduled",
        "reason": "all replicas started",
    },
    "deployment.resources_allocated": {
        "cpu_cores": 2.25,
        "memory_mb": 4096,
        "gpu_units": 0,
        "storage_gb": 50,
    },
    "deployment.deleted": {},
    "replica.status_changed": {
        "replica_id": "0b6f2a8e-7d4c-4a3b-8e1f-2c9d5a7b3e61",
        "status": "running",
        "node_id": "9a1d3c5e-2b4f-4e6a-8c0d-1f3e5a7c9b2d",
        "container_id": "ctr-42",
        "started_at": "2026-11-28T13:00:00.250000+01:00",
        "stopped_at": None,
    },
    "replica.removed": {"replica_id": "0b6f2a8e-7d4c-4a3b-8e1f-2c9d5a7b3e61"},
}


def new_id() -> str:
    """A fresh random uuid, as a string."""
    return str(uuid.uuid4())


class Clock:
    """A fake clock: every call returns a time one step later than the previous one."""

    def __init__(self, start: datetime = BASE_TIME, step: timedelta = timedelta(seconds=1)):
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


class Events:
    """Makes valid events for one deployment, each one clock tick later, with random ids."""

    def __init__(self, deployment_id: str | None = None, clock: Clock | None = None) -> None:
        self.deployment_id = deployment_id or new_id()
        self.clock = clock or Clock()

    def make(
        self,
        type: str,
        data: dict[str, Any] | None = None,
        *,
        time: datetime | None = None,
        id: str | None = None,
    ) -> Event:
        return new_event(
            type,
            self.deployment_id,
            data if data is not None else {},
            time=time or self.clock(),
            id=id or new_id(),
        )

    def created(self, *, time: datetime | None = None, **fields: Any) -> Event:
        data: dict[str, Any] = {"user_id": USER_ID, "name": "web", "target_replicas": 2}
        data.update(fields)
        return self.make("deployment.created", data, time=time)

    def scaled(self, target_replicas: int, *, time: datetime | None = None) -> Event:
        return self.make("deployment.scaled", {"target_replicas": target_replicas}, time=time)

    def status_changed(
        self, new_status: str, *, time: datetime | None = None, **fields: Any
    ) -> Event:
        return self.make(
            "deployment.status_changed", {"new_status": new_status, **fields}, time=time
        )

    def resources_allocated(
        self,
        cpu_cores: float = 1.0,
        memory_mb: int = 512,
        gpu_units: int = 0,
        storage_gb: int = 10,
        *,
        time: datetime | None = None,
    ) -> Event:
        data = {
            "cpu_cores": cpu_cores,
            "memory_mb": memory_mb,
            "gpu_units": gpu_units,
            "storage_gb": storage_gb,
        }
        return self.make("deployment.resources_allocated", data, time=time)

    def deleted(self, *, time: datetime | None = None) -> Event:
        return self.make("deployment.deleted", {}, time=time)

    def replica(
        self, replica_id: str, status: str, *, time: datetime | None = None, **fields: Any
    ) -> Event:
        data = {"replica_id": replica_id, "status": status, **fields}
        return self.make("replica.status_changed", data, time=time)

    def replica_removed(self, replica_id: str, *, time: datetime | None = None) -> Event:
        return self.make("replica.removed", {"replica_id": replica_id}, time=time)

    def sample(self, type: str, *, time: datetime | None = None) -> Event:
        """An event of ``type`` carrying that type's ``SAMPLE_DATA``."""
        return self.make(type, SAMPLE_DATA[type], time=time)


def fold(events: Iterable[Event], state: DeploymentState | None = None) -> DeploymentState:
    """Apply events in order, starting from ``state``."""
    for event in events:
        state = apply(state, event)
    assert state is not None
    return state


def envelope(type: str = "deployment.scaled", **overrides: Any) -> dict[str, Any]:
    """A raw CloudEvents object as it appears on the wire; ``overrides`` replace attributes."""
    obj: dict[str, Any] = {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "deploystatus/tests",
        "type": type,
        "subject": "3d1f9a8e-5b2c-4e7d-9f0a-6c8b2e4d1a37",
        "time": "2026-11-28T12:00:00Z",
        "datacontenttype": "application/json",
        "data": SAMPLE_DATA.get(type, {}),
    }
    obj.update(overrides)
    return obj


def record(obj: dict[str, Any]) -> tuple[bytes, bytes]:
    """The Kafka (key, value) of a raw event object: keyed by its subject."""
    return str(obj.get("subject")).encode(), orjson.dumps(obj)


def at(seconds: float) -> datetime:
    """BASE_TIME plus ``seconds``."""
    return BASE_TIME + timedelta(seconds=seconds)


def z(moment: datetime) -> str:
    """The canonical rendering of ``moment``."""
    return format_time(moment)


def doc(state: DeploymentState) -> dict[str, Any]:
    """The rendered document, parsed; fails if the deployment is not served."""
    raw = render(state)
    assert raw is not None
    document: dict[str, Any] = orjson.loads(raw)
    return document


def replica_view(state: DeploymentState, replica_id: str) -> dict[str, Any]:
    """The rendered replica with ``replica_id``."""
    replicas: list[dict[str, Any]] = doc(state)["replicas"]
    (found,) = [r for r in replicas if r["id"] == replica_id]
    return found
