"""The fold: replica events and their timestamp rules."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from builders import Events, at, doc, fold, new_id, replica_view, z

from projector.core.state import DeploymentState

PLUS_ONE = timezone(timedelta(hours=1))


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
