"""The pure fold and the rendered status document."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from builders import BASE_TIME, USER_ID, Clock, Events, fold, new_id

from api.schemas import StatusDocument
from events import EVENT_TYPES, Event
from projector.document import etag, render
from projector.fold import apply, apply_record, fold_records
from projector.state import DEDUP_WINDOW, HISTORY_LIMIT, DeploymentState, format_time

PLUS_ONE = timezone(timedelta(hours=1))
DOCUMENT_KEYS = [
    "deployment_id",
    "name",
    "status",
    "health",
    "target_replicas",
    "replicas",
    "resources",
    "recent_status_changes",
    "created_at",
    "updated_at",
]


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


@pytest.fixture
def ev() -> Events:
    return Events(clock=Clock())


@pytest.fixture
def base(ev: Events) -> DeploymentState:
    """A created deployment, nothing else."""
    return fold([ev.created(name="api", target_replicas=2)])


# --- deployment events ---------------------------------------------------------------------


def test_created(ev: Events) -> None:
    """deployment.created sets owner, name, target, default status pending and created_at."""
    event = ev.created(name="api", target_replicas=3, time=at(5))
    state = apply(None, event)
    assert state.deployment_id == ev.deployment_id
    assert state.created and state.served
    assert state.owner == USER_ID
    document = doc(state)
    assert document["deployment_id"] == ev.deployment_id
    assert document["name"] == "api"
    assert document["status"] == "pending"
    assert document["target_replicas"] == 3
    assert document["created_at"] == z(at(5))
    assert document["updated_at"] == z(at(5))
    assert document["replicas"] == []
    assert document["recent_status_changes"] == []


def test_created_with_status_and_resources(ev: Events) -> None:
    """deployment.created takes an explicit status and resources."""
    resources = {"cpu_cores": 0.5, "memory_mb": 256, "gpu_units": 1, "storage_gb": 4}
    state = fold([ev.created(status="scheduled", resources=resources)])
    document = doc(state)
    assert document["status"] == "scheduled"
    assert document["resources"] == resources


def test_resources_zero_until_allocated(base: DeploymentState) -> None:
    """A deployment created without resources renders all-zero resources."""
    resources = doc(base)["resources"]
    assert resources == {"cpu_cores": 0.0, "memory_mb": 0, "gpu_units": 0, "storage_gb": 0}
    assert isinstance(resources["cpu_cores"], float)


def test_scaled(ev: Events, base: DeploymentState) -> None:
    """deployment.scaled sets the target replica count."""
    state = fold([ev.scaled(7)], base)
    assert doc(state)["target_replicas"] == 7
    state = fold([ev.scaled(0)], state)
    assert doc(state)["target_replicas"] == 0


def test_status_changed(ev: Events, base: DeploymentState) -> None:
    """deployment.status_changed sets the status and records a history entry."""
    event = ev.status_changed("scheduled", old_status="pending", reason="placed", time=at(30))
    state = fold([event], base)
    document = doc(state)
    assert document["status"] == "scheduled"
    assert document["recent_status_changes"] == [
        {
            "old_status": "pending",
            "new_status": "scheduled",
            "changed_at": z(at(30)),
            "reason": "placed",
        }
    ]


def test_status_changed_optional_fields_default_to_null(ev: Events, base: DeploymentState) -> None:
    """old_status and reason are optional (or null) and render as null."""
    state = fold([ev.status_changed("running", time=at(40))], base)
    state = fold([ev.status_changed("failed", old_status=None, time=at(41))], state)
    changes = doc(state)["recent_status_changes"]
    assert changes == [
        {"old_status": None, "new_status": "failed", "changed_at": z(at(41)), "reason": None},
        {"old_status": None, "new_status": "running", "changed_at": z(at(40)), "reason": None},
    ]
    assert doc(state)["status"] == "failed"


def test_resources_allocated(ev: Events, base: DeploymentState) -> None:
    """deployment.resources_allocated replaces all four resource figures."""
    state = fold([ev.resources_allocated(2.5, 1024, 2, 40)], base)
    assert doc(state)["resources"] == {
        "cpu_cores": 2.5,
        "memory_mb": 1024,
        "gpu_units": 2,
        "storage_gb": 40,
    }
    state = fold([ev.resources_allocated(1, 128, 0, 0)], state)
    resources = doc(state)["resources"]
    assert resources == {"cpu_cores": 1.0, "memory_mb": 128, "gpu_units": 0, "storage_gb": 0}
    assert isinstance(resources["cpu_cores"], float)


def test_resources_allocated_replaces_created_resources(ev: Events) -> None:
    """Allocated resources replace the ones given at creation."""
    created = ev.created(
        resources={"cpu_cores": 8.0, "memory_mb": 8, "gpu_units": 8, "storage_gb": 8}
    )
    state = fold([created, ev.resources_allocated(0.25, 64, 0, 1)])
    assert doc(state)["resources"] == {
        "cpu_cores": 0.25,
        "memory_mb": 64,
        "gpu_units": 0,
        "storage_gb": 1,
    }


def test_deleted_is_not_served(ev: Events, base: DeploymentState) -> None:
    """deployment.deleted soft-deletes: the state remains but render returns None."""
    state = fold([ev.deleted()], base)
    assert state.deleted
    assert not state.served
    assert state.name == "api"
    assert render(state) is None


def test_events_after_delete_stay_unserved(ev: Events, base: DeploymentState) -> None:
    """Events after a delete do not bring the deployment back."""
    state = fold([ev.deleted(), ev.scaled(4), ev.replica(new_id(), "running")], base)
    assert render(state) is None


def test_not_served_before_created(ev: Events) -> None:
    """Events for a deployment not yet created are kept, but nothing is served until created."""
    replica_id = new_id()
    state = fold([ev.replica(replica_id, "running", time=at(1)), ev.scaled(4, time=at(2))])
    assert not state.created
    assert render(state) is None
    assert [r.id for r in state.replicas] == [replica_id]

    state = fold([ev.created(name="late", time=at(3))], state)
    document = doc(state)
    assert document["name"] == "late"
    assert [r["id"] for r in document["replicas"]] == [replica_id]
    assert document["replicas"][0]["started_at"] == z(at(1))
    assert document["created_at"] == z(at(3))
    assert document["updated_at"] == z(at(3))
    StatusDocument.model_validate_json(render(state) or b"")


def test_status_set_before_created_is_kept_unless_created_states_one(ev: Events) -> None:
    """A status that overtook the creation survives a created event without a status."""
    early = [ev.status_changed("running", old_status="scheduled")]
    assert doc(fold([*early, ev.created()]))["status"] == "running"
    assert doc(fold([*early, ev.created(status="failed")]))["status"] == "failed"
    assert doc(fold([ev.created()]))["status"] == "pending"


def test_created_arriving_late_with_older_time(ev: Events) -> None:
    """A created event with an older time arriving after others keeps updated_at at the newest."""
    state = fold([ev.scaled(4, time=at(10)), ev.created(time=at(2))])
    document = doc(state)
    assert document["created_at"] == z(at(2))
    assert document["updated_at"] == z(at(10))


# --- replica events ------------------------------------------------------------------------


def test_replica_created_with_given_fields(ev: Events, base: DeploymentState) -> None:
    """replica.status_changed for a new replica adds it with the given fields."""
    replica_id, node_id = new_id(), new_id()
    state = fold([ev.replica(replica_id, "starting", node_id=node_id, container_id="c1")], base)
    assert doc(state)["replicas"] == [
        {
            "id": replica_id,
            "node_id": node_id,
            "status": "starting",
            "container_id": "c1",
            "started_at": None,
            "stopped_at": None,
        }
    ]


def test_replica_running_sets_started_at_to_event_time(ev: Events, base: DeploymentState) -> None:
    """Going running with no started_at given and none set stamps started_at with the event time."""
    replica_id = new_id()
    state = fold([ev.replica(replica_id, "starting", time=at(10))], base)
    state = fold([ev.replica(replica_id, "running", time=at(20))], state)
    replica = replica_view(state, replica_id)
    assert replica["status"] == "running"
    assert replica["started_at"] == z(at(20))
    assert replica["stopped_at"] is None


def test_replica_running_keeps_existing_started_at(ev: Events, base: DeploymentState) -> None:
    """A later running event without started_at keeps the started_at already set."""
    replica_id = new_id()
    state = fold(
        [
            ev.replica(replica_id, "running", time=at(20)),
            ev.replica(replica_id, "running", time=at(25)),
            ev.replica(replica_id, "stopped", time=at(30)),
            ev.replica(replica_id, "running", time=at(40)),
        ],
        base,
    )
    assert replica_view(state, replica_id)["started_at"] == z(at(20))


def test_replica_explicit_started_at_wins(ev: Events, base: DeploymentState) -> None:
    """A given started_at overwrites, rendered canonically in UTC."""
    replica_id = new_id()
    started = datetime(2026, 11, 28, 13, 0, 0, 500, tzinfo=PLUS_ONE)
    state = fold(
        [ev.replica(replica_id, "running", started_at=started.isoformat(), time=at(99))], base
    )
    assert replica_view(state, replica_id)["started_at"] == "2026-11-28T12:00:00.000500Z"
    later = at(200).isoformat()
    state = fold([ev.replica(replica_id, "running", started_at=later)], state)
    assert replica_view(state, replica_id)["started_at"] == z(at(200))


def test_replica_explicit_null_overwrites(ev: Events, base: DeploymentState) -> None:
    """Fields given as explicit null overwrite, even started_at of a running replica."""
    replica_id = new_id()
    state = fold(
        [
            ev.replica(replica_id, "running", node_id=new_id(), container_id="c1", time=at(5)),
            ev.replica(replica_id, "running", node_id=None, container_id=None, started_at=None),
        ],
        base,
    )
    replica = replica_view(state, replica_id)
    assert replica["node_id"] is None
    assert replica["container_id"] is None
    assert replica["started_at"] is None


def test_replica_absent_fields_keep_value(ev: Events, base: DeploymentState) -> None:
    """Fields absent from the event keep their previous value."""
    replica_id, node_id = new_id(), new_id()
    state = fold(
        [
            ev.replica(replica_id, "starting", node_id=node_id, container_id="c1"),
            ev.replica(replica_id, "running", time=at(50)),
        ],
        base,
    )
    replica = replica_view(state, replica_id)
    assert replica["node_id"] == node_id
    assert replica["container_id"] == "c1"
    assert replica["status"] == "running"


@pytest.mark.parametrize("status", ["stopped", "failed"])
def test_replica_stopping_sets_stopped_at(ev: Events, base: DeploymentState, status: str) -> None:
    """Going stopped or failed with no stopped_at given and none set stamps the event time."""
    replica_id = new_id()
    state = fold(
        [
            ev.replica(replica_id, "running", time=at(10)),
            ev.replica(replica_id, status, time=at(60)),
        ],
        base,
    )
    replica = replica_view(state, replica_id)
    assert replica["status"] == status
    assert replica["stopped_at"] == z(at(60))
    assert replica["started_at"] == z(at(10))


@pytest.mark.parametrize("status", ["stopped", "failed"])
def test_replica_stopping_keeps_existing_stopped_at(
    ev: Events, base: DeploymentState, status: str
) -> None:
    """A second stopped/failed event without stopped_at keeps the first stopped_at."""
    replica_id = new_id()
    state = fold(
        [
            ev.replica(replica_id, "stopped", time=at(60)),
            ev.replica(replica_id, status, time=at(70)),
        ],
        base,
    )
    assert replica_view(state, replica_id)["stopped_at"] == z(at(60))


def test_replica_explicit_stopped_at_wins(ev: Events, base: DeploymentState) -> None:
    """A given stopped_at overwrites, rendered canonically in UTC."""
    replica_id = new_id()
    stopped = datetime(2026, 11, 28, 14, 30, tzinfo=PLUS_ONE)
    state = fold(
        [ev.replica(replica_id, "failed", stopped_at=stopped.isoformat(), time=at(9999))], base
    )
    assert replica_view(state, replica_id)["stopped_at"] == "2026-11-28T13:30:00.000000Z"


@pytest.mark.parametrize("status", ["pending", "starting", "running"])
def test_replica_restart_clears_stopped_at(ev: Events, base: DeploymentState, status: str) -> None:
    """Going pending, starting or running without a stopped_at clears stopped_at."""
    replica_id = new_id()
    state = fold(
        [
            ev.replica(replica_id, "failed", time=at(10)),
            ev.replica(replica_id, status, time=at(20)),
        ],
        base,
    )
    replica = replica_view(state, replica_id)
    assert replica["status"] == status
    assert replica["stopped_at"] is None


def test_replica_active_status_with_given_stopped_at_keeps_it(
    ev: Events, base: DeploymentState
) -> None:
    """An explicit stopped_at is honoured even for an active status."""
    replica_id = new_id()
    stopped = at(15).isoformat()
    state = fold([ev.replica(replica_id, "running", stopped_at=stopped)], base)
    assert replica_view(state, replica_id)["stopped_at"] == z(at(15))


def test_replica_removed(ev: Events, base: DeploymentState) -> None:
    """replica.removed takes the replica out of the view and leaves the others."""
    first, second = new_id(), new_id()
    state = fold(
        [ev.replica(first, "running"), ev.replica(second, "running"), ev.replica_removed(first)],
        base,
    )
    assert [r["id"] for r in doc(state)["replicas"]] == [second]


def test_replica_removed_unknown_is_harmless(ev: Events, base: DeploymentState) -> None:
    """Removing a replica that is not in the view leaves the replicas unchanged."""
    replica_id = new_id()
    state = fold([ev.replica(replica_id, "running")], base)
    after = fold([ev.replica_removed(new_id())], state)
    assert after.replicas == state.replicas


def test_replicas_in_order_of_first_appearance(ev: Events, base: DeploymentState) -> None:
    """Replicas are listed in the order they first appeared, whatever updates follow."""
    ids = [new_id() for _ in range(4)]
    events = [ev.replica(i, "starting") for i in ids]
    events += [ev.replica(ids[2], "running"), ev.replica(ids[0], "failed")]
    events += [ev.replica(ids[3], "running", time=at(-100))]
    state = fold(events, base)
    assert [r["id"] for r in doc(state)["replicas"]] == ids


def test_replica_updates_render_health(ev: Events, base: DeploymentState) -> None:
    """The document's health follows the replicas and the target."""
    first, second = new_id(), new_id()
    state = fold([ev.replica(first, "running")], base)  # target 2
    assert doc(state)["health"] == "degraded"
    state = fold([ev.replica(second, "running")], state)
    assert doc(state)["health"] == "healthy"
    state = fold([ev.replica(second, "failed")], state)
    assert doc(state)["health"] == "degraded"
    state = fold([ev.replica(first, "failed")], state)
    assert doc(state)["health"] == "unhealthy"
    state = fold([ev.replica_removed(first), ev.replica_removed(second)], state)
    assert doc(state)["health"] == "unhealthy"


# --- updated_at and timestamps -------------------------------------------------------------


def test_updated_at_is_newest_event_time(ev: Events) -> None:
    """updated_at is the newest event time applied, not the last one applied."""
    state = fold([ev.created(time=at(10)), ev.scaled(3, time=at(50))])
    assert doc(state)["updated_at"] == z(at(50))
    state = fold([ev.scaled(4, time=at(20))], state)
    assert doc(state)["updated_at"] == z(at(50))
    assert doc(state)["target_replicas"] == 4
    state = fold([ev.deleted(time=at(5)), ev.deleted(time=at(60))], state)
    assert state.updated_at == z(at(60))


def test_timestamps_render_canonically() -> None:
    """Event times render as UTC with microseconds and a Z."""
    ev = Events()
    moment = datetime(2026, 11, 28, 13, 0, tzinfo=PLUS_ONE)
    replica_id = new_id()
    state = fold(
        [
            ev.created(time=moment),
            ev.status_changed("running", time=moment),
            ev.replica(replica_id, "running", time=moment),
        ]
    )
    document = doc(state)
    expected = "2026-11-28T12:00:00.000000Z"
    assert document["created_at"] == expected
    assert document["updated_at"] == expected
    assert document["recent_status_changes"][0]["changed_at"] == expected
    assert document["replicas"][0]["started_at"] == expected


def test_timestamps_compare_across_offsets(ev: Events) -> None:
    """updated_at compares instants, not local clock readings."""
    earlier_local_later_utc = datetime(2026, 11, 28, 12, 30, tzinfo=timezone(timedelta(hours=-2)))
    later_local_earlier_utc = datetime(2026, 11, 28, 13, 0, tzinfo=PLUS_ONE)
    state = fold(
        [ev.created(time=earlier_local_later_utc), ev.scaled(1, time=later_local_earlier_utc)]
    )
    assert doc(state)["updated_at"] == "2026-11-28T14:30:00.000000Z"


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 11, 28, 13, 0, tzinfo=PLUS_ONE), "2026-11-28T12:00:00.000000Z"),
        (datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=PLUS_ONE), "2025-12-31T23:00:00.000001Z"),
        (BASE_TIME, "2026-11-28T12:00:00.000000Z"),
    ],
)
def test_format_time(moment: datetime, expected: str) -> None:
    """format_time gives UTC, six fractional digits and a Z."""
    assert format_time(moment) == expected


# --- recent status changes -----------------------------------------------------------------


def changes_of(state: DeploymentState) -> list[tuple[str, str | None]]:
    return [(c["changed_at"], c["reason"]) for c in doc(state)["recent_status_changes"]]


def test_history_capped_newest_first(ev: Events, base: DeploymentState) -> None:
    """Only the 10 newest status changes are kept, newest first."""
    events = [ev.status_changed("running", reason=str(i), time=at(100 + i)) for i in range(13)]
    state = fold(events, base)
    assert HISTORY_LIMIT == 10
    assert changes_of(state) == [(z(at(100 + i)), str(i)) for i in range(12, 2, -1)]


def test_history_ties_later_in_log_first(ev: Events, base: DeploymentState) -> None:
    """Status changes with the same changed_at are ordered later-in-the-log first."""
    events = [ev.status_changed("running", reason=r, time=at(100)) for r in ("a", "b", "c")]
    events.insert(1, ev.status_changed("failed", reason="older", time=at(50)))
    state = fold(events, base)
    assert changes_of(state) == [
        (z(at(100)), "c"),
        (z(at(100)), "b"),
        (z(at(100)), "a"),
        (z(at(50)), "older"),
    ]


def test_history_ties_at_the_cap(ev: Events, base: DeploymentState) -> None:
    """At the cap, among equal changed_at the ones earlier in the log are dropped first."""
    events = [ev.status_changed("running", reason=str(i), time=at(100)) for i in range(12)]
    state = fold(events, base)
    assert [r for _, r in changes_of(state)] == [str(i) for i in range(11, 1, -1)]


def test_history_late_arrival_placed_by_time(ev: Events, base: DeploymentState) -> None:
    """A status change arriving late with an old time is placed by its changed_at."""
    events = [
        ev.status_changed("scheduled", reason="t5", time=at(5)),
        ev.status_changed("running", reason="t7", time=at(7)),
        ev.status_changed("pending", reason="t3", time=at(3)),
        ev.status_changed("failed", reason="t6", time=at(6)),
    ]
    state = fold(events, base)
    assert [r for _, r in changes_of(state)] == ["t7", "t6", "t5", "t3"]
    # The status is the last one applied, whatever its time.
    assert doc(state)["status"] == "failed"


def test_history_late_arrival_older_than_kept_is_dropped(ev: Events, base: DeploymentState) -> None:
    """A late status change older than all 10 kept entries does not enter the history."""
    events = [ev.status_changed("running", reason=str(i), time=at(100 + i)) for i in range(10)]
    state = fold(events, base)
    before = changes_of(state)
    state = fold([ev.status_changed("failed", reason="late", time=at(50))], state)
    assert changes_of(state) == before
    assert len(before) == 10


def test_history_late_arrival_newer_than_oldest_evicts_oldest(
    ev: Events, base: DeploymentState
) -> None:
    """A late status change newer than the oldest kept entry is inserted and the oldest drops."""
    events = [ev.status_changed("running", reason=str(i), time=at(100 + 2 * i)) for i in range(10)]
    state = fold(events, base)
    state = fold([ev.status_changed("failed", reason="late", time=at(103))], state)
    reasons = [r for _, r in changes_of(state)]
    assert reasons == ["9", "8", "7", "6", "5", "4", "3", "2", "late", "1"]


def test_history_dropped_entry_never_returns(ev: Events, base: DeploymentState) -> None:
    """Entries that fell out of the 10 do not come back when more old entries arrive."""
    events = [ev.status_changed("running", reason=str(i), time=at(100 + i)) for i in range(11)]
    events += [ev.status_changed("failed", reason=f"old{i}", time=at(i)) for i in range(5)]
    state = fold(events, base)
    assert [r for _, r in changes_of(state)] == [str(i) for i in range(10, 0, -1)]


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
    assert twice.to_json() == once.to_json()
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
    assert after.model_copy(update={"position": 2}) == state


def test_fold_records_skips_redelivered(ev: Events) -> None:
    """fold_records of a redelivered prefix followed by new records equals folding each once."""
    records = list(enumerate([ev.created(), ev.scaled(3), ev.replica(new_id(), "running")]))
    records += [(3, ev.scaled(5)), (4, ev.status_changed("running"))]
    whole = fold_records(None, records)
    first = fold_records(None, records[:3])
    again = fold_records(first, records[1:])
    assert again == whole
    assert fold_records(None, []) is None


# --- the rendered document -----------------------------------------------------------------


def full_state(ev: Events) -> DeploymentState:
    replica_id = new_id()
    return fold(
        [
            ev.created(name="full", target_replicas=1, status="scheduled"),
            ev.resources_allocated(1.5, 256, 1, 8),
            ev.status_changed("running", old_status="scheduled", reason="ok"),
            ev.replica(replica_id, "running", node_id=new_id(), container_id="c"),
            ev.replica(new_id(), "failed"),
        ]
    )


def test_document_keys_in_order(ev: Events) -> None:
    """The document has exactly the contract's keys, in the contract's order."""
    assert list(doc(full_state(ev))) == DOCUMENT_KEYS


def test_document_validates_against_schema(ev: Events) -> None:
    """The rendered bytes validate against api.schemas.StatusDocument."""
    raw = render(full_state(ev))
    assert raw is not None
    model = StatusDocument.model_validate_json(raw)
    assert model.name == "full"
    assert len(model.replicas) == 2
    assert model.health == "degraded"


def test_minimal_document_validates_against_schema(base: DeploymentState) -> None:
    """A just-created deployment's document validates too."""
    StatusDocument.model_validate_json(render(base) or b"")


def test_etag_changes_with_document(ev: Events, base: DeploymentState) -> None:
    """The etag changes when the document changes and is stable when it does not."""
    first = render(base)
    assert first is not None
    assert etag(first) == etag(render(base) or b"")
    assert etag(first) == etag(bytes(first))
    scaled = fold([ev.scaled(5)], base)
    second = render(scaled)
    assert second is not None and second != first
    assert etag(second) != etag(first)


def test_etag_stable_under_duplicate(ev: Events, base: DeploymentState) -> None:
    """A duplicate event leaves the document bytes, and so the etag, unchanged."""
    event = ev.status_changed("running")
    state = fold([event], base)
    again = fold([event], state)
    assert render(again) == render(state)
    assert etag(render(again) or b"") == etag(render(state) or b"")


def test_render_is_deterministic(ev: Events) -> None:
    """Rendering the same state twice gives the same bytes."""
    state = full_state(ev)
    assert render(state) == render(DeploymentState.from_json(state.to_json()))
