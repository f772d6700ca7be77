"""Kafka plumbing of the benchmarks: a fast bulk publisher, a bare consumer, group offsets.

The bulk publisher builds record batches per partition itself (``create_batch`` /
``send_batch``) instead of one ``send()`` per record: publishing a million events is setup,
not what is measured, and per-record sends would take longer than the runs they feed.
Partitions are chosen with the producer's own default partitioner (murmur2 of the key), so a
deployment lands where ``EventPublisher`` would put it.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from redis.asyncio import Redis

from bench.data.dataset import Record
from deploystatus.settings import Settings
from deploystatus.topics import ensure_topics

BATCH_BYTES = 1 << 20
IN_FLIGHT_BATCHES = 64


def bulk_producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        client_id="bench-bulk",
        acks="all",
        enable_idempotence=False,
        max_batch_size=BATCH_BYTES,
        max_request_size=4 * BATCH_BYTES,
        linger_ms=20,
    )


async def publish_bulk(settings: Settings, records: Iterable[Record]) -> int:
    """Publish records in order per partition; returns how many, once all are acknowledged."""
    await ensure_topics(settings)
    producer = bulk_producer(settings)
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(settings.kafka.events_topic))
        partitioner = DefaultPartitioner()
        batches = {p: producer.create_batch() for p in partitions}
        in_flight: list[asyncio.Future[object]] = []
        count = 0
        for key, value in records:
            partition = partitioner(key, partitions, partitions)
            if batches[partition].append(key=key, value=value, timestamp=None) is None:
                in_flight.append(await _send(producer, settings, batches[partition], partition))
                batches[partition] = producer.create_batch()
                batches[partition].append(key=key, value=value, timestamp=None)
            count += 1
            if len(in_flight) >= IN_FLIGHT_BATCHES:
                await asyncio.gather(*in_flight)
                in_flight.clear()
        for partition, batch in batches.items():
            if batch.record_count():
                in_flight.append(await _send(producer, settings, batch, partition))
        await asyncio.gather(*in_flight)
        return count
    finally:
        await producer.stop()


async def _send(
    producer: AIOKafkaProducer, settings: Settings, batch: object, partition: int
) -> asyncio.Future[object]:
    batch.close()  # type: ignore[attr-defined]
    future: asyncio.Future[object] = await producer.send_batch(
        batch, settings.kafka.events_topic, partition=partition
    )
    return future


def assign_whole_topic(consumer: AIOKafkaConsumer, topic: str) -> None:
    """Assign every partition of ``topic`` to a consumer outside any group (started, so
    that it knows the topic's partitions)."""
    partitions = consumer.partitions_for_topic(topic) or set()
    consumer.assign([TopicPartition(topic, p) for p in partitions])


async def consume_all(settings: Settings, total: int, deadline_s: float) -> tuple[int, float]:
    """Read the whole topic with a bare consumer (no group, no decoding): the raw rate the
    projector's own consumer could reach. Returns (records, seconds)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * BATCH_BYTES,
        fetch_max_bytes=16 * BATCH_BYTES,
    )
    await consumer.start()
    try:
        assign_whole_topic(consumer, settings.kafka.events_topic)
        await consumer.seek_to_beginning()
        count = 0
        started = time.perf_counter()
        while count < total and time.perf_counter() - started < deadline_s:
            batch = await consumer.getmany(
                timeout_ms=200, max_records=settings.projector.batch_size
            )
            count += sum(len(records) for records in batch.values())
        return count, time.perf_counter() - started
    finally:
        await consumer.stop()


class GroupProgress:
    """Polls the committed offsets of the projector's consumer group on the events topic.

    The group is ``CONSUMER_GROUP``, or ``CONSUMER_GROUP.<generation>`` where the projector
    builds generations of the view (the generation id is read from Redis); both are tried,
    so the bench measures either version of the projector.
    """

    def __init__(self, settings: Settings, redis: Redis) -> None:
        self._settings = settings
        self._redis = redis
        self._consumers: dict[str, AIOKafkaConsumer] = {}

    async def __aenter__(self) -> GroupProgress:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for consumer in self._consumers.values():
            await consumer.stop()

    async def committed(self) -> int:
        """Records committed over all partitions (0 for a partition with no commit yet)."""
        best = 0
        for group in await self._groups():
            consumer = await self._consumer(group)
            total = 0
            for partition in range(self._settings.kafka.events_partitions):
                tp = TopicPartition(self._settings.kafka.events_topic, partition)
                total += await consumer.committed(tp) or 0
            best = max(best, total)
        return best

    async def _groups(self) -> list[str]:
        groups = [self._settings.kafka.consumer_group]
        tag = f"{{{self._settings.redis.prefix}}}"
        served = await self._redis.get(f"{tag}:generation")
        building = await self._redis.hget(f"{tag}:building", "generation")
        for generation in (served, building):
            if generation:
                groups.append(f"{self._settings.kafka.consumer_group}.{generation.decode()}")
        return groups

    async def _consumer(self, group: str) -> AIOKafkaConsumer:
        if group not in self._consumers:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._settings.kafka.bootstrap_servers,
                group_id=group,
                enable_auto_commit=False,
            )
            await consumer.start()
            self._consumers[group] = consumer
        return self._consumers[group]


def per_partition(records: Iterable[Record], partitions: int) -> dict[int, int]:
    """How many records each partition gets (for checks and reports)."""
    partitioner = DefaultPartitioner()
    all_partitions = list(range(partitions))
    counts: dict[int, int] = defaultdict(int)
    for key, _ in records:
        counts[partitioner(key, all_partitions, all_partitions)] += 1
    return dict(counts)
