"""Benchmark 4, rebuild: ``deploystatus rebuild`` (``projector.rebuild.rebuild.run_rebuild``)
replaying the whole events topic into a new generation while the one the projector built is
served, timed from spawn until the served generation switches to the new one.

The handover and grace periods are set to 0 (they are waits for other processes, which the
bench has none of); the process must then exit 0 on its own, having deleted the old
generation. Progress is polled every ``POLL_SECONDS``, the resolution of the times measured.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from redis.asyncio import Redis

from bench.infra.kafka_io import GroupProgress
from bench.infra.procs import cpu_seconds, rss_bytes
from bench.infra.services import spawn, stop, tail
from bench.scenarios.projector_run import POLL_SECONDS, ProjectorRun
from deploystatus.settings import Settings

METHOD = "`deploystatus rebuild` over the served generation, spawn to switch"
REBUILD_ARGS = ["-m", "cli", "rebuild"]
EXIT_TIMEOUT_SECONDS = 120


def rebuild_settings(source: Settings) -> Settings:
    """The projector's own settings (same topic, prefix and group): a rebuild of its view."""
    return source.replace(rebuild_handover_seconds=0.0, generation_grace_seconds=0.0)


async def rebuild(source: Settings, total: int, log: Path, timeout_s: float = 900) -> ProjectorRun:
    """Rebuild the view ``source``'s projector serves; it must serve one already."""
    settings = rebuild_settings(source)
    redis = Redis.from_url(settings.redis.url)
    generation_key = f"{{{settings.redis.prefix}}}:generation"
    try:
        served = await redis.get(generation_key)
        if served is None:
            raise RuntimeError("rebuild bench: no generation served; run the projector first")
        started = time.perf_counter()
        process = spawn(REBUILD_ARGS, settings, log)
        run = ProjectorRun(total, 0.0, 0.0, 0, 0.0)
        try:
            async with GroupProgress(settings, redis) as progress:
                while await redis.get(generation_key) == served:
                    elapsed = time.perf_counter() - started
                    if process.poll() is not None:
                        raise RuntimeError(f"rebuild exited {process.returncode}:\n{tail(log)}")
                    if elapsed > timeout_s:
                        raise RuntimeError(f"rebuild did not switch within {timeout_s}s")
                    committed = await progress.committed()
                    if committed and not run.first_commit_seconds:
                        run.first_commit_seconds, run.committed_at_first = elapsed, committed
                    run.rss_max = max(run.rss_max, rss_bytes(process.pid))
                    run.cpu_seconds = cpu_seconds(process.pid)
                    await asyncio.sleep(POLL_SECONDS)
            run.seconds = time.perf_counter() - started
            code = await asyncio.to_thread(process.wait, EXIT_TIMEOUT_SECONDS)
            if code != 0:
                raise RuntimeError(f"rebuild exited {code} after the switch:\n{tail(log)}")
            return run
        finally:
            stop(process)
    finally:
        await redis.aclose()
