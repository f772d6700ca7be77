"""`deploystatus verify`: recompute documents from the log with the same pure fold and
compare them with what Redis serves."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from deploystatus.kafka import create_consumer
from deploystatus.settings import Settings
from deploystatus.view.client import create_redis
from deploystatus.view.generations import RedisGenerations
from deploystatus.view.keys import Keys
from deploystatus.view.reads import RedisViewReader
from events.codec import decode
from events.exceptions import InvalidEvent
from projector.core.document import render
from projector.core.fold import apply_record
from projector.core.state import DeploymentState
from projector.undecodable import BadBatch, locate, records_before

logger = logging.getLogger(__name__)
# The served view may be a little behind or ahead of the log snapshot read; such documents
# are compared again after reading further, this many times, a second apart.
RECHECK_ROUNDS = 5
NOT_SERVED = "<not served>"


@dataclass(frozen=True)
class Mismatch:
    deployment_id: str
    field: str
    expected: object
    served: object


class VerifyRefused(Exception):
    pass


async def verify(settings: Settings, sample: int | None = None) -> tuple[str, int, list[Mismatch]]:
    """(generation, documents checked, mismatches) for the served generation."""
    redis = create_redis(settings)
    keys = Keys(settings.redis.prefix)
    view = RedisViewReader(redis, keys)
    consumer = create_consumer(settings, "deploystatus-verify")
    await consumer.start()
    try:
        generation = await RedisGenerations(redis, keys).current()
        if generation is None:
            raise VerifyRefused("Redis serves no generation of the view: nothing to verify")
        log = _Log(consumer, settings.kafka.events_topic)
        await log.start()
        await log.read_to_end()
        for bad in log.skipped:
            logger.warning("skipped an undecodable record batch, as the projectors do: %s", bad)
        ids = sorted(log.states)
        if sample is not None and sample < len(ids):
            ids = sorted(random.sample(ids, sample))
        pending = set(ids)
        mismatches: dict[str, list[Mismatch]] = {}
        for round_ in range(RECHECK_ROUNDS + 1):
            served = await view.documents_and_positions(generation, pending)
            mismatches = {
                dep: diff
                for dep in pending
                if (diff := _compare(dep, log.states[dep], *served[dep]))
            }
            pending = set(mismatches)
            if not pending or round_ == RECHECK_ROUNDS:
                break
            await asyncio.sleep(1.0)
            await log.read_to_end()
        extras = [] if sample is not None else await _extras(view, generation, log.states)
        found = [m for diff in mismatches.values() for m in diff] + extras
        return generation, len(ids), sorted(found, key=lambda m: (m.deployment_id, m.field))
    finally:
        await consumer.stop()
        await redis.aclose()


class _Log:
    """The events topic folded per deployment, read up to its end offsets."""

    def __init__(self, consumer: AIOKafkaConsumer, topic: str) -> None:
        self._consumer = consumer
        self._topic = topic
        self.states: dict[str, DeploymentState] = {}
        self.skipped: list[BadBatch] = []  # undecodable record batches, skipped
        self._next: dict[TopicPartition, int] = {}  # partition -> next offset to fold

    async def start(self) -> None:
        await self._consumer.topics()
        partitions = [
            TopicPartition(self._topic, p)
            for p in self._consumer.partitions_for_topic(self._topic) or ()
        ]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_beginning(*partitions)

    async def read_to_end(self) -> None:
        partitions = list(self._consumer.assignment())
        ends = await self._consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if await self._consumer.position(tp) < ends[tp]}
        while remaining:
            try:
                batch = await self._consumer.getmany(*remaining, timeout_ms=1000, max_records=10000)
            except Exception as exc:
                bad = locate(exc)
                if bad is None:
                    raise
                batch = await self._skip(bad)
            for tp, records in batch.items():
                for record in records:
                    self._fold(record.key, record.value, record.offset)
                    self._next[tp] = record.offset + 1
                if self._next.get(tp, 0) >= ends[tp]:
                    remaining.discard(tp)

    async def _skip(self, bad: BadBatch) -> dict[TopicPartition, list[Any]]:
        """Skip an undecodable batch as the projectors do (they dead-letter it): the records
        before it, which the failed poll dropped, are read again first."""
        self.skipped.append(bad)
        for tp in self._consumer.assignment():
            self._consumer.seek(tp, self._next.get(tp, 0))
        before = await records_before(self._consumer, bad, 1000, asyncio.Event())
        self._consumer.seek(bad.tp, bad.next_offset)
        self._next[bad.tp] = bad.next_offset
        return {bad.tp: before}

    def _fold(self, key: bytes | None, value: bytes | None, offset: int) -> None:
        try:
            event = decode(key, value)
        except InvalidEvent:
            return  # dead-lettered by the projector, absent from the view
        deployment_id = event.deployment_id
        self.states[deployment_id] = apply_record(self.states.get(deployment_id), event, offset)


def _compare(
    deployment_id: str, expected: DeploymentState, served: bytes | None, served_position: int
) -> list[Mismatch]:
    document = render(expected)
    if document == served:
        return []
    if document is None or served is None:
        return [
            Mismatch(
                deployment_id,
                "document",
                "<served>" if document is not None else NOT_SERVED,
                "<served>" if served is not None else NOT_SERVED,
            )
        ]
    want, got = orjson.loads(document), orjson.loads(served)
    found = [
        Mismatch(deployment_id, name, want.get(name), got.get(name))
        for name in sorted(set(want) | set(got))
        if want.get(name) != got.get(name)
    ]
    if served_position != expected.position:
        found.append(Mismatch(deployment_id, "position", expected.position, served_position))
    return found or [Mismatch(deployment_id, "bytes", document.decode(), served.decode())]


async def _extras(
    view: RedisViewReader, generation: str, known: dict[str, DeploymentState]
) -> list[Mismatch]:
    """Documents served for deployments that have no valid event in the log."""
    return [
        Mismatch(deployment_id, "document", NOT_SERVED, "<served>")
        for deployment_id in await view.served_except(generation, known)
    ]
