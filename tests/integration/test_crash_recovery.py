"""Crashes and restarts of the projector process never lose or double-apply an event."""

from __future__ import annotations

import random
import signal
import uuid
from pathlib import Path

import pytest
from support.processes import running_projector, start_cli, stop_process
from support.publishing import publish
from support.topics import committed_offsets, read_topic
from support.view import (
    expected_documents,
    expected_states,
    served_generation,
    stored_state,
    wait_for_view,
)
from support.waiting import wait_for

from cli.samples import create_deployment, simulation_step
from deploystatus.view.client import create_redis
from deploystatus.view.keys import Keys

# The same contract on a single Redis and on a 3-master Redis Cluster.
pytestmark = pytest.mark.parametrize("redis_kind", ["single", "cluster"], indirect=True)


CRASHING_PROJECTOR = Path(__file__).with_name("crash_before_commit.py")


async def wait_until_committed(settings, written) -> None:
    """Until the group has committed past every record in ``written``."""
    ends: dict[int, int] = {}
    for metadata in written:
        ends[metadata.partition] = max(ends.get(metadata.partition, 0), metadata.offset + 1)
    await wait_for(
        lambda: committed_offsets(settings),
        lambda offsets: all(offsets[p] == end for p, end in ends.items()),
        "offsets committed to the end of the log",
    )


def scenario(seed: int, deployments: int, changes: int):
    rng = random.Random(seed)
    owner = str(uuid.uuid4())
    deps, events = [], []
    for i in range(deployments):
        dep, created = create_deployment(owner, f"app-{i}", 2, rng)
        deps.append(dep)
        events += created
    for _ in range(changes):
        events += simulation_step(rng.choice(deps), rng)
    return events


async def test_kill_between_write_and_commit_applies_nothing_twice(settings, tmp_path):
    """SIGKILL after the Redis write but before the commit: after a restart, each event is
    applied exactly once (documents and fold states equal the fold of the log)."""
    events = scenario(seed=11, deployments=6, changes=40)
    written = await publish(settings, events)

    process = start_cli(settings, script=CRASHING_PROJECTOR, log=tmp_path / "crashing.log")
    assert stop_process(process, sig=0, timeout=60) == -signal.SIGKILL
    assert set((await committed_offsets(settings)).values()) == {0}, "nothing may be committed"
    states_after_crash = [await stored_state(settings, e.deployment_id) for e in events]
    assert any(states_after_crash), "the crashing projector wrote before dying"

    async with running_projector(settings):
        await wait_for_view(settings, events)
        await wait_until_committed(settings, written)

    for deployment_id, expected in expected_states(events).items():
        stored = await stored_state(settings, deployment_id)
        assert stored is not None
        assert stored.events_applied == expected.events_applied
        assert stored.history == expected.history


async def test_sigterm_finishes_commits_and_exits_zero(settings, tmp_path):
    """SIGTERM: the projector commits what it applied and exits 0; a successor has nothing
    left to redo."""
    events = scenario(seed=12, deployments=4, changes=20)
    written = await publish(settings, events)
    process = start_cli(settings, "projector", log=tmp_path / "projector.log")
    try:
        await wait_for_view(settings, events)
        await wait_until_committed(settings, written)
    finally:
        returncode = stop_process(process, signal.SIGTERM)
    assert returncode == 0, (tmp_path / "projector.log").read_text()
    assert "projector stopped" in (tmp_path / "projector.log").read_text()


async def test_kill_before_the_fanout_is_made_good_on_redelivery(settings, tmp_path):
    """SIGKILL after the Redis write but before the owner index and the changelog were fed:
    the restarted projector finds every record of the batch applied already, and still feeds
    both (they would otherwise miss these deployments until their next event)."""
    events = scenario(seed=12, deployments=4, changes=10)
    owner = str(events[0].data.user_id)
    await publish(settings, events)
    crashing = start_cli(
        settings,
        script=CRASHING_PROJECTOR,
        log=tmp_path / "crashing.log",
        env={"CRASH_BEFORE": "fanout"},
    )
    assert stop_process(crashing, sig=0, timeout=60) == -signal.SIGKILL

    expected = expected_documents(events)
    async with running_projector(settings):
        await wait_for_view(settings, events)
        keys = Keys(settings.redis.prefix)
        async with create_redis(settings) as redis:
            await wait_for(
                lambda: served_generation(settings),
                lambda generation: generation is not None,
                "a served generation",
            )
            owned_key = keys.owned(await served_generation(settings), owner)
            await wait_for(
                lambda: redis.smembers(owned_key),
                lambda members: {m.decode() for m in members} == set(expected),
                "the owner index",
            )
        await wait_for(
            lambda: read_topic(settings, settings.kafka.status_topic, 10**6, patience=1),
            lambda records: (
                {r.key.decode(): r.value for r in records if r.key.decode() in expected} == expected
            ),
            "the changelog's latest documents",
        )
