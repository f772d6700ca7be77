"""The view's Redis client, built from settings (never at import time)."""

from __future__ import annotations

from typing import Any

import hiredis
from redis.asyncio import Connection, Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode

from deploystatus.settings import Settings
from deploystatus.view.fence import ServerFence, fenced

# Everything the view needs works on both: one key per operation, or keys sharing a hash tag.
RedisClient = Redis | RedisCluster
CLUSTER_SCHEME = "redis+cluster://"


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


def create_redis(settings: Settings, fence: ServerFence | None = None) -> RedisClient:
    """A Redis (or Redis Cluster) client whose calls fail fast when Redis is down, so callers
    can answer 503 or back off instead of piling up behind a dead connection. With a
    ``fence``, its connections refuse server processes the fence has not accepted."""
    timeout = settings.redis.timeout_seconds
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
    options = connection_options(settings.redis.url)
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
