"""The projector's in-memory state cache: bounded, emptied of revoked partitions, counted."""

from __future__ import annotations

import dataclasses
import uuid

from prometheus_client import REGISTRY

from projector.core.state import DeploymentState
from projector.state_cache import StateCache


def state(position: int = 0) -> DeploymentState:
    return DeploymentState(deployment_id=str(uuid.uuid4()), position=position)


def test_least_recently_used_state_goes_first():
    """Over its size, the cache forgets the state used longest ago."""
    cache = StateCache(2)
    a, b, c = state(), state(), state()
    cache.put(0, a)
    cache.put(0, b)
    assert cache.get(a.deployment_id) is a
    cache.put(0, c)
    assert cache.get(b.deployment_id) is None
    assert cache.get(a.deployment_id) is a
    assert cache.get(c.deployment_id) is c


def test_newer_state_replaces_the_cached_one():
    """Putting a deployment's state again keeps only the latest one."""
    cache = StateCache(5)
    old = state(position=3)
    new = dataclasses.replace(old, position=7)
    cache.put(1, old)
    cache.put(1, new)
    assert cache.get(old.deployment_id) is new
    assert len(cache) == 1


def test_revoked_partitions_and_conflicts_are_dropped():
    """States of revoked partitions and of refused writes are forgotten, others kept."""
    cache = StateCache(10)
    kept, revoked, conflicted = state(), state(), state()
    cache.put(0, kept)
    cache.put(1, revoked)
    cache.put(0, conflicted)
    cache.drop_partitions({1})
    cache.discard({conflicted.deployment_id})
    assert cache.get(revoked.deployment_id) is None
    assert cache.get(conflicted.deployment_id) is None
    assert cache.get(kept.deployment_id) is kept


def test_size_zero_turns_it_off():
    """A cache of size 0 never holds anything."""
    cache = StateCache(0)
    cache.put(0, state())
    assert len(cache) == 0


def test_the_gauge_counts_the_states_of_every_cache():
    """deploystatus_projector_cached_states is the sum over the process's caches, as held."""

    def held() -> float | None:
        return REGISTRY.get_sample_value("deploystatus_projector_cached_states")

    first, second = StateCache(5), StateCache(5)
    before = held()
    assert before is not None
    first.put(0, state())
    second.put(0, state())
    dropped = state()
    second.put(1, dropped)
    assert held() == before + 3
    second.drop_partitions({1})
    assert held() == before + 2
