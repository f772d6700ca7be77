"""The generations of the view in Redis (``deploystatus.view.store.Generations``): the served
pointer, the build being registered and promoted, the applied offsets, and the deletion of
generations no longer needed.

A generation id is unique for all time (time + random), so the consumer group it names
has never committed anything: a new generation always starts from the beginning of the log.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime

import orjson

from deploystatus.view.client import RedisClient
from deploystatus.view.errors import translate_errors
from deploystatus.view.keys import Keys
from deploystatus.view.scripts import LuaScript, call_script
from deploystatus.view.store import Build, Builder

# Promote a building generation only if it is still the one being built; no other writer
# can then switch the pointer to a generation that was aborted or replaced meanwhile.
PROMOTE = LuaScript(
    """
if redis.call('HGET', KEYS[2], 'generation') ~= ARGV[1] then return 0 end
local previous = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return previous or ''
"""
)
BEGIN = LuaScript(
    """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'generation', ARGV[1], 'builder', ARGV[2], 'target', ARGV[3],
           'started_at', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""
)
# Record the next offset applied per partition, never moving it backwards (a slow writer
# that lost its partitions must not undo the progress of the new owner).
ADVANCE = LuaScript(
    """
for i = 1, #ARGV, 2 do
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '-1')
  if tonumber(ARGV[i + 1]) > current then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 1
"""
)
DELETE_CHUNK = 500
DELETE_PAUSE_SECONDS = 0.01


def new_generation_id() -> str:
    """Sortable by creation time, unique by its random suffix."""
    return f"g{datetime.now(UTC):%Y%m%dT%H%M%S}{secrets.token_hex(3)}"


class RedisGenerations:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def current(self) -> str | None:
        with translate_errors("read the served generation"):
            raw = await self._redis.get(self._keys.generation)
        return _text(raw) if raw else None

    async def building(self) -> Build | None:
        with translate_errors("read the building generation"):
            raw = await self._redis.hgetall(self._keys.building)
        if not raw:
            return None
        fields = {_text(k): _text(v) for k, v in raw.items()}
        return Build(
            generation=fields["generation"],
            builder=fields["builder"],  # type: ignore[arg-type]
            target={int(p): o for p, o in orjson.loads(fields["target"]).items()},
            started_at=float(fields["started_at"]),
        )

    async def begin(self, builder: Builder, target: Mapping[int, int]) -> Build | None:
        build = Build(new_generation_id(), builder, dict(target), time.time())
        created = await call_script(
            self._redis,
            BEGIN,
            "register a build",
            2,
            self._keys.building,
            self._keys.generations,
            build.generation,
            builder,
            orjson.dumps({str(p): o for p, o in build.target.items()}),
            str(build.started_at),
        )
        return build if created else None

    async def promote(self, generation: str) -> str | None:
        previous = await call_script(
            self._redis,
            PROMOTE,
            "switch the served generation",
            2,
            self._keys.generation,
            self._keys.building,
            generation,
        )
        if previous == 0:
            return None
        return _text(previous)

    async def abandon(self, generation: str) -> None:
        with translate_errors("abandon a build"):
            if await self._redis.hget(self._keys.building, "generation") == generation.encode():
                await self._redis.delete(self._keys.building)

    async def advance(self, generation: str, next_offsets: Mapping[int, int]) -> None:
        if not next_offsets:
            return
        args: list[str] = []
        for partition, offset in next_offsets.items():
            args += [str(partition), str(offset)]
        await call_script(
            self._redis, ADVANCE, "record applied offsets", 1, self._keys.applied(generation), *args
        )

    async def applied(self, generation: str) -> dict[int, int]:
        with translate_errors("read applied offsets"):
            raw = await self._redis.hgetall(self._keys.applied(generation))
        return {int(p): int(o) for p, o in raw.items()}

    async def stale(self) -> list[str]:
        current, build = await self.current(), await self.building()
        with translate_errors("list generations"):
            members = await self._redis.smembers(self._keys.generations)
        live = {current, build.generation if build else None}
        return sorted(_text(m) for m in members if _text(m) not in live)

    async def delete(self, generation: str) -> int:
        """SCAN + UNLINK in small chunks, a pause between them, so Redis keeps serving."""
        removed = 0
        with translate_errors("delete a generation"):
            chunk: list[bytes] = []
            async for key in self._redis.scan_iter(
                match=self._keys.generation_pattern(generation), count=DELETE_CHUNK
            ):
                chunk.append(key)
                if len(chunk) >= DELETE_CHUNK:
                    removed += await self._redis.unlink(*chunk)
                    chunk = []
                    await asyncio.sleep(DELETE_PAUSE_SECONDS)
            if chunk:
                removed += await self._redis.unlink(*chunk)
            await self._redis.srem(self._keys.generations, generation)
        return removed


def _text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
