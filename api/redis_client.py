"""The API's Redis client: short timeouts and no retries, so a stuck Redis turns into a
prompt 503 and requests never pile up behind it."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from api.watch import WATCH_READS
from deploystatus.settings import Settings
from deploystatus.view import client as connections
from deploystatus.view.client import RedisClient

# Beyond the requests in progress: the generation refresh and /readyz.
SPARE_CONNECTIONS = 8


def create_redis(settings: Settings) -> RedisClient:
    timeout = settings.api.redis_timeout_seconds
    if settings.redis.cluster_nodes or settings.redis.url.startswith(connections.CLUSTER_SCHEME):
        # The cluster client (shared set-up) with the API's timeout.
        return connections.create_redis(settings.replace(redis_timeout_seconds=timeout))
    # redis-py retries failed commands by default (3 times, with backoff): each retry would
    # hold the request for another timeout.
    options: dict[str, object] = {
        "retry": Retry(NoBackoff(), 0),
        **connections.connection_options(settings.redis.url),
    }
    if settings.api.max_concurrency:
        # A connection per request in progress at most; past that, "Too many connections",
        # which is a 503 like any Redis failure.
        options["max_connections"] = settings.api.max_concurrency + SPARE_CONNECTIONS + WATCH_READS
    return Redis.from_url(
        settings.redis.url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        decode_responses=False,
        **options,  # type: ignore[arg-type]
    )
