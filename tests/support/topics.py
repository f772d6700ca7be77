"""What the topics hold, read back without joining a consumer group: records, committed offsets."""

from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from deploystatus.settings import Settings
from projector.generations import group_of
from support.view import active_generation
from support.waiting import WAIT_SECONDS


async def read_topic(
    settings: Settings, topic: str, count: int, patience: float = WAIT_SECONDS
) -> list[ConsumerRecord[bytes, bytes]]:
    """The first ``count`` records of ``topic`` (all partitions, no consumer group)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + patience
        while len(records) < count and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records += batch
        return records
    finally:
        await consumer.stop()


async def committed_offsets(settings: Settings) -> dict[int, int]:
    """The committed offset per partition of the events topic, for the consumer group of
    the active generation."""
    generation = await active_generation(settings) or ""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=group_of(settings.kafka.consumer_group, generation),
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        result = {}
        for partition in range(settings.kafka.events_partitions):
            committed = await consumer.committed(
                TopicPartition(settings.kafka.events_topic, partition)
            )
            result[partition] = committed if committed is not None else 0
        return result
    finally:
        await consumer.stop()
