"""Wiring and lifetime of one projector process: which generation it feeds, its clients,
start-up, the switch between generations, and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from functools import partial

from prometheus_client import start_http_server

from deploystatus.kafka import create_consumer, create_producer
from deploystatus.settings import Settings
from deploystatus.signals import stop_on_signals
from deploystatus.startup import CannotListen, reach_kafka, reach_redis
from deploystatus.topics import end_offsets, ensure_topics
from deploystatus.view.client import RedisClient, create_redis, ping_every_node
from deploystatus.view.fence import ServerFence
from deploystatus.view.generations import RedisGenerations
from deploystatus.view.keys import Keys
from deploystatus.view.store import Build, Generations
from projector import metrics
from projector.changelog import Changelog
from projector.consumer import Projector
from projector.dead_letters import DeadLetters, dead_lettered_offsets
from projector.exceptions import ViewLost
from projector.fanout import Fanout
from projector.generations import group_of
from projector.retry import Stopped, retry
from projector.rollbacks import check_on_assignment
from projector.store import RedisStatusStore

log = logging.getLogger(__name__)
STATS_INTERVAL_SECONDS = 10.0
LAG_INTERVAL_SECONDS = 2.0


@dataclass
class Role:
    """The generation this process feeds, and the build it takes part in, if any."""

    generation: str
    build: Build | None = None


async def run_projector(settings: Settings, stopping: asyncio.Event | None = None) -> None:
    """Run until ``stopping`` is set (by default: until SIGTERM/SIGINT), then finish the batch
    in hand, commit it and return."""
    if stopping is None:
        stopping = stop_on_signals()
    if settings.projector.metrics_port:
        start_metrics_server(settings.projector.metrics_port, settings.projector.metrics_host)
    fence = ServerFence()
    redis = create_redis(settings, fence=fence)
    generations = RedisGenerations(redis, Keys(settings.redis.prefix))
    cleaner = GenerationCleaner(generations, settings.projector.generation_grace_seconds)
    try:
        # At start-up the log lines name the setting that points at what does not answer.
        await retry(lambda: reach_kafka(settings), "connecting to Kafka", stopping)
        await retry(lambda: reach_redis(redis, settings), "connecting to Redis", stopping)
        await retry(lambda: ensure_topics(settings), "topic creation", stopping)
        # The servers met now are the ones this process writes to; any other one met later
        # may hold an older view (see projector.rollbacks).
        await retry(lambda: ping_every_node(redis), "Redis", stopping)
        fence.arm()
        while not stopping.is_set():
            role = await retry(lambda: choose_role(settings, generations), "generation", stopping)
            cleaner.schedule()
            try:
                await _feed(settings, redis, fence, generations, role, cleaner, stopping)
            except ViewLost as lost:
                log.error("%s; choosing the generation again", lost)
    except Stopped as stopped:
        # Nothing unapplied was committed: the next owner of the partitions redoes it.
        log.info("stopped while waiting for %s", stopped)
    finally:
        await cleaner.close()
        await redis.aclose()
        log.info("projector stopped")


async def choose_role(settings: Settings, generations: Generations) -> Role:
    """Serve the current generation; join a build the projectors run; or, when Redis holds
    no generation at all (first start, or Redis lost its data), start building one from the
    beginning of the log."""
    while True:
        current, build = await generations.current(), await generations.building()
        if build is not None and (current is None or build.builder == "projectors"):
            return Role(build.generation, build)
        if current is not None:
            return Role(current)
        build = await generations.begin("projectors", await end_offsets(settings))
        if build is not None:
            log.warning(
                "Redis serves no generation (first start, or it lost its data): building %s "
                "from the beginning of the log",
                build.generation,
            )
            return Role(build.generation, build)


async def _feed(
    settings: Settings,
    redis: RedisClient,
    fence: ServerFence,
    generations: Generations,
    role: Role,
    cleaner: GenerationCleaner,
    stopping: asyncio.Event,
) -> None:
    """Consume into ``role.generation`` until stopped or the generation changes."""
    keys = Keys(settings.redis.prefix)
    store = RedisStatusStore(redis, keys, role.generation, keys.changes, fence)
    already_dead = await retry(lambda: _dead_lettered(settings), "dead-letter scan", stopping)
    # Dead letters and changelog records are sent a batch at a time and awaited: no linger.
    producer = create_producer(settings, "deploystatus-projector", linger_ms=0)
    consumer = create_consumer(
        settings,
        "deploystatus-projector",
        group_of(settings.kafka.consumer_group, role.generation),
        settings.projector.batch_size,
    )
    try:
        await retry(producer.start, "dead-letter producer start", stopping)
        await retry(consumer.start, "consumer start", stopping)
        projector = Projector(
            consumer,
            store,
            generations,
            DeadLetters(producer, settings.kafka.dlq_topic, already_dead),
            batch_size=settings.projector.batch_size,
            poll_timeout_ms=settings.projector.poll_timeout_ms,
            stopping=stopping,
            fanout=Fanout(
                store,
                Changelog(producer, settings.kafka.status_topic)
                if settings.kafka.status_topic
                else None,
            ),
        )
        watch = GenerationWatch(generations, role, cleaner)
        projector.subscribe(
            settings.kafka.events_topic,
            on_assigned=partial(check_on_assignment, consumer, store, generations),
        )
        log.info(
            "projector %s generation %s (group %r)",
            "building" if role.build else "serving",
            role.generation,
            group_of(settings.kafka.consumer_group, role.generation),
        )
        reporter = asyncio.create_task(_report(projector))
        role_name = "building" if role.build else "serving"
        metrics.GENERATION.labels(role.generation, role_name).set(1)
        try:
            await projector.run(watch.should_leave)
        finally:
            reporter.cancel()
            metrics.GENERATION.remove(role.generation, role_name)
            log.info("projector of generation %s: %s", role.generation, projector.stats)
    finally:
        await consumer.stop()
        await producer.stop()


class GenerationWatch:
    """Asked between batches whether this process should move to another generation, and
    the one that promotes a build once it has caught up with the log."""

    def __init__(self, generations: Generations, role: Role, cleaner: GenerationCleaner) -> None:
        self._generations = generations
        self._role = role
        self._cleaner = cleaner

    async def should_leave(self) -> bool:
        role, generations = self._role, self._generations
        current, build = await generations.current(), await generations.building()
        if role.build is not None:
            if build is None or build.generation != role.generation:
                # Promoted by another member of the group, or abandoned.
                role.build = None
                return current != role.generation
            if not build.caught_up(await generations.applied(role.generation)):
                return False
            previous = await generations.promote(role.generation)
            if previous is not None:
                log.info("generation %s caught up with the log and is now served", role.generation)
                role.build = None
                self._cleaner.schedule()
            return False
        return current != role.generation or (build is not None and build.builder == "projectors")


class GenerationCleaner:
    """Deletes generations that are neither served nor being built, after a grace period
    that lets every API process notice a switch first."""

    def __init__(self, generations: Generations, grace_seconds: float) -> None:
        self._generations = generations
        self._grace_seconds = grace_seconds
        self._task: asyncio.Task[None] | None = None

    def schedule(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._clean())

    async def _clean(self) -> None:
        await asyncio.sleep(self._grace_seconds)
        try:
            for generation in await self._generations.stale():
                removed = await self._generations.delete(generation)
                log.info("deleted generation %s (%d keys)", generation, removed)
        except Exception:
            log.exception("cleaning old generations failed; the next switch tries again")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def _dead_lettered(settings: Settings) -> dict[int, int]:
    consumer = create_consumer(settings, "deploystatus-dlq-scan")
    await consumer.start()
    try:
        return await dead_lettered_offsets(
            consumer, settings.kafka.dlq_topic, settings.kafka.events_topic
        )
    finally:
        await consumer.stop()


async def _report(projector: Projector) -> None:
    last_log = time.monotonic()
    while True:
        await asyncio.sleep(LAG_INTERVAL_SECONDS)
        await projector.report_lag()
        if time.monotonic() - last_log >= STATS_INTERVAL_SECONDS:
            last_log = time.monotonic()
            log.info("projector of generation %s: %s", projector.generation, projector.stats)


_metrics_servers: set[tuple[str, int]] = set()


def start_metrics_server(port: int, host: str) -> None:
    """Serve /metrics on ``host:port`` (a daemon thread), once per process and address;
    ``CannotListen`` when that address is taken or not this host's."""
    if (host, port) in _metrics_servers:
        return
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        # A projector without its metrics goes unwatched: refuse to start instead.
        raise CannotListen(
            "PROJECTOR_METRICS_HOST", "PROJECTOR_METRICS_PORT", host, port, exc
        ) from exc
    _metrics_servers.add((host, port))
    log.info("projector metrics on http://%s:%d/metrics", host, port)
