"""Events into the events topic: at once, or steadily in the background."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Iterable

from aiokafka.structs import RecordMetadata

from cli.samples import SimulatedDeployment, create_deployment, simulation_step
from deploystatus.kafka import create_producer
from deploystatus.settings import Settings
from deploystatus.topics import ensure_topics
from events.models import Event, new_event
from events.publisher import EventPublisher


async def publish(settings: Settings, events: Iterable[Event]) -> list[RecordMetadata]:
    return await publish_records(settings, [(None, None, e) for e in events])


async def publish_records(
    settings: Settings, records: list[tuple[bytes | None, bytes | None, Event | None]]
) -> list[RecordMetadata]:
    """Publish in order: (key, value, None) as raw bytes, or (_, _, event) encoded."""
    await ensure_topics(settings)
    producer = create_producer(settings, "tests")
    await producer.start()
    try:
        publisher = EventPublisher(producer, settings.kafka.events_topic)
        written = []
        for key, value, event in records:
            if event is not None:
                written += await publisher.publish([event])
            else:
                written += await publisher.publish_records([(key, value)])
        return written
    finally:
        await producer.stop()


def replica_change(dep: SimulatedDeployment, status: str) -> Event:
    """A status change of the deployment's first replica."""
    replica_id = next(iter(dep.replicas))
    return new_event(
        "replica.status_changed", dep.deployment_id, {"replica_id": replica_id, "status": status}
    )


class SteadyPublisher:
    """Publishes ``events`` in order at ``rate`` per second in the background."""

    def __init__(self, settings: Settings, events: list[Event], rate: float) -> None:
        self._settings = settings
        self._events = events
        self._rate = rate
        self.published = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SteadyPublisher:
        await ensure_topics(self._settings)
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task is not None
        if exc_info[0] is not None:
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        producer = create_producer(self._settings, "tests-steady")
        await producer.start()
        try:
            publisher = EventPublisher(producer, self._settings.kafka.events_topic)
            chunk = max(1, int(self._rate / 20))
            for start in range(0, len(self._events), chunk):
                await publisher.publish(self._events[start : start + chunk])
                self.published = min(start + chunk, len(self._events))
                await asyncio.sleep(chunk / self._rate)
        finally:
            await producer.stop()

    async def finished(self) -> None:
        assert self._task is not None
        await self._task


def fleet(
    seed: int, deployments: int, changes: int
) -> tuple[random.Random, list[SimulatedDeployment], list[Event]]:
    """``deployments`` sample deployments of their own owners and ``changes`` random changes
    of them: the generator (for more), the deployments, and the events in log order."""
    rng = random.Random(seed)
    deps, events = [], []
    for i in range(deployments):
        dep, created = create_deployment(str(uuid.uuid4()), f"app-{i}", 2, rng)
        deps.append(dep)
        events += created
    for _ in range(changes):
        events += simulation_step(rng.choice(deps), rng)
    return rng, deps, events
