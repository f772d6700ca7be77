"""Wiring and lifetime of one projector process: clients, topics, start-up, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer

from deploystatus.connections import create_producer, create_redis
from deploystatus.keys import Keys
from deploystatus.settings import Settings
from deploystatus.topics import ensure_topics
from projector.consumer import Projector
from projector.dead_letters import DeadLetters
from projector.retry import Stopped, retry
from projector.store import RedisStatusStore

log = logging.getLogger(__name__)
STATS_INTERVAL_SECONDS = 10.0


@contextlib.asynccontextmanager
async def open_projector(settings: Settings, stopping: asyncio.Event) -> AsyncIterator[Projector]:
    """Start every client the projector needs (waiting out a broker or Redis that is not up
    yet) and stop them all on exit. Setting ``stopping`` ends start-up retries and the loop."""
    redis = create_redis(settings)
    store = RedisStatusStore(redis, Keys(settings.redis_prefix))
    producer = create_producer(settings, "deploystatus-projector-dlq")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.consumer_group,
        client_id="deploystatus-projector",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.projector_batch_size,
    )
    try:
        await retry(lambda: ensure_topics(settings), "topic creation", stopping)
        await retry(store.ping, "Redis connection", stopping)
        await retry(producer.start, "dead-letter producer start", stopping)
        await retry(consumer.start, "consumer start", stopping)
        projector = Projector(
            consumer,
            store,
            DeadLetters(producer, settings.dlq_topic),
            topic=settings.events_topic,
            batch_size=settings.projector_batch_size,
            poll_timeout_ms=settings.projector_poll_timeout_ms,
            stopping=stopping,
        )
        projector.subscribe()
        yield projector
    finally:
        await consumer.stop()
        await producer.stop()
        await redis.aclose()


async def run_projector(settings: Settings, stopping: asyncio.Event | None = None) -> None:
    """Run until ``stopping`` is set (by default: until SIGTERM/SIGINT), then finish the batch
    in hand, commit it and return."""
    if stopping is None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
    try:
        async with open_projector(settings, stopping) as projector:
            await _run(projector, settings)
    except Stopped as stopped:
        # Nothing unapplied was committed: the next owner of the partitions redoes it.
        log.info("stopped while waiting for %s", stopped)


async def _run(projector: Projector, settings: Settings) -> None:
    reporter = asyncio.create_task(_report(projector))
    log.info("projector consuming %r as group %r", settings.events_topic, settings.consumer_group)
    try:
        await projector.run()
    finally:
        reporter.cancel()
        log.info("projector stopped: %s", projector.stats)


async def _report(projector: Projector) -> None:
    while True:
        await asyncio.sleep(STATS_INTERVAL_SECONDS)
        log.info("projector progress: %s", projector.stats)
