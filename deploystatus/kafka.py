"""Kafka clients, built from settings (never at import time)."""

from __future__ import annotations

import functools

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner, murmur2

from deploystatus.settings import Settings


class KeyHashCache:
    """aiokafka's default partitioner (murmur2 of the key, as Java clients do, so records land
    where other clients would put them), remembering each key's hash: murmur2 is pure Python
    in aiokafka, and the projector sends one changelog record per deployment per batch
    (docs/performance.md#cpu)."""

    def __init__(self, size: int = 100_000) -> None:
        self._hash = functools.lru_cache(maxsize=size)(_positive_murmur2)

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return int(DefaultPartitioner()(key, all_partitions, available))
        return all_partitions[self._hash(key) % len(all_partitions)]


def _positive_murmur2(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


# Records gathered per partition per produce request. aiokafka's default (16 kB) holds a
# handful of status documents: the projector's changelog then cost a request, encoded in
# Python, per few records. Below the broker's default limit for a batch (1 MB).
MAX_BATCH_BYTES = 512 * 1024


def create_producer(settings: Settings, client_id: str, linger_ms: int = 5) -> AIOKafkaProducer:
    """A producer that waits for every in-sync replica; idempotent where the broker allows
    (the embedded dev broker refuses InitProducerId, so it is a setting). ``linger_ms``
    gathers records sent one by one into batches; a caller that sends a whole batch and
    then awaits it (the projector) wants 0."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.kafka.idempotence,
        linger_ms=linger_ms,
        max_batch_size=MAX_BATCH_BYTES,
        compression_type=settings.kafka.producer_compression,
        partitioner=KeyHashCache(),
    )


def create_consumer(
    settings: Settings, client_id: str, group_id: str | None = None, max_records: int = 500
) -> AIOKafkaConsumer:
    """A consumer that commits only when told to (after the view is written), starting at
    the beginning of the log when its group has committed nothing."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_records,
        session_timeout_ms=settings.kafka.session_timeout_ms,
        heartbeat_interval_ms=settings.kafka.heartbeat_interval_ms,
        fetch_max_wait_ms=settings.kafka.fetch_max_wait_ms,
        fetch_max_bytes=settings.kafka.fetch_max_bytes,
        max_partition_fetch_bytes=settings.kafka.partition_fetch_bytes,
    )
