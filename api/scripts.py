"""The API's script calls: budgets and reads in one round trip (``deploystatus.view.scripts``),
any Redis failure turned into the 503 of ``StoreUnavailable``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from redis.exceptions import RedisError

from api.exceptions import StoreUnavailable
from deploystatus.view.client import RedisClient
from deploystatus.view.scripts import LuaScript, run_scripts

__all__ = ["LuaScript", "run_pipeline"]


async def run_pipeline(
    redis: RedisClient, scripts: Sequence[LuaScript], queue: Callable[[Any], object]
) -> list[Any]:
    """The replies to the script calls ``queue`` adds, in one round trip. Any Redis failure,
    or an error reply, is a StoreUnavailable."""
    try:
        replies = await run_scripts(redis, scripts, queue)
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"Redis did not answer: {exc!r}") from exc
    for reply in replies:
        if isinstance(reply, Exception):
            raise StoreUnavailable(f"Redis refused a command: {reply!r}")
    return replies
