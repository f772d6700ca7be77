"""The fold state's stored form: compact, beside its document only what the document lacks,
and a state written by an older version is refused with a message that says what to do."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from projector.core.document import render
from projector.core.state import (
    DeploymentState,
    ReplicaState,
    ResourcesState,
    changed_at,
    event_digest,
    history_entries,
    status_change,
)
from projector.core.stored_state import from_stored, to_stored
from projector.exceptions import IncompatibleState, ViewLost

# What deploystatus wrote before issue 7: objects for the value types, the last event ids.
OLDER = {
    "deployment_id": "6f1c2a34-0000-4000-8000-000000000001",
    "created": True,
    "deleted": False,
    "owner": "6f1c2a34-0000-4000-8000-000000000002",
    "name": "web",
    "status": "running",
    "target_replicas": 1,
    "resources": {"cpu_cores": 0.5, "memory_mb": 512, "gpu_units": 0, "storage_gb": 10},
    "replicas": [],
    "history": [],
    "created_at": "2026-11-28T12:00:00.000000Z",
    "updated_at": "2026-11-28T12:00:00.000000Z",
    "events_applied": 1,
    "recent_event_ids": ["e1"],
    "position": 0,
}


def test_a_state_of_an_older_version_is_refused_naming_the_way_out():
    with pytest.raises(IncompatibleState, match="deploystatus rebuild"):
        DeploymentState.from_json(orjson.dumps(OLDER))


def test_event_ids_are_kept_as_fixed_size_digests():
    state = DeploymentState("d", recent_events=event_digest("x" * 500) + event_digest("y"))
    assert len(state.recent_events) == 16
    assert DeploymentState.from_json(state.to_json()) == state


SPELLS_KEY = 'a reason with "changed_at":"2000-01-01T00:00:00.000000Z" in it'


def full_state() -> DeploymentState:
    return DeploymentState(
        "6f1c2a34-0000-4000-8000-000000000001",
        created=True,
        owner="6f1c2a34-0000-4000-8000-000000000002",
        name="web",
        status="running",
        target_replicas=2,
        resources=ResourcesState(0.5, 512, 0, 10),
        replicas=(ReplicaState("r1", "running", "n1", "c1", "2026-11-28T12:00:01.000000Z"),),
        history=b"\n".join(
            [
                status_change("pending", "running", "2026-11-28T12:00:02.000000Z", SPELLS_KEY),
                status_change(None, "pending", "2026-11-28T12:00:00.000000Z", "line\nbreak"),
            ]
        ),
        created_at="2026-11-28T12:00:00.000000Z",
        updated_at="2026-11-28T12:00:02.000000Z",
        events_applied=3,
        recent_events=event_digest("e1"),
        position=7,
    )


def test_every_field_survives_the_stored_form():
    state = full_state()
    assert DeploymentState.from_json(state.to_json()) == state


def test_history_entries_are_stored_as_the_documents_objects():
    stored = orjson.loads(full_state().to_json())
    assert stored["history"][1] == {
        "old_status": None,
        "new_status": "pending",
        "changed_at": "2026-11-28T12:00:00.000000Z",
        "reason": "line\nbreak",
    }


def test_entries_are_split_and_read_whatever_their_reasons_spell():
    newest, oldest = history_entries(full_state().history)
    assert changed_at(newest) == b"2026-11-28T12:00:02.000000Z"
    assert changed_at(oldest) == b"2026-11-28T12:00:00.000000Z"


def test_a_history_of_the_older_array_form_is_refused():
    stored = orjson.loads(full_state().to_json())
    stored["history"] = [["pending", "running", "2026-11-28T12:00:02.000000Z", None, 1]]
    with pytest.raises(IncompatibleState, match="deploystatus rebuild"):
        DeploymentState.from_json(orjson.dumps(stored))


def test_the_document_embeds_the_entries_as_its_recent_status_changes():
    changes = orjson.loads(render(full_state()) or b"")["recent_status_changes"]
    assert [c["reason"] for c in changes] == [SPELLS_KEY, "line\nbreak"]


# --- beside the document (projector.core.stored_state) ------------------------------------------


def test_a_served_state_is_stored_as_what_its_document_lacks():
    state = full_state()
    document = render(state)
    assert document is not None
    stored = orjson.loads(to_stored(state, document))
    assert set(stored) == {"owner", "events_applied", "recent_events", "position"}
    assert from_stored(to_stored(state, document), document) == state


def test_a_state_not_served_is_stored_whole():
    state = dataclasses.replace(full_state(), deleted=True)
    assert render(state) is None
    assert to_stored(state, None) == state.to_json()
    assert from_stored(to_stored(state, None), None) == state


def test_a_whole_state_beside_its_document_is_read_as_it_is():
    """What the versions before this form stored for a served deployment."""
    state = full_state()
    assert from_stored(state.to_json(), render(state)) == state


def test_a_partial_state_without_its_document_means_the_view_was_lost():
    state = full_state()
    with pytest.raises(ViewLost, match="document is gone"):
        from_stored(to_stored(state, render(state)), None)


def test_a_partial_state_that_does_not_fit_its_document_is_refused():
    state = full_state()
    document = render(state)
    assert document is not None
    partial = orjson.loads(to_stored(state, document))
    del partial["events_applied"]
    with pytest.raises(IncompatibleState, match="deploystatus rebuild"):
        from_stored(orjson.dumps(partial), document)
