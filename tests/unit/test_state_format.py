"""The fold state's stored form (projector.core.stored_state): a versioned format apart from
the status document, compact, beside a document only what the document lacks; the formats
already stored are read as they are, and one this version cannot read is refused with a
message that says what to do."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from projector.core.document import render
from projector.core.history import History, StatusChange
from projector.core.state import (
    DeploymentState,
    ReplicaState,
    ResourcesState,
    event_digest,
)
from projector.core.stored_state import (
    DOCUMENT_FIELDS,
    FORMAT_BESIDE_DOCUMENT,
    decode_whole,
    encode_whole,
    from_stored,
    to_stored,
)
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

# What the version before this one stored for a served deployment (its status document, and
# beside it the untagged format 2), and for one not served (format 1, whole).
PREVIOUS_DOCUMENT = (
    b'{"deployment_id":"6f1c2a34-0000-4000-8000-000000000001","name":"web","status":"running",'
    b'"health":"healthy","target_replicas":1,"replicas":[{"id":"r1","node_id":null,'
    b'"status":"running","container_id":"c1","started_at":"2026-11-28T12:00:01.000000Z",'
    b'"stopped_at":null}],"resources":{"cpu_cores":0.5,"memory_mb":512,"gpu_units":0,'
    b'"storage_gb":10},"recent_status_changes":[{"old_status":null,"new_status":"running",'
    b'"changed_at":"2026-11-28T12:00:01.000000Z","reason":"up"}],'
    b'"created_at":"2026-11-28T12:00:00.000000Z","updated_at":"2026-11-28T12:00:01.000000Z"}'
)
PREVIOUS_BESIDE = (
    b'{"owner":"6f1c2a34-0000-4000-8000-000000000002","events_applied":2,'
    b'"recent_events":"G11eUfVPDwT+0TUILw7/eA==","position":5}'
)
PREVIOUS_WHOLE = (
    b'{"deployment_id":"6f1c2a34-0000-4000-8000-000000000001","created":true,"deleted":false,'
    b'"owner":"6f1c2a34-0000-4000-8000-000000000002","name":"web","status":"running",'
    b'"target_replicas":1,"resources":[0.5,512,0,10],'
    b'"replicas":[["r1","running",null,"c1","2026-11-28T12:00:01.000000Z",null]],'
    b'"history":[{"old_status":null,"new_status":"running",'
    b'"changed_at":"2026-11-28T12:00:01.000000Z","reason":"up"}],'
    b'"created_at":"2026-11-28T12:00:00.000000Z","updated_at":"2026-11-28T12:00:01.000000Z",'
    b'"events_applied":2,"recent_events":"G11eUfVPDwT+0TUILw7/eA==","position":5}'
)
PREVIOUS_STATE = DeploymentState(
    "6f1c2a34-0000-4000-8000-000000000001",
    created=True,
    owner="6f1c2a34-0000-4000-8000-000000000002",
    name="web",
    status="running",
    target_replicas=1,
    resources=ResourcesState(0.5, 512, 0, 10),
    replicas=(ReplicaState("r1", "running", None, "c1", "2026-11-28T12:00:01.000000Z"),),
    history=History.of([StatusChange.of(None, "running", "2026-11-28T12:00:01.000000Z", "up")]),
    created_at="2026-11-28T12:00:00.000000Z",
    updated_at="2026-11-28T12:00:01.000000Z",
    events_applied=2,
    recent_events=(event_digest("e1") + event_digest("e2")),
    position=5,
)


def test_a_state_of_an_older_version_is_refused_naming_the_way_out():
    """A whole state from before issue 7 raises IncompatibleState naming the rebuild."""
    with pytest.raises(IncompatibleState, match="deploystatus rebuild"):
        decode_whole(orjson.dumps(OLDER))


def test_event_ids_are_kept_as_fixed_size_digests():
    """Event ids of any length are remembered as 8-byte digests, which survive the stored form."""
    state = DeploymentState("d", recent_events=event_digest("x" * 500) + event_digest("y"))
    assert len(state.recent_events) == 16
    assert decode_whole(encode_whole(state)) == state


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
        history=History.of(
            [
                StatusChange.of("pending", "running", "2026-11-28T12:00:02.000000Z", SPELLS_KEY),
                StatusChange.of(None, "pending", "2026-11-28T12:00:00.000000Z", "line\nbreak"),
            ]
        ),
        created_at="2026-11-28T12:00:00.000000Z",
        updated_at="2026-11-28T12:00:02.000000Z",
        events_applied=3,
        recent_events=(event_digest("e1")),
        position=7,
    )


def test_every_field_survives_the_stored_form():
    """The whole form (format 1) gives back an equal state."""
    state = full_state()
    assert decode_whole(encode_whole(state)) == state


def test_history_entries_are_stored_as_the_documents_objects():
    """The whole form keeps the history as the document's status-change objects."""
    stored = orjson.loads(encode_whole(full_state()))
    assert stored["history"][1] == {
        "old_status": None,
        "new_status": "pending",
        "changed_at": "2026-11-28T12:00:00.000000Z",
        "reason": "line\nbreak",
    }


def test_entries_are_split_and_read_whatever_their_reasons_spell():
    """A reason spelling the changed_at key does not fool the history's reading of times."""
    history = full_state().history
    newest, oldest = history.changes()
    assert newest.changed_at == history.newest_changed_at() == b"2026-11-28T12:00:02.000000Z"
    assert oldest.changed_at == b"2026-11-28T12:00:00.000000Z"


def test_a_history_of_the_older_array_form_is_refused():
    """History entries stored as arrays (before issue 7) raise IncompatibleState."""
    stored = orjson.loads(encode_whole(full_state()))
    stored["history"] = [["pending", "running", "2026-11-28T12:00:02.000000Z", None, 1]]
    with pytest.raises(IncompatibleState, match="deploystatus rebuild"):
        decode_whole(orjson.dumps(stored))


def test_the_document_embeds_the_entries_as_its_recent_status_changes():
    """The document's recent_status_changes are the history's entries, in order."""
    changes = orjson.loads(render(full_state()) or b"")["recent_status_changes"]
    assert [c["reason"] for c in changes] == [SPELLS_KEY, "line\nbreak"]


# --- beside the document (format 2) --------------------------------------------------------


def test_a_served_state_is_stored_as_what_its_document_lacks():
    """A served state is stored as format 2, tagged, holding only what the document lacks."""
    state = full_state()
    document = render(state)
    assert document is not None
    stored = orjson.loads(to_stored(state, document))
    assert stored == {
        "format": FORMAT_BESIDE_DOCUMENT,
        "owner": state.owner,
        "events_applied": 3,
        "recent_events": "G11eUfVPDwQ=",
        "position": 7,
    }
    assert from_stored(to_stored(state, document), document) == state


def test_the_document_holds_every_field_format_2_reads():
    """Format 2 reads these fields of the document (the API's contract): if the document's
    shape changes, this fails, and the change needs a new stored format."""
    document = orjson.loads(render(full_state()) or b"")
    assert set(DOCUMENT_FIELDS) <= set(document)
    assert set(document) - set(DOCUMENT_FIELDS) == {"health"}  # derived, not state


def test_a_state_not_served_is_stored_whole():
    """A state with no document (deleted, or not yet created) is stored as format 1."""
    state = dataclasses.replace(full_state(), deleted=True)
    assert render(state) is None
    assert to_stored(state, None) == encode_whole(state)
    assert from_stored(to_stored(state, None), None) == state


def test_what_the_version_before_stored_is_read_as_it_is():
    """The untagged format 2 and the whole states written by the version before are read."""
    assert render(PREVIOUS_STATE) == PREVIOUS_DOCUMENT
    assert from_stored(PREVIOUS_BESIDE, PREVIOUS_DOCUMENT) == PREVIOUS_STATE
    assert from_stored(PREVIOUS_WHOLE, PREVIOUS_DOCUMENT) == PREVIOUS_STATE
    assert from_stored(PREVIOUS_WHOLE, None) == PREVIOUS_STATE


def test_what_this_version_stores_the_version_before_reads():
    """Format 2 differs from the version before's only by its tag, which its reader ignores,
    and format 1 not at all: projectors of both versions may share a generation."""
    tagged = orjson.loads(to_stored(PREVIOUS_STATE, PREVIOUS_DOCUMENT))
    assert tagged.pop("format") == FORMAT_BESIDE_DOCUMENT
    assert tagged == orjson.loads(PREVIOUS_BESIDE)
    assert encode_whole(PREVIOUS_STATE) == PREVIOUS_WHOLE


def test_a_format_of_a_newer_version_is_refused():
    """A format tag this version does not know raises IncompatibleState naming the rebuild."""
    stored = orjson.loads(PREVIOUS_BESIDE) | {"format": FORMAT_BESIDE_DOCUMENT + 1}
    with pytest.raises(IncompatibleState, match=r"newer deploystatus.*deploystatus rebuild"):
        from_stored(orjson.dumps(stored), PREVIOUS_DOCUMENT)


def test_a_partial_state_without_its_document_means_the_view_was_lost():
    """Format 2 without its document raises ViewLost."""
    state = full_state()
    with pytest.raises(ViewLost, match="document is gone"):
        from_stored(to_stored(state, render(state)), None)


def test_a_partial_state_that_does_not_fit_its_document_is_refused():
    """Format 2 missing one of its fields raises IncompatibleState naming the rebuild."""
    state = full_state()
    document = render(state)
    assert document is not None
    partial = orjson.loads(to_stored(state, document))
    del partial["events_applied"]
    with pytest.raises(IncompatibleState, match="deploystatus rebuild"):
        from_stored(orjson.dumps(partial), document)
