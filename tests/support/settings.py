"""Settings of one test: its own topics, consumer group and key prefix on the session's
broker and Redis, fast timeouts, the test secret; and the removal of its keys afterwards."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from pydantic import SecretStr

from deploystatus.settings import Settings
from deploystatus.view.client import create_redis
from support.api import TEST_SECRET


@contextlib.asynccontextmanager
async def isolated_settings(
    kafka_bootstrap_servers: str, kafka_idempotence: bool, redis_url: str, **overrides: Any
) -> AsyncIterator[Settings]:
    """Settings of their own for one test; its Redis keys are removed when it is over."""
    suffix = uuid.uuid4().hex[:12]
    values: dict[str, Any] = dict(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        kafka_idempotence=kafka_idempotence,
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
    settings = Settings(_env_file=None, **(values | overrides))
    yield settings
    async with create_redis(settings) as redis:
        keys = [
            key async for key in redis.scan_iter(match=f"{settings.redis.prefix}:*", count=1000)
        ]
        if keys:
            await redis.unlink(*keys)
