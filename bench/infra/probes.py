"""Timing probes at a fixed rate: the ticks events are sent in, and latency summaries."""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

TICK_SECONDS = 0.01


@dataclass(frozen=True)
class Latencies:
    probes: int
    timeouts: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, samples: list[float], probes: int, timeouts: int) -> Latencies:
        ordered = sorted(samples) or [float("nan")]
        return cls(
            probes=probes,
            timeouts=timeouts,
            p50_ms=statistics.median(ordered),
            p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            max_ms=ordered[-1],
        )


async def paced(rate: int, seconds: float) -> AsyncIterator[tuple[int, int]]:
    """(tick, events to send in it) for ``seconds`` at ``rate``/s, in ticks of
    ``TICK_SECONDS``: the caller sends, and the next tick starts on schedule whatever the
    sends cost (a bounded count of ticks)."""
    per_tick = max(1, round(rate * TICK_SECONDS))
    started = time.perf_counter()
    for tick in range(round(seconds / TICK_SECONDS)):
        yield tick, per_tick
        delay = started + (tick + 1) * TICK_SECONDS - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)


def freeze_own_objects() -> None:
    """Keep what the bench process holds now (the data sets: hundreds of thousands of
    objects, which live until the end anyway) out of its collector's reach: a full
    collection walking them stalls the process for about a fifth of a second, which a timed
    window would charge to the system under test (docs/performance.md#freshness). What it
    allocates later is still collected."""
    gc.collect()
    gc.freeze()
