"""Benchmarks 2, 4 and 5 (projector side): a million events over ten thousand deployments
folded end to end (topic -> Redis, committed) by one projector process, next to a bare
consumer reading the same topic in the same run; the rebuild; RSS and Redis bytes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.data.config import Sizes
from bench.data.dataset import event_log, make_deployments
from bench.infra.kafka_io import consume_all, publish_bulk
from bench.infra.profiling import Profile, summarise
from bench.infra.services import Stack
from bench.scenarios import footprint, rebuild
from bench.scenarios.footprint import Footprint
from bench.scenarios.projector_run import ProjectorRun, project_all
from deploystatus.collector import FOLDING_FIRST_THRESHOLD
from deploystatus.settings import Settings

RAW_CONSUME_DEADLINE_SECONDS = 300
LEVER_ROUNDS = 20
MIB = 1 << 20
# Levers: records per poll and bytes per fetch (a poll returns at most what one fetch
# brought), then the defaults: 10,000 and 1 MiB are the settings before issue 7's tenth round,
# 8 MiB the fetches before its thirteenth.
LEVER_BATCHES: tuple[tuple[int | None, int | None], ...] = (
    (1000, MIB),
    (10_000, MIB),
    (None, 8 * MIB),
    (None, None),
)
# Levers: the projector with one of its settings undone (bench/infra/projector_lever.py), default
# batch size: the collector's first threshold at CPython's default (700) and at the setting
# before issue 7's fourth round (50,000; now FOLDING_FIRST_THRESHOLD); asyncio's loop; the
# changelog produced compressed (KAFKA_COMPRESSION, whose default is none).
SETTING_LEVERS = (
    (
        "GC first threshold 700 (CPython's default; "
        f"the projector sets {FOLDING_FIRST_THRESHOLD:,})",
        ["--gc-gen0", "700"],
    ),
    ("GC first threshold 50,000 (the setting before)", ["--gc-gen0", "50000"]),
    ("asyncio's event loop instead of uvloop", ["--asyncio-loop"]),
    *(
        (
            f"KAFKA_COMPRESSION={codec} (the changelog compressed; default none)",
            ["--compression", codec],
        )
        for codec in ("lz4", "zstd", "gzip")
    ),
)
# The lever of the batches' shape: Kafka's own cap on a partition's share of a fetch
# (1 MiB: ~4,500 events of a partition's ~830 deployments), which the projector lifts by
# default (KAFKA_MAX_PARTITION_FETCH_BYTES=0), so that a catch-up fetch comes from one
# partition and carries ~11 of a deployment's events per write here rather than ~5. The
# embedded broker does not apply that cap (it fills a fetch from one partition whatever it
# says); there a topic of KAFKA_SHAPED_PARTITIONS partitions gives its fetches that shape.
KAFKA_PARTITION_FETCH_BYTES = MIB
KAFKA_SHAPED_PARTITIONS = 3


@dataclass
class ProjectorResults:
    events: int
    deployments: int
    partitions: int
    publish_seconds: float
    raw_records: int
    raw_seconds: float
    run: ProjectorRun
    rebuild: ProjectorRun | None
    footprint: Footprint
    profile: Profile | None
    # Levers: LEVER_BATCHES on a smaller topic; (batch size, fetch bytes, steady events/s,
    # peak RSS), the defaults' last.
    batch_levers: list[tuple[int, int, float, int]]
    # Levers: each of SETTING_LEVERS on the same topic; (what, steady events/s).
    setting_levers: list[tuple[str, float]] = field(default_factory=list)
    # Lever: the same rebuild in one process (REBUILD_PROCESSES=1).
    rebuild_one_process: ProjectorRun | None = None
    # Lever: the main run's events in batches shaped by Kafka's own per-partition cap.
    kafka_shaped: ProjectorRun | None = None
    kafka_shaped_how: str = ""

    @property
    def raw_rate(self) -> float:
        return self.raw_records / self.raw_seconds


async def run(
    stack: Stack, sizes: Sizes, work_dir: Path, *, with_rebuild: bool = True
) -> ProjectorResults:
    settings = stack.settings("proj")
    deployments = make_deployments(sizes.projector_deployments, seed=13)
    total = len(deployments) * sizes.projector_rounds
    started = time.perf_counter()
    published = await publish_bulk(settings, event_log(deployments, sizes.projector_rounds))
    publish_seconds = time.perf_counter() - started
    assert published == total
    raw_records, raw_seconds = await consume_all(settings, total, RAW_CONSUME_DEADLINE_SECONDS)
    assert raw_records == total, f"bare consumer read {raw_records} of {total}"
    profile_raw = work_dir / "profile-projector.txt"
    # Every 100k: the memory target compares the stretches after halfway (the view full).
    checkpoints = tuple(sorted({*range(sizes.rss_checkpoint, total, sizes.rss_checkpoint), total}))
    projected, _ = await project_all(
        settings,
        total,
        stack.log_dir / "projector-throughput.log",
        checkpoints=checkpoints,
        timeout_s=900,
        profile_seconds=sizes.profile_seconds,
        profile_to=profile_raw,
    )
    view = await footprint.measure(settings)
    batch_levers, setting_levers = await _batch_levers(stack, sizes) if with_rebuild else ([], [])
    rebuilt = one_process = kafka_shaped = None
    shaped_how = ""
    if with_rebuild:
        shaped, shaped_how = _kafka_shaped(stack)
        await publish_bulk(shaped, event_log(deployments, sizes.projector_rounds))
        kafka_shaped, _ = await project_all(
            shaped, total, stack.log_dir / "projector-shaped.log", checkpoints=checkpoints
        )
        rebuilt = await rebuild.rebuild(settings, total, stack.log_dir / "rebuild.log")
        # Each rebuild replaces the generation the previous one made: the same work again.
        one_process = await rebuild.rebuild(
            settings.replace(rebuild_processes=1),
            total,
            stack.log_dir / "rebuild-one-process.log",
        )
    return ProjectorResults(
        events=total,
        deployments=len(deployments),
        partitions=settings.kafka.events_partitions,
        publish_seconds=publish_seconds,
        raw_records=raw_records,
        raw_seconds=raw_seconds,
        run=projected,
        rebuild=rebuilt,
        footprint=view,
        profile=summarise(profile_raw),
        batch_levers=batch_levers,
        setting_levers=setting_levers,
        rebuild_one_process=one_process,
        kafka_shaped=kafka_shaped,
        kafka_shaped_how=shaped_how,
    )


def _kafka_shaped(stack: Stack) -> tuple[Settings, str]:
    """The shape lever's settings, and what they are, for the report."""
    kafka_cap = f"KAFKA_MAX_PARTITION_FETCH_BYTES={KAFKA_PARTITION_FETCH_BYTES // MIB} MiB"
    if stack.kafka.embedded is None:
        return stack.settings(
            "shaped", kafka_max_partition_fetch_bytes=KAFKA_PARTITION_FETCH_BYTES
        ), kafka_cap
    how = (
        f"the same events on a {KAFKA_SHAPED_PARTITIONS}-partition topic, this broker's "
        f"stand-in for {kafka_cap}"
    )
    return stack.settings("shaped", events_partitions=KAFKA_SHAPED_PARTITIONS), how


async def _batch_levers(
    stack: Stack, sizes: Sizes
) -> tuple[list[tuple[int, int, float, int]], list[tuple[str, float]]]:
    """More records per poll give more events per deployment per batch, so more coalescing
    into one load + one write. Measured on a topic of ``LEVER_ROUNDS`` events per deployment,
    with the projector's own settings undone one at a time after it."""
    settings = stack.settings("batch")
    deployments = make_deployments(sizes.projector_deployments, seed=17)
    total = await publish_bulk(settings, event_log(deployments, LEVER_ROUNDS))
    same_topic = {
        "events_topic": settings.kafka.events_topic,
        "dlq_topic": settings.kafka.dlq_topic,
    }
    measured = []
    for number, (batch_size, fetch_bytes) in enumerate(LEVER_BATCHES):
        overrides = {
            name: value
            for name, value in (
                ("projector_batch_size", batch_size),
                ("kafka_fetch_max_bytes", fetch_bytes),
            )
            if value is not None
        }
        run_settings = stack.settings(f"batch{number}", **overrides, **same_topic)
        run, _ = await project_all(
            run_settings, total, stack.log_dir / f"projector-batch{number}.log", timeout_s=600
        )
        measured.append(
            (
                run_settings.projector.batch_size,
                run_settings.kafka.fetch_max_bytes,
                run.steady_rate,
                run.rss_max,
            )
        )
    setting_measured = []
    for number, (what, lever_args) in enumerate(SETTING_LEVERS):
        lever_run, _ = await project_all(
            stack.settings(f"lever{number}", **same_topic),
            total,
            stack.log_dir / f"projector-lever{number}.log",
            timeout_s=600,
            args=["-m", "bench.infra.projector_lever", *lever_args],
        )
        setting_measured.append((what, lever_run.steady_rate))
    return measured, setting_measured
