"""The pure fold: ``apply(state, event) -> state``. No I/O, no clock: the same events in the
same order always give the same state, which is what makes rebuilds and redeliveries safe.

Events come as the contract's models or, from the projector's fast decoder, as their
``events.structs`` mirrors, which answer every attribute read here alike (times excepted:
already canonical text, which ``format_time`` passes through)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from events import structs
from events.codec import Decoded
from events.models import (
    DeploymentCreated,
    DeploymentDeleted,
    DeploymentResourcesAllocated,
    DeploymentScaled,
    DeploymentStatusChanged,
    ReplicaRemoved,
    ReplicaStatusChanged,
    Resources,
)
from events.times import format_time
from projector.core.state import (
    DEDUP_WINDOW,
    DIGEST_SIZE,
    ENTRY_SEPARATOR,
    HISTORY_LIMIT,
    DeploymentState,
    ReplicaState,
    ResourcesState,
    StatusChange,
    changed_at,
    event_digest,
    history_entries,
    remembers,
    status_change,
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
    _change(state, event, event_time)
    if state.updated_at is None or event_time > state.updated_at:
        state.updated_at = event_time
    state.events_applied += 1
    state.recent_events = (state.recent_events + digest)[-DEDUP_WINDOW * DIGEST_SIZE :]


def _change(state: DeploymentState, event: Decoded, event_time: str) -> None:
    # A table, not a match statement: the class patterns were tried in turn for every event.
    HANDLERS[type(event)](state, event, event_time)


def _created(state: DeploymentState, event: DeploymentCreated, event_time: str) -> None:
    data = event.data
    state.created = True
    state.owner = str(data.user_id)
    state.name = data.name
    state.target_replicas = data.target_replicas
    state.created_at = event_time
    # A status set by events that overtook the creation is kept unless the creation states
    # one itself; the default only fills a gap.
    if "status" in data.model_fields_set or state.status is None:
        state.status = data.status
    if data.resources is not None:
        state.resources = _resources(data.resources)


def _scaled(state: DeploymentState, event: DeploymentScaled, event_time: str) -> None:
    state.target_replicas = event.data.target_replicas


def _status_changed(
    state: DeploymentState, event: DeploymentStatusChanged, event_time: str
) -> None:
    data = event.data
    entry = status_change(data.old_status, data.new_status, event_time, data.reason)
    state.status = data.new_status
    state.history = _add_history(state.history, entry, event_time)


def _resources_allocated(
    state: DeploymentState, event: DeploymentResourcesAllocated, event_time: str
) -> None:
    state.resources = _resources(event.data)


def _deleted(state: DeploymentState, event: DeploymentDeleted, event_time: str) -> None:
    state.deleted = True


def _replica_changed(state: DeploymentState, event: ReplicaStatusChanged, event_time: str) -> None:
    state.replicas = _replica_status_changed(state.replicas, event, event_time)


def _replica_removed(state: DeploymentState, event: ReplicaRemoved, event_time: str) -> None:
    replica_id = str(event.data.replica_id)
    state.replicas = tuple(r for r in state.replicas if r.id != replica_id)


HANDLERS: dict[type[Any], Callable[[DeploymentState, Any, str], None]] = {
    DeploymentCreated: _created,
    DeploymentScaled: _scaled,
    DeploymentStatusChanged: _status_changed,
    DeploymentResourcesAllocated: _resources_allocated,
    DeploymentDeleted: _deleted,
    ReplicaStatusChanged: _replica_changed,
    ReplicaRemoved: _replica_removed,
}
# Each model's mirror in the fast decoder (same class name) takes the same handler.
HANDLERS |= {getattr(structs, model.__name__): handler for model, handler in HANDLERS.items()}


def _resources(given: Resources) -> ResourcesState:
    return ResourcesState(given.cpu_cores, given.memory_mb, given.gpu_units, given.storage_gb)


def _add_history(history: bytes, entry: StatusChange, entry_time: str) -> bytes:
    """``history`` (newest first by changed_at, then by log order) with ``entry`` in its
    place, cut to the newest HISTORY_LIMIT: exact, since an entry that falls out can never
    come back."""
    if not history:
        return entry
    # The entry is the latest in the log, so it goes before the first entry not later than
    # it. Canonical times compare the same as ASCII bytes and as strings.
    key = entry_time.encode()
    if changed_at(history) <= key:
        # The usual case, an entry newer than every other: in front, the oldest cut if the
        # history is full, without splitting it (this runs for every status change).
        if history.count(ENTRY_SEPARATOR) < HISTORY_LIMIT - 1:
            return entry + ENTRY_SEPARATOR + history
        return entry + ENTRY_SEPARATOR + history[: history.rindex(ENTRY_SEPARATOR)]
    entries = history_entries(history)
    index = 1  # a linear scan, not a sort: the entry is rarely far from the front
    while index < len(entries) and changed_at(entries[index]) > key:
        index += 1
    if index >= HISTORY_LIMIT:
        return history
    entries.insert(index, entry)
    return ENTRY_SEPARATOR.join(entries[:HISTORY_LIMIT])


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


def _optional_time(value: datetime | str | None) -> str | None:
    return format_time(value) if value is not None else None


def _optional_str(value: object | None) -> str | None:
    return str(value) if value is not None else None
