"""The pure fold: ``apply(state, event) -> state``. No I/O, no clock: the same events in the
same order always give the same state, which is what makes rebuilds and redeliveries safe.

Below the loop, one handler per event type, named and documented as the rows of the README's
table of event effects ("The event contract"). Events come as the contract's models or, from
the projector's fast decoder, as their ``events.structs`` mirrors, which answer every
attribute read here alike (times excepted: already canonical text, which ``format_time``
passes through)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from events.codec import Decoded
from events.models import (
    MODELS,
    DeploymentCreated,
    DeploymentDeleted,
    DeploymentResourcesAllocated,
    DeploymentScaled,
    DeploymentStatusChanged,
    ReplicaRemoved,
    ReplicaStatusChanged,
    Resources,
)
from events.structs import STRUCTS
from events.times import format_time
from projector.core.state import (
    DeploymentState,
    ReplicaState,
    ResourcesState,
    event_digest,
    remembering,
    remembers,
)


def apply(state: DeploymentState | None, event: Decoded) -> DeploymentState:
    """Fold one event into a deployment's state. An event id already applied is a no-op."""
    if state is not None and remembers(state.recent_events, event_digest(event.id)):
        return state
    new = state.copy() if state is not None else DeploymentState(event.deployment_id)
    _apply_into(new, event)
    return new


def apply_record(state: DeploymentState | None, event: Decoded, offset: int) -> DeploymentState:
    """Fold the event read at ``offset``, unless the state already holds that offset
    (a record redelivered after a crash between the store's write and the commit)."""
    folded = fold_records(state, [(offset, event)])
    assert folded is not None
    return folded


def fold_records(
    state: DeploymentState | None, records: list[tuple[int, Decoded]]
) -> DeploymentState | None:
    """Fold one deployment's records, given as (offset, event) in log order. The given state
    is not changed: it is copied once, and the copy takes every record in turn (the copies
    were most of the fold's cost when each event made one)."""
    folded, copied = state, False
    for offset, event in records:
        if folded is not None and offset <= folded.position:
            continue
        if not copied:
            folded = folded.copy() if folded is not None else DeploymentState(event.deployment_id)
            copied = True
        assert folded is not None
        _apply_into(folded, event)
        folded.position = offset
    return folded


def _apply_into(state: DeploymentState, event: Decoded) -> None:
    """Apply ``event`` to ``state`` in place (a state of the fold's own), unless applied."""
    digest = event_digest(event.id)
    if remembers(state.recent_events, digest):
        return
    event_time = format_time(event.time)
    # A table, not a match statement: the class patterns were tried in turn for every event.
    _EFFECTS_BY_CLASS[type(event)](state, event, event_time)
    if state.updated_at is None or event_time > state.updated_at:
        state.updated_at = event_time
    state.events_applied += 1
    state.recent_events = remembering(state.recent_events, digest)


# --- The effect of each event type on the view (README: The event contract) ---------------


def deployment_created(state: DeploymentState, event: DeploymentCreated, at: str) -> None:
    """Creates it; ``created_at`` = event time. A status set by events that overtook the
    creation survives a creation that states no status."""
    data = event.data
    state.created = True
    state.owner = str(data.user_id)
    state.name = data.name
    state.target_replicas = data.target_replicas
    state.created_at = at
    if "status" in data.model_fields_set or state.status is None:
        state.status = data.status
    if data.resources is not None:
        state.resources = _resources(data.resources)


def deployment_scaled(state: DeploymentState, event: DeploymentScaled, at: str) -> None:
    """Sets the target."""
    state.target_replicas = event.data.target_replicas


def deployment_status_changed(
    state: DeploymentState, event: DeploymentStatusChanged, at: str
) -> None:
    """Sets the status; adds a history entry ``{old_status, new_status, changed_at = event
    time, reason}``."""
    data = event.data
    state.status = data.new_status
    state.history = state.history.add(data.old_status, data.new_status, at, data.reason)


def deployment_resources_allocated(
    state: DeploymentState, event: DeploymentResourcesAllocated, at: str
) -> None:
    """Replaces the resources."""
    state.resources = _resources(event.data)


def deployment_deleted(state: DeploymentState, event: DeploymentDeleted, at: str) -> None:
    """Soft delete: no longer served, for good."""
    state.deleted = True


def replica_status_changed(state: DeploymentState, event: ReplicaStatusChanged, at: str) -> None:
    """Creates or updates the replica: given fields overwrite, absent ones keep their value;
    ``running`` without ``started_at`` sets it to the event time if unset; ``stopped`` or
    ``failed`` without ``stopped_at`` sets it to the event time if unset; ``pending``,
    ``starting`` or ``running`` without ``stopped_at`` clears it."""
    data = event.data
    given = data.model_fields_set
    replica_id = str(data.replica_id)
    replicas = state.replicas
    index = _index_of(replicas, replica_id)
    old = replicas[index] if index is not None else ReplicaState(id=replica_id, status=data.status)

    if "started_at" in given:
        started_at = _optional_time(data.started_at)
    elif data.status == "running" and old.started_at is None:
        started_at = at
    else:
        started_at = old.started_at

    if "stopped_at" in given:
        stopped_at = _optional_time(data.stopped_at)
    elif data.status in ("stopped", "failed") and old.stopped_at is None:
        stopped_at = at
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
        state.replicas = (*replicas, replica)
    else:
        state.replicas = (*replicas[:index], replica, *replicas[index + 1 :])


def replica_removed(state: DeploymentState, event: ReplicaRemoved, at: str) -> None:
    """The replica leaves the view."""
    replica_id = str(event.data.replica_id)
    state.replicas = tuple(r for r in state.replicas if r.id != replica_id)


Effect = Callable[[DeploymentState, Any, str], None]

EFFECTS: dict[str, Effect] = {
    "deployment.created": deployment_created,
    "deployment.scaled": deployment_scaled,
    "deployment.status_changed": deployment_status_changed,
    "deployment.resources_allocated": deployment_resources_allocated,
    "deployment.deleted": deployment_deleted,
    "replica.status_changed": replica_status_changed,
    "replica.removed": replica_removed,
}
# By class, for the hot path: the contract's model and the fast decoder's Struct of each type.
_EFFECTS_BY_CLASS: dict[type[Any], Effect] = {
    classes[type_]: effect for type_, effect in EFFECTS.items() for classes in (MODELS, STRUCTS)
}


def _resources(given: Resources) -> ResourcesState:
    return ResourcesState(given.cpu_cores, given.memory_mb, given.gpu_units, given.storage_gb)


def _index_of(replicas: tuple[ReplicaState, ...], replica_id: str) -> int | None:
    for i, r in enumerate(replicas):  # a plain loop: a generator costs more for a few items
        if r.id == replica_id:
            return i
    return None


def _optional_time(value: datetime | str | None) -> str | None:
    return format_time(value) if value is not None else None


def _optional_str(value: object | None) -> str | None:
    return str(value) if value is not None else None
