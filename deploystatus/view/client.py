"""The view's Redis clients, built from settings (never at import time), one kind per role:

- ``"api"``: the API's timeout (API_REDIS_TIMEOUT_SECONDS) and no retries, so a stuck Redis
  turns into a prompt 503 and requests never pile up behind it; a pool sized to the
  request concurrency limit.
- ``"projector"`` (the projector, the rebuild, the CLI): REDIS_TIMEOUT_SECONDS and redis-py's
  retries, optionally behind a ``ServerFence``.
"""

from __future__ import annotations

from typing import Any, Literal

import hiredis
from redis.asyncio import Connection, Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from deploystatus.settings import Settings
from deploystatus.view.errors import translate_errors
from deploystatus.view.fence import ServerFence, fenced

# Everything the view needs works on both: one key per operation, or keys sharing a hash tag.
RedisClient = Redis | RedisCluster
CLUSTER_SCHEME = "redis+cluster://"
Role = Literal["api", "projector"]

# Concurrent re-reads by an API process's watch streams (api.watch): its pool holds as many
# connections more than the request concurrency limit.
WATCH_READS = 32
# Beyond the requests in progress and the watch re-reads: the generation refresh and /readyz.
SPARE_CONNECTIONS = 8


class HiredisPackingConnection(Connection):
    """A TCP connection that packs commands with hiredis, as redis-py's synchronous client
    does; its asyncio client packs them in Python, a large share of the projector's CPU for
    its multi-kilobyte script calls (docs/performance.md#cpu)."""

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


def create_redis(
    settings: Settings, *, role: Role = "projector", fence: ServerFence | None = None
) -> RedisClient:
    """A Redis (or Redis Cluster) client for ``role`` whose calls fail fast when Redis is
    down, so callers can answer 503 or back off instead of piling up behind a dead
    connection. With a ``fence``, its connections refuse server processes the fence has not
    accepted."""
    api = role == "api"
    timeout = settings.api.redis_timeout_seconds if api else settings.redis.timeout_seconds
    nodes = settings.redis.cluster_nodes
    if not nodes and settings.redis.url.startswith(CLUSTER_SCHEME):
        nodes = settings.redis.url.removeprefix(CLUSTER_SCHEME).split("/", 1)[0]
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
    options: dict[str, Any] = connection_options(settings.redis.url)
    if api:
        # redis-py retries failed commands by default (3 times, with backoff): each retry
        # would hold the request for another timeout.
        options["retry"] = Retry(NoBackoff(), 0)
        if settings.api.max_concurrency:
            # A connection per request in progress at most; past that, "Too many
            # connections", which is a 503 like any Redis failure.
            options["max_connections"] = (
                settings.api.max_concurrency + SPARE_CONNECTIONS + WATCH_READS
            )
    if fence is not None:
        options["connection_class"] = fenced(options.get("connection_class", Connection), fence)
    return Redis.from_url(
        settings.redis.url,
        decode_responses=False,
        health_check_interval=30,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        **options,
    )


def is_cluster(redis: RedisClient) -> bool:
    """Whether ``redis`` spreads the view over several servers (a Redis Cluster)."""
    return isinstance(redis, RedisCluster)


async def ping_every_node(redis: RedisClient) -> None:
    """A PING to every server of the view (every primary of a cluster). Raises
    ``StoreUnavailable`` (``StoreChanged`` behind a fence) when one does not answer."""
    with translate_errors("answer a ping on every node"):
        if isinstance(redis, RedisCluster):
            await redis.ping(target_nodes=RedisCluster.PRIMARIES)
        else:
            await redis.ping()
