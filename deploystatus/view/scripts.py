"""Lua scripts called by EVALSHA, several in one round trip: in a pipeline on a single Redis,
concurrently (one call per key's node) on a Redis Cluster, whose pipelines refuse scripts.
Shared by the projector's writes and the API's reads. Redis forgets scripts on restart or
SCRIPT FLUSH: both runners then load them and send the calls once more."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import RedisCluster
from redis.exceptions import NoScriptError

from deploystatus.view.client import RedisClient
from deploystatus.view.errors import translate_errors


class LuaScript:
    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()


class _Calls:
    """Stands in for a pipeline on a Redis Cluster: the queued script calls are sent
    concurrently, each to its key's node."""

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


async def run_scripts(
    redis: RedisClient,
    scripts: Sequence[LuaScript],
    queue: Callable[[Any], object],
    operation: str,
) -> list[Any]:
    """The replies to the calls ``queue`` adds to a pipeline, sent in one round trip without
    a transaction. A failure to reach Redis, or any error reply, raises ``StoreUnavailable``
    (``StoreChanged`` behind a fence), quoting ``operation``."""
    with translate_errors(operation):
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
                    await redis.script_load(script.source)  # on a cluster: on every primary
                continue
            break
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply  # translated on the way out, like a failure to reach Redis
    return replies


async def call_script(redis: RedisClient, script: LuaScript, operation: str, *args: Any) -> Any:
    """One script call, without a pipeline (a pipeline object costs more CPU than the call
    itself), translated and reloaded like ``run_scripts``'s."""
    with translate_errors(operation):
        try:
            return await redis.evalsha(script.sha, *args)
        except NoScriptError:
            await redis.script_load(script.source)
            return await redis.evalsha(script.sha, *args)
