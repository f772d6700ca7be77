"""Lua scripts run by EVALSHA inside pipelines, so a request costs one Redis round trip."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import RedisCluster
from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError, RedisError

from api.exceptions import StoreUnavailable
from deploystatus.connections import RedisClient


class LuaScript:
    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()


class _Calls:
    """Stands in for a pipeline on a Redis Cluster, whose pipelines refuse scripts: the
    queued script calls are sent concurrently, each to its key's node."""

    def __init__(self, redis: RedisCluster) -> None:
        self._redis = redis
        self._calls: list[tuple[Any, ...]] = []

    def evalsha(self, *args: Any) -> None:
        self._calls.append(args)

    async def execute(self, raise_on_error: bool) -> list[Any]:
        return list(
            await asyncio.gather(
                *(self._redis.evalsha(*args) for args in self._calls),
                return_exceptions=not raise_on_error,
            )
        )


async def run_pipeline(
    redis: RedisClient, scripts: Sequence[LuaScript], queue: Callable[[Pipeline], object]
) -> list[Any]:
    """The replies to the script calls ``queue`` adds, sent in one round trip (no
    transaction; on a cluster, concurrently). Redis forgets scripts on restart or SCRIPT
    FLUSH: then they are loaded and the calls are sent once more. Any Redis failure is a
    StoreUnavailable."""
    try:
        for attempt in range(2):
            pipe: Any = (
                _Calls(redis)
                if isinstance(redis, RedisCluster)
                else redis.pipeline(transaction=False)
            )
            queue(pipe)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
            if attempt == 0 and any(isinstance(reply, NoScriptError) for reply in replies):
                for script in scripts:
                    # On a cluster, redis-py loads it on every primary.
                    await redis.script_load(script.source)
                continue
            break
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"Redis did not answer: {exc!r}") from exc
    for reply in replies:
        if isinstance(reply, Exception):
            raise StoreUnavailable(f"Redis refused a command: {reply!r}")
    return replies
