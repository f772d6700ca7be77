"""What a run measured, and the targets of the performance issue computed from it: each
figure with its same-run baseline and the ratio between them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bench.infra.servers import LoadRun
from bench.scenarios.broker_cost import Stretch
from bench.scenarios.footprint import Footprint
from bench.scenarios.freshness import Freshness
from bench.scenarios.freshness_floor import Floor
from bench.scenarios.projector_bench import ProjectorResults
from bench.scenarios.read_path import LIST_TARGET, ReadResults, ReadSetup

MB = 1024 * 1024


@dataclass
class Target:
    name: str
    measured: str
    baseline: str
    ratio: float | None
    goal: str
    met: bool | None


@dataclass
class RunResults:
    command: str
    quick: bool
    broker: str = ""  # the Kafka-protocol broker the run used (devstack.KafkaEndpoint)
    read_setup: ReadSetup | None = None
    read: ReadResults | None = None
    projector: ProjectorResults | None = None
    freshness_floor: Floor | None = None  # its baseline: a bare consumer
    freshness: Freshness | None = None
    freshness_lever: Freshness | None = None  # same, projector with a short fetch wait
    # The embedded broker alone (bench.scenarios.broker_cost).
    broker_cost: list[Stretch] | None = None
    read_footprint: Footprint | None = None
    notes: list[str] = field(default_factory=list)


def flatness(peaks: Iterable[tuple[int, int]]) -> tuple[int, int, int, int] | None:
    """The RSS target's "stays flat": the peak of every later stretch against the first's,
    from (checkpoint, the peak of the stretch ending there) pairs. (first checkpoint, its
    stretch's peak, the farthest stretch's checkpoint, its peak)."""
    rss = sorted(peaks)
    if len(rss) < 2:
        return None
    first_n, first = rss[0]
    worst_n, worst = max(rss[1:], key=lambda item: abs(item[1] / first - 1))
    return first_n, first, worst_n, worst


@dataclass(frozen=True)
class ViewMemory:
    """The projector's memory once its view is full: the peak of the stretch ending halfway
    through the run (1M of 2M events) against the farthest later stretch's, and the bytes
    each held deployment state adds (the sampled RSS's rise from the first checkpoint to
    halfway, over the states added between them: None where none were)."""

    full_at: int
    full_peak: int
    farthest_at: int
    farthest_peak: int
    states_held: int | None
    bytes_per_state: float | None


def view_memory(
    rss_at: dict[int, int], peaks: dict[int, int], states_at: dict[int, int | None], total: int
) -> ViewMemory | None:
    halfway = [n for n in peaks if n <= total // 2]
    if not halfway:
        return None
    full_at = max(halfway)
    flat = flatness((n, peak) for n, peak in peaks.items() if n >= full_at)
    if flat is None:
        return None
    _, full_peak, farthest_at, farthest_peak = flat
    first_at = min(peaks)
    held_first, held_full = states_at.get(first_at), states_at.get(full_at)
    per_state = None
    if held_first is not None and held_full is not None and held_full > held_first:
        per_state = (rss_at[full_at] - rss_at[first_at]) / (held_full - held_first)
    return ViewMemory(full_at, full_peak, farthest_at, farthest_peak, held_full, per_state)


def find_run(runs: list[LoadRun], target: str, mode: str) -> LoadRun | None:
    return next((r for r in runs if r.target == target and r.mode == mode), None)


def ratio_of(a: float, b: float) -> float | None:
    return a / b if b else None


def _rps_target(name: str, run: LoadRun, base: LoadRun, at_least: float) -> Target:
    """``run``'s req/s against ``base``'s, met at ``at_least`` times it or more."""
    r = ratio_of(run.wrk.rps, base.wrk.rps)
    return Target(
        name,
        f"{run.wrk.rps:,.0f} req/s",
        f"{base.wrk.rps:,.0f} req/s",
        r,
        f">= {at_least:g}x",
        r is not None and r >= at_least,
    )


def _p99_target(name: str, run: LoadRun, base: LoadRun, at_most: float | None) -> Target:
    """``run``'s p99 against ``base``'s, met at ``at_most`` times it or less (``None``:
    reported only)."""
    r = ratio_of(run.wrk.p99_ms, base.wrk.p99_ms)
    return Target(
        name,
        f"{run.wrk.p99_ms:.2f} ms",
        f"{base.wrk.p99_ms:.2f} ms",
        r,
        "reported" if at_most is None else f"<= {at_most:g}x",
        None if at_most is None else r is not None and r <= at_most,
    )


def targets(results: RunResults) -> list[Target]:
    found: list[Target] = []
    read = results.read
    if read is not None:
        ours, bare = (
            find_run(read.runs, "ours", "saturation"),
            find_run(read.runs, "bare endpoint", "saturation"),
        )
        sql = find_run(read.runs, "SQL baseline", "saturation")
        if ours and bare:
            found.append(_rps_target("read req/s vs bare endpoint (saturation)", ours, bare, 0.8))
            found.append(_p99_target("read p99 vs bare endpoint (saturation)", ours, bare, 2))
        page, single = find_run(read.runs, LIST_TARGET, "saturation"), read.list_single
        if page and single:
            found.append(
                _rps_target(
                    "list page of 50 (owner of 10,000) req/s vs single GET (saturation)",
                    page,
                    single,
                    0.3,
                )
            )
            found.append(
                _p99_target("list page p99 vs single GET p99 (saturation)", page, single, None)
            )
        ours_f, bare_f = (
            find_run(read.runs, "ours", "fixed rate"),
            find_run(read.runs, "bare endpoint", "fixed rate"),
        )
        if ours_f and bare_f:
            name = f"read p99 vs bare endpoint (fixed ~{read.fixed_rate:,.0f} req/s)"
            found.append(_p99_target(name, ours_f, bare_f, 2))
        if ours and sql:
            found.append(_rps_target("read req/s vs SQL baseline (saturation)", ours, sql, 10))
    proj = results.projector
    if proj is not None:
        rate = proj.run.steady_rate
        found.append(
            Target(
                "projector events/s, one process (steady)",
                f"{rate:,.0f} ev/s",
                f"raw consume {proj.raw_rate:,.0f} ev/s",
                ratio_of(rate, proj.raw_rate),
                ">= 50,000 ev/s",
                rate >= 50_000,
            )
        )
        if proj.rebuild is not None:
            seconds = proj.rebuild.seconds
            goal = 30 * proj.events / 1_000_000
            found.append(
                Target(
                    f"rebuild of {proj.events:,} events",
                    f"{seconds:.1f} s",
                    f"raw consume {proj.raw_seconds:.1f} s",
                    ratio_of(seconds, proj.raw_seconds),
                    f"<= {goal:g} s",
                    seconds <= goal,
                )
            )
        memory = view_memory(
            proj.run.rss_at, proj.run.rss_peak_at, proj.run.states_at, proj.run.total
        )
        if memory is not None:
            r = ratio_of(memory.farthest_peak, memory.full_peak)
            full = memory.states_held == proj.deployments
            held = "?" if memory.states_held is None else f"{memory.states_held:,}"
            per_state = (
                "?" if memory.bytes_per_state is None else f"{memory.bytes_per_state / 1024:.1f}"
            )
            found.append(
                Target(
                    f"projector RSS once the view is full, {memory.full_at:,} to "
                    f"{proj.run.total:,} events (stretch peaks; farthest: to "
                    f"{memory.farthest_at:,})",
                    f"{memory.farthest_peak / MB:.0f} MiB",
                    f"{memory.full_peak / MB:.0f} MiB at {memory.full_at:,}, {held} of "
                    f"{proj.deployments:,} states held, {per_state} KiB per held state",
                    r,
                    "view full; 0.9x .. 1.1x",
                    full and r is not None and 0.9 <= r <= 1.1,
                )
            )
    fresh = results.freshness
    if fresh is not None:
        floor = results.freshness_floor
        bare = f"; bare consumer p99 {floor.received.p99_ms:.1f} ms" if floor else ""
        for path, seen in (("GET /status", fresh), ("watch stream", fresh.watch)):
            found.append(
                Target(
                    f"freshness p99 at {fresh.target_rate:,} ev/s ({path})",
                    f"{seen.p99_ms:.1f} ms",
                    f"p50 {seen.p50_ms:.1f} ms{bare}",
                    ratio_of(seen.p99_ms, 50),
                    "<= 50 ms",
                    seen.p99_ms <= 50 and seen.timeouts == 0,
                )
            )
    return found
