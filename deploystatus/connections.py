"""Clients of external services, built from settings (never at import time)."""

from __future__ import annotations

import functools
from typing import Any

import hiredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner, murmur2
from redis.asyncio import Connection, Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode

from deploystatus.redis_fence import ServerFence, fenced
from deploystatus.settings import Settings

# Everything the view needs works on both: one key per operation, or keys sharing a hash tag.
RedisClient = Redis | RedisCluster
CLUSTER_SCHEME = "redis+cluster://"


class HiredisPackingConnection(Connection):
    """A TCP connection that packs commands with hiredis, as redis-py's synchronous client
    does; its asyncio client packs them in Python, which took a tenth of the projector's CPU
    for its multi-kilobyte script calls (7.8 -> 1.3 us per write, bench/README.md)."""

    def pack_command(self, *args: Any) -> list[bytes]:
        name = args[0]
        if (isinstance(name, str) and " " in name) or (isinstance(name, bytes) and b" " in name):
            return super().pack_command(*args)  # "SCRIPT LOAD" and the like: split by redis-py
        return [hiredis.pack_command(args)]


def connection_options(redis_url: str) -> dict[str, Any]:
    """Options of a Redis client for ``redis_url``: the hiredis packer on plain TCP (TLS and
    Unix sockets keep redis-py's own connection classes)."""
    return (
        {"connection_class": HiredisPackingConnection} if redis_url.startswith("redis://") else {}
    )


def create_redis(settings: Settings, fence: ServerFence | None = None) -> RedisClient:
    """A Redis (or Redis Cluster) client whose calls fail fast when Redis is down, so callers
    can answer 503 or back off instead of piling up behind a dead connection. With a
    ``fence``, its connections refuse server processes the fence has not accepted."""
    timeout = settings.redis_timeout_seconds
    nodes = settings.redis_cluster_nodes
    if not nodes and settings.redis_url.startswith(CLUSTER_SCHEME):
        nodes = settings.redis_url.removeprefix(CLUSTER_SCHEME).split("/", 1)[0]
    if nodes:
        startup = []
        for node in nodes.split(","):
            host, _, port = node.strip().rpartition(":")
            startup.append(ClusterNode(host, int(port)))
        cluster = RedisCluster(
            startup_nodes=startup,
            decode_responses=False,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
        if fence is not None:
            # The nodes it discovers take the manager's options; the startup ones exist already.
            connection_class = fenced(Connection, fence)
            cluster.nodes_manager.connection_kwargs["connection_class"] = connection_class
            for startup_node in cluster.nodes_manager.startup_nodes.values():
                startup_node.connection_class = connection_class
        return cluster
    options = connection_options(settings.redis_url)
    if fence is not None:
        options["connection_class"] = fenced(options.get("connection_class", Connection), fence)
    return Redis.from_url(
        settings.redis_url,
        decode_responses=False,
        health_check_interval=30,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        **options,
    )


class KeyHashCache:
    """aiokafka's default partitioner (murmur2 of the key, as Java clients do, so records land
    where other clients would put them), remembering each key's hash: murmur2 is pure Python
    in aiokafka, and the projector sends one changelog record per deployment per batch
    (5% of its CPU went there)."""

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
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.kafka_idempotence,
        linger_ms=linger_ms,
        max_batch_size=MAX_BATCH_BYTES,
        compression_type=settings.producer_compression,
        partitioner=KeyHashCache(),
    )


def create_consumer(
    settings: Settings, client_id: str, group_id: str | None = None, max_records: int = 500
) -> AIOKafkaConsumer:
    """A consumer that commits only when told to (after the view is written), starting at
    the beginning of the log when its group has committed nothing."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_records,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        fetch_max_bytes=settings.kafka_fetch_max_bytes,
        max_partition_fetch_bytes=settings.partition_fetch_bytes,
    )
