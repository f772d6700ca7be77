"""A subscription to the change channel (``deploystatus.view.changes``), read one message at a
time: what the API's change feed (``api.notifications``) listens to.

It holds a connection of its own: no read timeout (a quiet channel is normal), a periodic
PING instead to notice a dead connection. On a cluster any node will do: classic pub/sub
messages are broadcast to every node. Every call raises ``StoreUnavailable`` when the
connection fails; the subscription is then done with, and a new one must be opened.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Literal

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.client import PubSub

from deploystatus.settings import Settings
from deploystatus.view.changes import Change
from deploystatus.view.client import create_redis
from deploystatus.view.errors import translate_errors
from deploystatus.view.keys import Keys

# What ``receive`` hands back besides a change: the answer to ``ping()``, or a message in
# neither form of a change (both say the connection is alive).
Heard = Change | Literal["pong", "other"]


class ChangeSubscription:
    """``async with ChangeSubscription(settings, health_check_seconds) as subscription``:
    subscribed on entry, closed on exit."""

    def __init__(self, settings: Settings, health_check_seconds: float) -> None:
        self._settings = settings
        self._health_check_seconds = health_check_seconds
        self._channel = Keys(settings.redis.prefix).changes
        self._resources = AsyncExitStack()
        self._pubsub: PubSub | None = None

    async def __aenter__(self) -> ChangeSubscription:
        with translate_errors("subscribe to changes"):
            try:
                redis = await _subscriber(self._settings, self._health_check_seconds)
                self._resources.push_async_callback(redis.aclose)
                pubsub = await self._resources.enter_async_context(redis.pubsub())
                await pubsub.subscribe(self._channel)
            except BaseException:
                await self._resources.aclose()
                raise
        self._pubsub = pubsub
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def receive(self, wait_seconds: float) -> Heard | None:
        """What Redis sent next on the subscription, or ``None`` when ``wait_seconds``
        passed without anything."""
        with translate_errors("keep the change subscription"):
            message = await self._subscribed().get_message(
                ignore_subscribe_messages=True, timeout=wait_seconds
            )
        if message is None:
            return None
        if message["type"] == "pong":
            return "pong"
        change = Change.parse(message["data"])
        return "other" if change is None else change

    async def ping(self) -> None:
        """Ask Redis for a sign of life: ``receive`` hands back ``"pong"`` once it answers."""
        with translate_errors("ping the change subscription"):
            await self._subscribed().ping()

    async def close(self) -> None:
        self._pubsub = None
        with translate_errors("close the change subscription"):
            await self._resources.aclose()

    def _subscribed(self) -> PubSub:
        if self._pubsub is None:
            raise RuntimeError("the change subscription is not open")
        return self._pubsub


async def _subscriber(settings: Settings, health_check_seconds: float) -> Redis:
    options: dict[str, Any] = {
        "socket_connect_timeout": settings.redis.timeout_seconds,
        "health_check_interval": health_check_seconds,
    }
    cluster = create_redis(settings)
    try:
        if isinstance(cluster, RedisCluster):
            await cluster.initialize()
            node = cluster.get_random_node()
            return Redis(host=node.host, port=int(node.port), **options)
        return Redis.from_url(settings.redis.url, **options)
    finally:
        await cluster.aclose()
