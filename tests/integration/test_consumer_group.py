"""Several projectors in one consumer group build the same view as one projector."""

from __future__ import annotations

import pytest
from support.processes import running_projector
from support.publishing import publish
from support.view import expected_documents, stored_documents, wait_for_view
from test_crash_recovery import scenario

# The same contract on a single Redis and on a 3-master Redis Cluster.
pytestmark = pytest.mark.parametrize("redis_kind", ["single", "cluster"], indirect=True)


async def test_two_projectors_in_one_group_equal_one_projector(settings):
    """Two group members over 12 partitions, the second joining mid-stream (a rebalance),
    serve byte for byte what a lone projector serves for the same log."""
    events = scenario(seed=21, deployments=40, changes=400)
    first_half, second_half = events[: len(events) // 2], events[len(events) // 2 :]

    async with running_projector(settings):
        await publish(settings, first_half)
        async with running_projector(settings):
            await publish(settings, second_half)
            await wait_for_view(settings, events)
    pair_view = await stored_documents(settings, expected_documents(events))

    lone = settings.replace(
        consumer_group=settings.kafka.consumer_group + "-lone",
        redis_prefix=settings.redis.prefix + ":lone",
    )
    async with running_projector(lone):
        await wait_for_view(lone, events)
    lone_view = await stored_documents(lone, expected_documents(events))

    assert pair_view == lone_view
    assert all(document is not None for document in pair_view.values())
