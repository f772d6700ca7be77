"""The fold: repeated event ids and redelivered offsets are applied once."""

from __future__ import annotations

import dataclasses
from datetime import timedelta, timezone

import pytest
from builders import Events, fold, new_id

from events import EVENT_TYPES, Event
from projector.core.document import render
from projector.core.fold import apply, apply_record, fold_records
from projector.core.state import DEDUP_WINDOW, DeploymentState
from projector.core.stored_state import encode_whole

PLUS_ONE = timezone(timedelta(hours=1))


# --- idempotence and offsets ---------------------------------------------------------------


def one_of_each(ev: Events, replica_id: str) -> dict[str, Event]:
    return {
        "deployment.created": ev.created(name="again", target_replicas=4),
        "deployment.scaled": ev.scaled(9),
        "deployment.status_changed": ev.status_changed("running", reason="up"),
        "deployment.resources_allocated": ev.resources_allocated(3.0, 64, 1, 2),
        "deployment.deleted": ev.deleted(),
        "replica.status_changed": ev.replica(replica_id, "failed"),
        "replica.removed": ev.replica_removed(replica_id),
    }


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_same_event_twice_equals_once(ev: Events, base: DeploymentState, event_type: str) -> None:
    """Applying the same event (same id) twice gives the state of applying it once."""
    replica_id = new_id()
    state = fold([ev.replica(replica_id, "running"), ev.status_changed("scheduled")], base)
    event = one_of_each(ev, replica_id)[event_type]
    once = apply(state, event)
    twice = apply(once, event)
    assert twice == once
    assert encode_whole(twice) == encode_whole(once)
    assert render(twice) == render(once)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_retry_after_other_events_is_ignored(
    ev: Events, base: DeploymentState, event_type: str
) -> None:
    """A producer retry arriving after other events changes nothing."""
    replica_id = new_id()
    state = fold([ev.replica(replica_id, "running")], base)
    event = one_of_each(ev, replica_id)[event_type]
    other = ev.replica(new_id(), "starting")
    without_retry = fold([event, other], state)
    with_retry = fold([event, other, event], state)
    assert with_retry == without_retry


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_same_event_first_applied_on_empty_state(ev: Events, event_type: str) -> None:
    """A duplicated first event for an unknown deployment is applied once."""
    event = one_of_each(ev, new_id())[event_type]
    once = apply(None, event)
    assert apply(once, event) == once
    assert once.events_applied == 1


def test_retry_within_dedup_window_is_ignored(ev: Events, base: DeploymentState) -> None:
    """A retry with DEDUP_WINDOW - 1 other events in between is still recognised."""
    event = ev.status_changed("running", reason="once")
    others = [ev.replica(new_id(), "starting") for _ in range(DEDUP_WINDOW - 1)]
    without_retry = fold([event, *others], base)
    assert fold([event], without_retry) == without_retry


def test_apply_record_tracks_position(ev: Events) -> None:
    """apply_record stores the record's offset as the position."""
    state = apply_record(None, ev.created(), 7)
    assert state.position == 7
    state = apply_record(state, ev.scaled(3), 12)
    assert state.position == 12
    assert state.target_replicas == 3


@pytest.mark.parametrize("offset", [0, 11, 12])
def test_apply_record_skips_offsets_at_or_below_position(ev: Events, offset: int) -> None:
    """A record at an offset <= position (a redelivery) is skipped, even with a new event."""
    state = apply_record(apply_record(None, ev.created(), 5), ev.scaled(3), 12)
    after = apply_record(state, ev.scaled(8), offset)
    assert after is state or after == state


def test_apply_record_duplicate_id_at_new_offset_moves_position_only(ev: Events) -> None:
    """A producer retry at a later offset leaves the state unchanged but advances the position."""
    scaled = ev.scaled(3)
    state = apply_record(apply_record(None, ev.created(), 1), scaled, 2)
    after = apply_record(state, scaled, 3)
    assert after.position == 3
    assert dataclasses.replace(after, position=2) == state


def test_fold_records_skips_redelivered(ev: Events) -> None:
    """fold_records of a redelivered prefix followed by new records equals folding each once."""
    records = list(enumerate([ev.created(), ev.scaled(3), ev.replica(new_id(), "running")]))
    records += [(3, ev.scaled(5)), (4, ev.status_changed("running"))]
    whole = fold_records(None, records)
    first = fold_records(None, records[:3])
    again = fold_records(first, records[1:])
    assert again == whole
    assert fold_records(None, []) is None
