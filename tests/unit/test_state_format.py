"""The fold state's stored form: compact, and a state written by an older version is refused
with a message that says what to do."""

from __future__ import annotations

import orjson
import pytest

from projector.exceptions import IncompatibleState
from projector.state import DeploymentState, event_digest

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
