"""One projector process, ``deploystatus projector`` as deployed, timed from spawn
until its consumer group has committed every record of the topic, with its RSS followed.

Progress is polled every ``POLL_SECONDS``, which is the resolution of the times measured and
of where one stretch of events ends for the RSS peaks (each stretch's peak itself is exact).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from bench.infra.kafka_io import GroupProgress
from bench.infra.procs import cpu_seconds, peak_rss_bytes, reset_peak_rss, rss_bytes
from bench.infra.services import spawn, stop, tail
from deploystatus.settings import Settings
from devtools.devstack import free_port

POLL_SECONDS = 0.25
# After the last commit, how long the projector may take to promote the generation it built
# (it checks between batches, about every second), so that the view is served afterwards.
SERVED_TIMEOUT_SECONDS = 60
PROJECTOR_ARGS = ["-m", "cli", "projector"]
CACHED_STATES = "deploystatus_projector_cached_states"
EVENTS_APPLIED = "deploystatus_events_applied_total"
DOCUMENTS_WRITTEN = "deploystatus_documents_written_total"


@dataclass
class ProjectorRun:
    total: int
    seconds: float  # spawn -> every record committed
    first_commit_seconds: float  # spawn -> first commit seen (start-up, group join)
    committed_at_first: int
    cpu_seconds: float
    rss_at: dict[int, int] = field(default_factory=dict)  # checkpoint -> RSS bytes there
    # checkpoint -> the highest RSS since the checkpoint before it: a batch's events, documents
    # and writes come and go within a second, so one sample lands anywhere on that sawtooth;
    # the peak of each stretch compares like with like. The kernel's own peak (VmHWM, reset
    # at each checkpoint), so that no stretch's peak falls between two samples; the highest
    # sample where it cannot be read or reset.
    rss_peak_at: dict[int, int] = field(default_factory=dict)
    rss_max: int = 0
    # checkpoint -> deployment states the projector held then (its metrics' gauge): what
    # the RSS at that point is made of grows with them (None where the scrape failed).
    states_at: dict[int, int | None] = field(default_factory=dict)
    # Events applied per document written over the run (its metrics, None where the scrape
    # failed): how many of a deployment's events a batch folds into one write, which depends
    # on how the broker spreads a fetch over the partitions.
    events_per_write: float | None = None
    profile: Path | None = None

    @property
    def steady_rate(self) -> float:
        """Events/s once consuming: from the first commit seen to the last."""
        span = self.seconds - self.first_commit_seconds
        return (self.total - self.committed_at_first) / span if span > 0 else 0.0

    @property
    def overall_rate(self) -> float:
        return self.total / self.seconds


async def project_all(
    settings: Settings,
    total: int,
    log: Path,
    *,
    checkpoints: tuple[int, ...] = (),
    timeout_s: float = 600,
    args: list[str] | None = None,
    profile_seconds: int = 0,
    profile_to: Path | None = None,
    keep_running: bool = False,
) -> tuple[ProjectorRun, subprocess.Popen[bytes]]:
    """Run a projector until ``total`` records are committed (bounded by ``timeout``)."""
    metrics_port = free_port()
    settings = settings.replace(projector_metrics_port=metrics_port)
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    started = time.perf_counter()
    process = spawn(args or PROJECTOR_ARGS, settings, log)
    run = ProjectorRun(total, 0.0, 0.0, 0, 0.0)
    profiler: subprocess.Popen[bytes] | None = None
    stretch_peak = 0
    peak_exact = True  # VmHWM counts from the process's start until the first reset
    redis = Redis.from_url(settings.redis.url)
    try:
        async with GroupProgress(settings, redis) as progress, httpx.AsyncClient() as http:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"projector exited {process.returncode}:\n{tail(log)}")
                elapsed = time.perf_counter() - started
                if elapsed > timeout_s:
                    raise RuntimeError(f"projector did not finish {total} in {timeout_s}s")
                committed = await progress.committed()
                rss = rss_bytes(process.pid)
                run.rss_max = max(run.rss_max, rss)
                stretch_peak = max(stretch_peak, rss)
                if committed and not run.first_commit_seconds:
                    run.first_commit_seconds, run.committed_at_first = elapsed, committed
                    if profile_seconds and profile_to is not None:
                        from bench.infra.profiling import start_py_spy

                        profiler = start_py_spy(process.pid, profile_seconds, profile_to)
                for checkpoint in checkpoints:
                    if committed >= checkpoint and checkpoint not in run.rss_at:
                        run.rss_at[checkpoint] = rss
                        kernel_peak = peak_rss_bytes(process.pid) if peak_exact else None
                        run.rss_peak_at[checkpoint] = max(stretch_peak, kernel_peak or 0)
                        run.rss_max = max(run.rss_max, run.rss_peak_at[checkpoint])
                        stretch_peak = 0
                        peak_exact = reset_peak_rss(process.pid)
                        states = (await _scrape(http, metrics_url)).get(CACHED_STATES)
                        run.states_at[checkpoint] = None if states is None else int(states)
                if committed >= total:
                    run.seconds = elapsed
                    run.cpu_seconds = cpu_seconds(process.pid)
                    counts = await _scrape(http, metrics_url)
                    if counts.get(DOCUMENTS_WRITTEN) and EVENTS_APPLIED in counts:
                        run.events_per_write = counts[EVENTS_APPLIED] / counts[DOCUMENTS_WRITTEN]
                    break
                await asyncio.sleep(POLL_SECONDS)
        await _wait_served(redis, settings, process, log)
        if profiler is not None:
            profiler.wait(timeout=profile_seconds + 30)
            run.profile = profile_to
        if not keep_running:
            stop(process)
        return run, process
    except BaseException:
        stop(process)
        raise
    finally:
        await redis.aclose()


async def _scrape(http: httpx.AsyncClient, url: str) -> dict[str, float]:
    """The projector's unlabelled samples by name; none if its metrics cannot be read."""
    try:
        response = await http.get(url, timeout=2)
    except httpx.HTTPError:
        return {}
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if not sample.labels
    }


async def _wait_served(
    redis: Redis, settings: Settings, process: subprocess.Popen[bytes], log: Path
) -> None:
    """Wait until a generation of the view is served (not timed: the run is measured)."""
    key = f"{{{settings.redis.prefix}}}:generation"
    deadline = time.monotonic() + SERVED_TIMEOUT_SECONDS
    while await redis.get(key) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"projector never served its generation:\n{tail(log)}")
        await asyncio.sleep(POLL_SECONDS)
