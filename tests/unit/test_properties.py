"""Properties of the fold: batching, redelivery, retries and serialisation do not matter."""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from datetime import UTC, timedelta, timezone
from typing import Any, get_args

from builders import BASE_TIME
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import Event, decode, encode, new_event
from events.codec import decode_keyed
from events.structs import FastEvent
from projector.core.document import render
from projector.core.fold import fold_records
from projector.core.state import DeploymentState
from projector.core.stored_state import decode_whole, encode_whole, from_stored, to_stored

Record = tuple[int, Event]

PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# A small replica pool so that events for the same replica meet often.
REPLICA_POOL = [
    "a1b2c3d4-0000-4000-8000-000000000001",
    "a1b2c3d4-0000-4000-8000-000000000002",
    "a1b2c3d4-0000-4000-8000-000000000003",
]
DEPLOYMENT_STATUSES = ["pending", "scheduled", "running", "stopped", "failed"]
REPLICA_STATUSES = ["pending", "starting", "running", "stopped", "failed"]
ZONES = [
    UTC,
    timezone(timedelta(hours=1)),
    timezone(timedelta(hours=-5)),
    timezone(timedelta(hours=5, minutes=30)),
]
# Types other than created, weighted: replica traffic dominates, deletes are rare.
OTHER_TYPES = [
    "deployment.scaled",
    "deployment.scaled",
    "deployment.status_changed",
    "deployment.status_changed",
    "deployment.status_changed",
    "deployment.resources_allocated",
    "replica.status_changed",
    "replica.status_changed",
    "replica.status_changed",
    "replica.status_changed",
    "replica.status_changed",
    "replica.removed",
    "replica.removed",
]

times = st.builds(
    lambda seconds, micros, zone: (
        BASE_TIME + timedelta(seconds=seconds, microseconds=micros)
    ).astimezone(zone),
    st.integers(0, 600),
    st.one_of(st.just(0), st.integers(0, 999_999)),
    st.sampled_from(ZONES),
)
iso_times = times.map(lambda t: t.isoformat())
texts = st.text(alphabet="abc-_ xyzé✓", max_size=8)
uuid_strings = st.uuids().map(str)
replica_ids = st.sampled_from(REPLICA_POOL)

resources = st.fixed_dictionaries(
    {
        "cpu_cores": st.floats(0, 64, allow_nan=False, allow_infinity=False),
        "memory_mb": st.integers(0, 1 << 20),
        "gpu_units": st.integers(0, 8),
        "storage_gb": st.integers(0, 4096),
    }
)

DATA: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "deployment.created": st.fixed_dictionaries(
        {"user_id": uuid_strings, "name": texts, "target_replicas": st.integers(0, 5)},
        optional={"status": st.sampled_from(DEPLOYMENT_STATUSES), "resources": resources},
    ),
    "deployment.scaled": st.fixed_dictionaries({"target_replicas": st.integers(0, 5)}),
    "deployment.status_changed": st.fixed_dictionaries(
        {"new_status": st.sampled_from(DEPLOYMENT_STATUSES)},
        optional={
            "old_status": st.none() | st.sampled_from(DEPLOYMENT_STATUSES),
            "reason": st.none() | texts,
        },
    ),
    "deployment.resources_allocated": resources,
    "deployment.deleted": st.just({}),
    "replica.status_changed": st.fixed_dictionaries(
        {"replica_id": replica_ids, "status": st.sampled_from(REPLICA_STATUSES)},
        optional={
            "node_id": st.none() | uuid_strings,
            "container_id": st.none() | texts,
            "started_at": st.none() | iso_times,
            "stopped_at": st.none() | iso_times,
        },
    ),
    "replica.removed": st.fixed_dictionaries({"replica_id": replica_ids}),
}


@st.composite
def event_logs(draw: st.DrawFn) -> list[Event]:
    """A partition's log for 2-4 deployments: all seven types, plausible times, some
    deployments created (anywhere in the log), rare deletes, and producer retries (the
    same event, same id, again shortly after)."""
    deployments = draw(st.lists(uuid_strings, min_size=2, max_size=4, unique=True))
    size = draw(st.integers(1, 40))
    log: list[Event] = []
    serial = 0

    def make(event_type: str, subject: str) -> Event:
        nonlocal serial
        serial += 1
        data = draw(DATA[event_type])
        return new_event(event_type, subject, data, time=draw(times), id=f"evt-{serial}")

    for _ in range(size):
        if log and draw(st.integers(0, 7)) == 0:
            log.append(draw(st.sampled_from(log[-6:])))  # a producer retry
            continue
        subject = draw(st.sampled_from(deployments))
        if draw(st.integers(0, 29)) == 0:
            event_type = "deployment.deleted"
        else:
            event_type = draw(st.sampled_from(OTHER_TYPES))
        log.append(make(event_type, subject))

    for subject in deployments:
        if draw(st.integers(0, 3)) > 0:  # most deployments get their created event
            position = draw(st.integers(0, len(log)))
            log.insert(position, make("deployment.created", subject))
    return log


def by_deployment(records: list[Record]) -> dict[str, list[Record]]:
    grouped: dict[str, list[Record]] = defaultdict(list)
    for offset, event in records:
        grouped[event.deployment_id].append((offset, event))
    return grouped


def fold_all(records: list[Record]) -> dict[str, DeploymentState]:
    """Fold every deployment's records in one batch."""
    states = {}
    for deployment_id, own in by_deployment(records).items():
        state = fold_records(None, own)
        assert state is not None
        states[deployment_id] = state
    return states


def cut_points(data: st.DataObject, size: int) -> list[int]:
    """Random batch boundaries 0 = c0 < c1 < ... < cn = size."""
    inner = data.draw(st.sets(st.integers(1, max(size - 1, 1)), max_size=8)) if size > 1 else set()
    return [0, *sorted(inner), size]


def assert_same(actual: dict[str, DeploymentState], expected: dict[str, DeploymentState]) -> None:
    assert actual.keys() == expected.keys()
    for deployment_id, state in expected.items():
        assert actual[deployment_id] == state
        assert encode_whole(actual[deployment_id]) == encode_whole(state)
        assert render(actual[deployment_id]) == render(state)


@PROPERTY_SETTINGS
@given(log=event_logs(), data=st.data())
def test_batches_and_redelivery_give_the_same_result(log: list[Event], data: st.DataObject) -> None:
    """Folding in random batches, each re-folding a redelivered suffix first, equals one batch."""
    records = list(enumerate(log))
    expected = fold_all(records)

    states: dict[str, DeploymentState] = {}
    cuts = cut_points(data, len(records))
    for start, end in itertools.pairwise(cuts):
        # After a crash the log is redelivered from some earlier offset.
        resume = data.draw(st.integers(0, start), label="redelivered from")
        redelivered, new = records[resume:start], records[start:end]
        for deployment_id, own in by_deployment(redelivered).items():
            position = states[deployment_id].position
            assert all(offset <= position for offset, _ in own)
        for deployment_id, own in by_deployment(redelivered + new).items():
            state = fold_records(states.get(deployment_id), own)
            assert state is not None
            states[deployment_id] = state

    assert_same(states, expected)


@PROPERTY_SETTINGS
@given(log=event_logs(), data=st.data())
def test_state_json_round_trip_is_transparent(log: list[Event], data: st.DataObject) -> None:
    """Storing the state between batches, as the store does (beside its document, if any),
    and reading it back changes nothing; nor does its whole JSON form."""
    records = list(enumerate(log))
    expected = fold_all(records)

    stored: dict[str, tuple[bytes, bytes | None]] = {}
    cuts = cut_points(data, len(records))
    for start, end in itertools.pairwise(cuts):
        for deployment_id, own in by_deployment(records[start:end]).items():
            previous = stored.get(deployment_id)
            state = fold_records(from_stored(*previous) if previous is not None else None, own)
            assert state is not None
            raw = encode_whole(state)
            restored = decode_whole(raw)
            assert restored == state
            assert encode_whole(restored) == raw
            assert render(restored) == render(state)
            document = render(state)
            stored[deployment_id] = (to_stored(state, document), document)
            assert from_stored(*stored[deployment_id]) == state

    assert_same({d: from_stored(*kept) for d, kept in stored.items()}, expected)


@PROPERTY_SETTINGS
@given(log=event_logs())
def test_producer_retries_are_applied_once(log: list[Event]) -> None:
    """Dropping the retried copies (repeated event ids) from the log leaves every state alike."""
    seen: set[tuple[str, str]] = set()
    unique: list[Event] = []
    for event in log:
        if (event.deployment_id, event.id) not in seen:
            seen.add((event.deployment_id, event.id))
            unique.append(event)
    with_retries = fold_all(list(enumerate(log)))
    without = fold_all(list(enumerate(unique)))
    assert with_retries.keys() == without.keys()
    for deployment_id, state in without.items():
        other = with_retries[deployment_id]
        assert dataclasses.replace(other, position=state.position) == state
        assert render(other) == render(state)


@PROPERTY_SETTINGS
@given(log=event_logs())
def test_generated_events_survive_the_codec(log: list[Event]) -> None:
    """Every generated event decodes back from its encoded record unchanged."""
    for event in log:
        decoded = decode(*encode(event))
        assert decoded == event
        assert decoded.data.model_fields_set == event.data.model_fields_set


@PROPERTY_SETTINGS
@given(log=event_logs())
def test_the_fast_decoder_folds_like_the_contract(log: list[Event]) -> None:
    """Every event encoded, then decoded as the projector does (the fast decoder's Structs),
    folds into the states and documents its model folds into."""
    decoded: list[tuple[int, Any]] = []
    for offset, event in enumerate(log):
        deployment_id, fast = decode_keyed(*encode(event))
        assert isinstance(fast, get_args(FastEvent)), "the fast path refused a canonical record"
        assert deployment_id == event.deployment_id
        decoded.append((offset, fast))
    assert_same(fold_all(decoded), fold_all(list(enumerate(log))))
