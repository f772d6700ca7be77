"""The fold: effects of the deployment events."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Literal, get_args

from builders import USER_ID, Events, at, doc, fold, new_id, z

from api.schemas import StatusDocument
from events.models import EVENT_TYPES, MODELS, Event
from events.structs import STRUCTS, FastEvent
from projector.core.document import render
from projector.core.fold import EFFECTS, apply
from projector.core.state import DeploymentState

PLUS_ONE = timezone(timedelta(hours=1))


def test_every_event_type_has_an_effect() -> None:
    """The fold has one effect per event type of the contract, and the contract's model and
    the fast decoder's Struct of each type are those of the Event and FastEvent unions."""
    assert list(EFFECTS) == list(EVENT_TYPES)
    assert set(MODELS.values()) == set(get_args(get_args(Event)[0]))
    assert set(STRUCTS.values()) == set(get_args(FastEvent))
    for type_, model in MODELS.items():
        assert model.model_fields["type"].annotation == Literal[type_]
    assert list(STRUCTS) == list(MODELS)


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
