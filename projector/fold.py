"""The pure fold: ``apply(state, event) -> state``. No I/O, no clock: the same events in the
same order always give the same state, which is what makes rebuilds and redeliveries safe."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from events.models import (
    DeploymentCreated,
    DeploymentDeleted,
    DeploymentResourcesAllocated,
    DeploymentScaled,
    DeploymentStatusChanged,
    Event,
    ReplicaRemoved,
    ReplicaStatusChanged,
)
from projector.state import (
    DEDUP_WINDOW,
    HISTORY_LIMIT,
    DeploymentState,
    ReplicaState,
    ResourcesState,
    StatusChange,
    format_time,
)

Changes = dict[str, Any]


def apply(state: DeploymentState | None, event: Event) -> DeploymentState:
    """Fold one event into a deployment's state. An event id already applied is a no-op."""
    if state is None:
        state = DeploymentState(deployment_id=event.deployment_id)
    if event.id in state.recent_event_ids:
        return state
    return state.model_copy(update=_update(state, event))


def apply_record(state: DeploymentState | None, event: Event, offset: int) -> DeploymentState:
    """Fold the event read at ``offset``, unless the state already holds that offset
    (a record redelivered after a crash between the store's write and the commit)."""
    if state is not None and offset <= state.position:
        return state
    if state is None:
        state = DeploymentState(deployment_id=event.deployment_id)
    # Same result as ``apply`` then setting the position, with one copy of the state
    # instead of two: the copies are most of the fold's cost.
    update = {} if event.id in state.recent_event_ids else _update(state, event)
    update["position"] = offset
    return state.model_copy(update=update)


def _update(state: DeploymentState, event: Event) -> Changes:
    event_time = format_time(event.time)
    changes = _changes(state, event, event_time)
    changes["updated_at"] = max(state.updated_at or event_time, event_time)
    changes["events_applied"] = state.events_applied + 1
    changes["recent_event_ids"] = (*state.recent_event_ids, event.id)[-DEDUP_WINDOW:]
    return changes


def _changes(state: DeploymentState, event: Event, event_time: str) -> Changes:
    match event:
        case DeploymentCreated(data=data):
            changes: Changes = {
                "created": True,
                "owner": str(data.user_id),
                "name": data.name,
                "target_replicas": data.target_replicas,
                "created_at": event_time,
            }
            # A status set by events that overtook the creation is kept unless the
            # creation states one itself; the default only fills a gap.
            if "status" in data.model_fields_set or state.status is None:
                changes["status"] = data.status
            if data.resources is not None:
                changes["resources"] = ResourcesState(**data.resources.model_dump())
            return changes
        case DeploymentScaled(data=data):
            return {"target_replicas": data.target_replicas}
        case DeploymentStatusChanged(data=data):
            entry = StatusChange(
                old_status=data.old_status,
                new_status=data.new_status,
                changed_at=event_time,
                reason=data.reason,
                seq=state.events_applied,
            )
            return {"status": data.new_status, "history": _add_history(state.history, entry)}
        case DeploymentResourcesAllocated(data=data):
            return {"resources": ResourcesState(**data.model_dump())}
        case DeploymentDeleted():
            return {"deleted": True}
        case ReplicaStatusChanged():
            return {"replicas": _replica_status_changed(state.replicas, event, event_time)}
        case ReplicaRemoved(data=data):
            replica_id = str(data.replica_id)
            return {"replicas": tuple(r for r in state.replicas if r.id != replica_id)}
    raise AssertionError(f"unhandled event type {event.type!r}")  # pragma: no cover


def _add_history(
    history: tuple[StatusChange, ...], entry: StatusChange
) -> tuple[StatusChange, ...]:
    # Keeping only the newest HISTORY_LIMIT is exact: an entry that falls out can never
    # come back, since later insertions only add entries.
    ordered = sorted((*history, entry), key=lambda e: (e.changed_at, e.seq), reverse=True)
    return tuple(ordered[:HISTORY_LIMIT])


def _replica_status_changed(
    replicas: tuple[ReplicaState, ...], event: ReplicaStatusChanged, event_time: str
) -> tuple[ReplicaState, ...]:
    data = event.data
    given = data.model_fields_set
    replica_id = str(data.replica_id)
    index = None
    for i, r in enumerate(replicas):  # a plain loop: a generator costs more for a few items
        if r.id == replica_id:
            index = i
            break
    old = replicas[index] if index is not None else ReplicaState(id=replica_id, status=data.status)

    if "started_at" in given:
        started_at = _optional_time(data.started_at)
    elif data.status == "running" and old.started_at is None:
        started_at = event_time
    else:
        started_at = old.started_at

    if "stopped_at" in given:
        stopped_at = _optional_time(data.stopped_at)
    elif data.status in ("stopped", "failed") and old.stopped_at is None:
        stopped_at = event_time
    elif data.status in ("pending", "starting", "running"):
        stopped_at = None
    else:
        stopped_at = old.stopped_at

    replica = ReplicaState(
        id=replica_id,
        status=data.status,
        node_id=_optional_str(data.node_id) if "node_id" in given else old.node_id,
        container_id=data.container_id if "container_id" in given else old.container_id,
        started_at=started_at,
        stopped_at=stopped_at,
    )
    if index is None:
        return (*replicas, replica)
    return (*replicas[:index], replica, *replicas[index + 1 :])


def _optional_time(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


def _optional_str(value: object | None) -> str | None:
    return str(value) if value is not None else None


def fold_records(
    state: DeploymentState | None, records: list[tuple[int, Event]]
) -> DeploymentState | None:
    """Fold one deployment's records, given as (offset, event) in log order."""
    for offset, event in records:
        state = apply_record(state, event, offset)
    return state
