"""Fixtures of the pure tests."""

from __future__ import annotations

import pytest
from builders import Clock, Events, fold

from projector.core.state import DeploymentState


@pytest.fixture
def ev() -> Events:
    return Events(clock=Clock())


@pytest.fixture
def base(ev: Events) -> DeploymentState:
    """A created deployment, nothing else."""
    return fold([ev.created(name="api", target_replicas=2)])
