"""Per-test isolation on the shared services: own topics, consumer group and key prefix."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from support.api import TEST_SECRET

from deploystatus.settings import Settings
from deploystatus.view.client import create_redis
from devtools.devstack import start_redis, start_redis_cluster


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory):
    """A 3-master Redis Cluster on loopback ports, for the contract tests' cluster runs."""
    cluster = start_redis_cluster(3, log_dir=tmp_path_factory.mktemp("cluster"))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def redis_kind(request: pytest.FixtureRequest) -> str:
    """ "single" unless a test module parametrizes it (indirectly) with "cluster" too."""
    return getattr(request, "param", "single")


@pytest.fixture
async def settings(kafka, redis_endpoint, redis_kind, request) -> AsyncIterator[Settings]:
    suffix = uuid.uuid4().hex[:12]
    if redis_kind == "cluster":
        redis_url = request.getfixturevalue("redis_cluster").url
    else:
        redis_url = redis_endpoint.url
    settings = Settings(
        _env_file=None,
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        kafka_idempotence=kafka.idempotence,
        events_topic=f"events-{suffix}",
        dlq_topic=f"events-{suffix}.dlq",
        consumer_group=f"projector-{suffix}",
        events_partitions=12,
        projector_poll_timeout_ms=100,
        projector_metrics_port=0,
        kafka_session_timeout_ms=6000,
        kafka_heartbeat_interval_ms=1000,
        kafka_fetch_max_wait_ms=20,
        redis_url=redis_url,
        redis_prefix=f"test-{suffix}",
        redis_timeout_seconds=1.0,
        jwt_secret=SecretStr(TEST_SECRET),
        jwt_algorithms=["HS256"],
        jwt_audience=None,
        jwt_issuer=None,
    )
    yield settings
    async with create_redis(settings) as redis:
        keys = [
            key async for key in redis.scan_iter(match=f"{settings.redis.prefix}:*", count=1000)
        ]
        if keys:
            await redis.unlink(*keys)


@pytest.fixture
def own_redis(settings, tmp_path):
    """A Redis process of this test's own, to pause, flush or restart, and settings using it."""
    server = start_redis(log_dir=tmp_path)
    try:
        yield server, settings.replace(redis_url=server.url)
    finally:
        server.stop()
