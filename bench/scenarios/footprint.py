"""Benchmark 5, Redis side: bytes per deployment hash (``MEMORY USAGE``, every field and
Redis's own overhead), averaged over a sample of the view's deployment keys."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from deploystatus.settings import Settings
from deploystatus.view import keys as fields

SAMPLE = 500


@dataclass(frozen=True)
class Footprint:
    keys_sampled: int
    bytes_per_deployment: float
    document_bytes: float  # the served JSON alone
    state_bytes: float  # the fold state alone


async def measure(settings: Settings, sample: int = SAMPLE) -> Footprint:
    # Matches both key layouts: <prefix>:dep:{id} and <prefix>:<generation>:dep:{id}.
    pattern = f"{settings.redis.prefix}:*dep:*"
    redis = Redis.from_url(settings.redis.url)
    try:
        keys: list[bytes] = []
        async for key in redis.scan_iter(match=pattern, count=1000):
            keys.append(key)
            if len(keys) >= sample:
                break
        if not keys:
            raise RuntimeError(f"no deployment keys match {pattern!r}")
        pipe = redis.pipeline(transaction=False)
        for key in keys:
            pipe.memory_usage(key, samples=0)
            pipe.hstrlen(key, fields.DOCUMENT)
            pipe.hstrlen(key, fields.STATE)
        answers = await pipe.execute()
    finally:
        await redis.aclose()
    n = len(keys)
    return Footprint(
        keys_sampled=n,
        bytes_per_deployment=sum(answers[0::3]) / n,
        document_bytes=sum(answers[1::3]) / n,
        state_bytes=sum(answers[2::3]) / n,
    )
