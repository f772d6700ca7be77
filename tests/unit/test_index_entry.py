"""When the owner index must be written again for a state this process wrote last."""

from __future__ import annotations

import dataclasses

from projector.core.state import DeploymentState
from projector.fanout import index_entry_changed

OWNED = DeploymentState("d-1", created=True, owner="u-1", status="running")


def test_a_new_deployment_is_indexed() -> None:
    assert index_entry_changed(None, OWNED)


def test_an_unchanged_entry_is_not_written_again() -> None:
    later = dataclasses.replace(OWNED, status="failed", events_applied=5, position=9)
    assert not index_entry_changed(OWNED, later)


def test_deletion_and_a_new_owner_change_the_entry() -> None:
    assert index_entry_changed(OWNED, dataclasses.replace(OWNED, deleted=True))
    assert index_entry_changed(OWNED, dataclasses.replace(OWNED, owner="u-2"))
    assert index_entry_changed(DeploymentState("d-1"), OWNED)  # created: now served
