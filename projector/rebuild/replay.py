"""Replaying some partitions of the events topic into a generation being built: the work of
a rebuild, done by its own process and by its helper processes (``projector.rebuild.workers``)
alike, each for its share of the partitions."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

from aiokafka import TopicPartition

from deploystatus.kafka import create_consumer
from deploystatus.settings import Settings
from deploystatus.view.store import Generations
from projector.consumer import Projector
from projector.fanout import Fanout
from projector.generations import group_of
from projector.store import StatusStore

# How often, between batches, the replay asks whether to stop (and the rebuild moves on).
CHECK_SECONDS = 0.5


async def replay(
    settings: Settings,
    generations: Generations,
    store: StatusStore,
    partitions: Iterable[int],
    stopping: asyncio.Event,
    should_leave: Callable[[], Awaitable[bool]],
) -> None:
    """Fold ``partitions`` into ``store``'s generation until ``should_leave()`` says so or
    ``stopping`` is set; what was applied is committed before it returns."""
    # The generation's group's committed offsets are where --resume continues, and where the
    # projectors start when they move to the new generation. The partitions are assigned,
    # not subscribed: no group join to wait for, and each process keeps its share.
    consumer = create_consumer(
        settings,
        "deploystatus-rebuild",
        group_of(settings.kafka.consumer_group, store.generation),
        settings.projector.rebuild_batch_size,
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(settings.kafka.events_topic, p) for p in partitions])
        projector = Projector(
            consumer,
            store,
            generations,
            None,  # the projectors dead-letter bad records; a replay must not repeat them
            batch_size=settings.projector.rebuild_batch_size,
            poll_timeout_ms=settings.projector.poll_timeout_ms,
            stopping=stopping,
            # The new generation needs its own owner index; the changelog is the
            # projectors' (the replay would only repeat documents it already holds).
            fanout=Fanout(store, None),
        )
        await projector.run(should_leave, check_every=CHECK_SECONDS)
    finally:
        await consumer.stop()
