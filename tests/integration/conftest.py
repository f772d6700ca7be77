"""Per-test isolation on the shared services: own topics, consumer group and key prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from support.settings import isolated_settings

from deploystatus.settings import Settings
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
    if redis_kind == "cluster":
        redis_url = request.getfixturevalue("redis_cluster").url
    else:
        redis_url = redis_endpoint.url
    async with isolated_settings(kafka.bootstrap_servers, kafka.idempotence, redis_url) as made:
        yield made


@pytest.fixture
def own_redis(settings, tmp_path):
    """A Redis process of this test's own, to pause, flush or restart, and settings using it."""
    server = start_redis(log_dir=tmp_path)
    try:
        yield server, settings.replace(redis_url=server.url)
    finally:
        server.stop()
