"""The Redis store's compare-and-set: a writer that read an older position loses."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest

from api.notifications import ChangeFeed
from deploystatus.view.changes import Change
from deploystatus.view.client import create_redis
from deploystatus.view.keys import Keys
from events import new_event
from projector.core.fold import apply_record
from projector.store import RedisStatusStore, Write

# The same contract on a single Redis and on a 3-master Redis Cluster.
pytestmark = pytest.mark.parametrize("redis_kind", ["single", "cluster"], indirect=True)


async def test_a_stale_writer_loses_and_the_newer_document_stays(settings):
    """Two writers fold from the same stored position; the second write is refused."""
    deployment_id = str(uuid.uuid4())
    created = new_event(
        "deployment.created",
        deployment_id,
        {"user_id": str(uuid.uuid4()), "name": "web", "target_replicas": 1},
    )
    async with create_redis(settings) as redis:
        store = RedisStatusStore(redis, Keys(settings.redis.prefix), "g-test")
        assert await store.save([Write(apply_record(None, created, 0), -1)]) == set()
        base = (await store.load([deployment_id]))[deployment_id]
        assert base is not None and base.position == 0

        scaled_to = {}
        for writer, (offset, target) in enumerate(((1, 5), (2, 9))):
            event = new_event("deployment.scaled", deployment_id, {"target_replicas": target})
            scaled_to[writer] = Write(apply_record(base, event, offset), expected=base.position)

        assert await store.save([scaled_to[0]]) == set()
        assert await store.save([scaled_to[1]]) == {deployment_id}
        stored = (await store.load([deployment_id]))[deployment_id]
    assert stored == scaled_to[0].state
    assert stored.target_replicas == 5


async def test_unknown_deployments_load_as_none(settings):
    """Loading ids that were never written gives None for each, in one call."""
    ids = [str(uuid.uuid4()) for _ in range(3)]
    async with create_redis(settings) as redis:
        store = RedisStatusStore(redis, Keys(settings.redis.prefix), "g-test")
        assert await store.load(ids) == dict.fromkeys(ids)


async def test_every_position_advance_is_announced_saying_whether_the_document_changed(settings):
    """Each write publishes one message, heard by the API's feed: a repeated event id (the
    document unchanged) is announced as a position-only advance."""
    deployment_id, owner = str(uuid.uuid4()), str(uuid.uuid4())
    created = new_event(
        "deployment.created", deployment_id, {"user_id": owner, "name": "web", "target_replicas": 1}
    )
    scaled = new_event("deployment.scaled", deployment_id, {"target_replicas": 2})
    keys = Keys(settings.redis.prefix)
    heard: list[Change] = []
    all_heard = asyncio.Event()

    def hear(change: Change) -> None:
        heard.append(change)
        if len(heard) == 3:
            all_heard.set()

    feed = ChangeFeed(settings)
    feed.dispatch = hear  # type: ignore[method-assign]
    await feed.start()
    try:
        await asyncio.wait_for(feed.subscribed.wait(), 10)
        async with create_redis(settings) as redis:
            store = RedisStatusStore(redis, keys, "g-test", notify_channel=keys.changes)
            state = None
            for offset, event in enumerate((created, scaled, scaled)):
                expected = state.position if state is not None else -1
                state = apply_record(state, event, offset)
                assert await store.save([Write(state, expected)]) == set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_heard.wait(), 10)
    finally:
        await feed.stop()
    assert heard == [
        Change(deployment_id, owner, 0, document_changed=True),
        Change(deployment_id, owner, 1, document_changed=True),
        Change(deployment_id, owner, 2, document_changed=False),
    ]
