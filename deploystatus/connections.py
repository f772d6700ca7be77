"""Clients of external services, built from settings (never at import time)."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from deploystatus.settings import Settings


def create_redis(settings: Settings) -> Redis:
    """A Redis client whose calls fail fast when Redis is down, so callers can answer 503 or
    back off instead of piling up behind a dead connection."""
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        health_check_interval=30,
        decode_responses=False,
    )


def create_producer(settings: Settings, client_id: str) -> AIOKafkaProducer:
    """A producer that waits for every in-sync replica; idempotent where the broker allows
    (the embedded dev broker refuses InitProducerId, so it is a setting)."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.kafka_idempotence,
        linger_ms=5,
    )
