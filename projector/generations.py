"""Generations of the view: which one is served, which one is being built, and their upkeep.

A generation id is unique for all time (time + random), so the consumer group it names
has never committed anything: a new generation always starts from the beginning of the log.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import orjson

from deploystatus.view.client import RedisClient
from deploystatus.view.errors import translate_errors
from deploystatus.view.keys import Keys

Builder = Literal["rebuild", "projectors"]

# Promote a building generation only if it is still the one being built; no other writer
# can then switch the pointer to a generation that was aborted or replaced meanwhile.
_PROMOTE = """
if redis.call('HGET', KEYS[2], 'generation') ~= ARGV[1] then return 0 end
local previous = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return previous or ''
"""
_BEGIN = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'generation', ARGV[1], 'builder', ARGV[2], 'target', ARGV[3],
           'started_at', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""
# Record the next offset applied per partition, never moving it backwards (a slow writer
# that lost its partitions must not undo the progress of the new owner).
_ADVANCE = """
for i = 1, #ARGV, 2 do
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '-1')
  if tonumber(ARGV[i + 1]) > current then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 1
"""
DELETE_CHUNK = 500
DELETE_PAUSE_SECONDS = 0.01


def new_generation_id() -> str:
    """Sortable by creation time, unique by its random suffix."""
    return f"g{datetime.now(UTC):%Y%m%dT%H%M%S}{secrets.token_hex(3)}"


def group_of(consumer_group: str, generation: str) -> str:
    """The consumer group that builds (and then keeps up) a generation."""
    return f"{consumer_group}.{generation}"


@dataclass(frozen=True)
class Build:
    """A generation being built: by whom, and the log end offsets it must reach to be served."""

    generation: str
    builder: Builder
    target: dict[int, int]  # partition -> end offset when the build started
    started_at: float

    def caught_up(self, applied: Mapping[int, int]) -> bool:
        return all(applied.get(p, 0) >= end for p, end in self.target.items())


class Generations:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._begin = redis.register_script(_BEGIN)
        self._promote = redis.register_script(_PROMOTE)
        self._advance = redis.register_script(_ADVANCE)

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
        """Start building a new generation, unless another build is already registered
        (then ``None``: read ``building()`` to join or report it)."""
        build = Build(new_generation_id(), builder, dict(target), time.time())
        with translate_errors("register a build"):
            created = await self._begin(
                keys=[self._keys.building, self._keys.generations],
                args=[
                    build.generation,
                    builder,
                    orjson.dumps({str(p): o for p, o in build.target.items()}),
                    str(build.started_at),
                ],
            )
        return build if created else None

    async def promote(self, generation: str) -> str | None:
        """Serve ``generation``; returns the generation it replaces ('' if none), or ``None``
        if it was no longer the one being built."""
        with translate_errors("switch the served generation"):
            previous = await self._promote(
                keys=[self._keys.generation, self._keys.building], args=[generation]
            )
        if previous == 0:
            return None
        return _text(previous)

    async def abandon(self, generation: str) -> None:
        """Forget a build (its keys are deleted by ``delete``)."""
        with translate_errors("abandon a build"):
            if await self._redis.hget(self._keys.building, "generation") == generation.encode():
                await self._redis.delete(self._keys.building)

    async def advance(self, generation: str, next_offsets: Mapping[int, int]) -> None:
        if not next_offsets:
            return
        args: list[str] = []
        for partition, offset in next_offsets.items():
            args += [str(partition), str(offset)]
        with translate_errors("record applied offsets"):
            await self._advance(keys=[self._keys.applied(generation)], args=args)

    async def applied(self, generation: str) -> dict[int, int]:
        with translate_errors("read applied offsets"):
            raw = await self._redis.hgetall(self._keys.applied(generation))
        return {int(p): int(o) for p, o in raw.items()}

    async def stale(self) -> list[str]:
        """Generations that still have keys but are neither served nor being built."""
        current, build = await self.current(), await self.building()
        with translate_errors("list generations"):
            members = await self._redis.smembers(self._keys.generations)
        live = {current, build.generation if build else None}
        return sorted(_text(m) for m in members if _text(m) not in live)

    async def delete(self, generation: str) -> int:
        """Remove a generation's keys in small chunks (SCAN + UNLINK, a pause between chunks)
        so Redis keeps serving meanwhile. Returns how many keys were removed."""
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
