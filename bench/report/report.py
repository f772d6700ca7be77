"""The results of a run: the table printed on stdout and ``results/latest.md``.

Every figure stands next to its baseline from the same run, as a ratio: machines are noisy,
ratios much less so.
"""

from __future__ import annotations

import math
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from bench.infra.profiling import Profile
from bench.infra.servers import LoadRun
from bench.report.targets import (
    MB,
    RunResults,
    find_run,
    flatness,
    ratio_of,
    targets,
    view_memory,
)
from bench.scenarios.broker_cost import STRETCH_SECONDS
from bench.scenarios.freshness import LEVER_FETCH_WAIT_MS, WATCHED
from bench.scenarios.projector_bench import LEVER_ROUNDS, ProjectorResults
from bench.scenarios.projector_run import ProjectorRun
from bench.scenarios.read_path import ReadResults


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    except OSError:
        mem = 0
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {mem} MiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def _fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None or math.isnan(r) else f"{r:.2f}x"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "n/a"}[met]


def targets_table(results: RunResults) -> str:
    rows = ["| target | measured | baseline (same run) | ratio | goal | result |", "|---" * 6 + "|"]
    for t in targets(results):
        rows.append(
            f"| {t.name} | {t.measured} | {t.baseline} | {_fmt_ratio(t.ratio)} | {t.goal} | "
            f"{_verdict(t.met)} |"
        )
    return "\n".join(rows)


def read_table(read: ReadResults) -> str:
    base = {r.mode: r for r in read.runs if r.target == "bare endpoint"}
    rows = [
        "| target | load | req/s | x bare | p50 ms | p99 ms | p99.9 ms | server CPU ms/req | "
        "store CPU ms/req | server RSS MiB |",
        "|---" * 10 + "|",
    ]
    for r in read.runs:
        ref = base.get(r.mode)
        rows.append(
            f"| {r.target} | {r.mode} | {r.wrk.rps:,.0f} | "
            f"{_fmt_ratio(ratio_of(r.wrk.rps, ref.wrk.rps) if ref else None)} | "
            f"{r.wrk.p50_ms:.2f} | {r.wrk.p99_ms:.2f} | {r.wrk.p999_ms:.2f} | "
            f"{r.server_cpu_ms:.3f} | {r.store_cpu_ms:.3f} | {r.rss_max / MB:.0f} |"
        )
    return "\n".join(rows)


def levers_table(levers: list[LoadRun]) -> str:
    """Each lever against the first run of ``levers``, ours as it is."""
    base = levers[0] if levers else None
    rows = [
        "| variant (saturation) | req/s | x ours | p99 ms | server CPU ms/req |",
        "|---" * 5 + "|",
    ]
    for r in levers:
        ratio = ratio_of(r.wrk.rps, base.wrk.rps) if base else None
        rows.append(
            f"| {r.target} | {r.wrk.rps:,.0f} | {_fmt_ratio(ratio)} | {r.wrk.p99_ms:.2f} | "
            f"{r.server_cpu_ms:.3f} |"
        )
    return "\n".join(rows)


def profile_text(title: str, profile: Profile | None) -> str:
    if profile is None:
        return f"**{title}**: no profile (py-spy missing or no samples).\n"
    lines = [f"**{title}** ({profile.samples} samples; share of samples, inclusive):", ""]
    lines += [f"- {h.share:5.1%} `{h.frame}`" for h in profile.inclusive]
    lines += ["", "Self time:", ""]
    lines += [f"- {h.share:5.1%} `{h.frame}`" for h in profile.self_time]
    return "\n".join(lines) + "\n"


def cpu_text(percent: dict[str, float]) -> str:
    return ", ".join(f"{name} {share:.0f}%" for name, share in percent.items())


def _kafka_shaped_row(proj: ProjectorResults, shaped: ProjectorRun) -> str:
    per_write = shaped.events_per_write
    main = proj.run.events_per_write
    shape = (
        f"{per_write:.1f} events per document written against {main:.1f} above"
        if per_write is not None and main is not None
        else "events per write not scraped"
    )
    flat = flatness(shaped.rss_peak_at.items())
    rss = (
        f"; RSS peaks of the first / farthest stretch {flat[1] / MB:.0f} / {flat[3] / MB:.0f} MiB "
        f"= {flat[3] / flat[1]:.2f}x"
        if flat is not None
        else ""
    )
    versus = _fmt_ratio(ratio_of(shaped.steady_rate, proj.run.steady_rate))
    return (
        f"| lever: batches shaped by Kafka's own per-partition cap ({proj.kafka_shaped_how}; "
        f"steady: {shape}{rss}) | {proj.events - shaped.committed_at_first:,} | "
        f"{shaped.seconds - shaped.first_commit_seconds:.1f} | {shaped.steady_rate:,.0f} "
        f"({versus} of the main run) |"
    )


def _per_write(events_per_write: float | None) -> str:
    if events_per_write is None:
        return ""
    return (
        f" Events per document written: {events_per_write:.1f} (how many of a deployment's "
        "events a batch folds into one write: the more, the less CPU per event; it depends on "
        "how many partitions, and so deployments, a fetch brings)."
    )


def rss_once_every_state_held(proj: ProjectorResults) -> str | None:
    """When the view was whole in memory (a state held for every deployment), and what each
    held state cost: the memory target's context."""
    states = sorted(proj.run.states_at.items())
    whole = [n for n, held in states if held == proj.deployments]
    memory = view_memory(proj.run.rss_at, proj.run.rss_peak_at, proj.run.states_at, proj.events)
    if not states or memory is None:
        return None
    held_first = "?" if states[0][1] is None else f"{states[0][1]:,}"
    when = f"all from {whole[0]:,}" if whole else "never all"
    per_state = (
        "not measured (no states added after the first checkpoint)"
        if memory.bytes_per_state is None
        else f"{memory.bytes_per_state:,.0f} bytes (the RSS's rise from {states[0][0]:,} to "
        f"{memory.full_at:,} events over the states added)"
    )
    return (
        f"the view: {held_first} of {proj.deployments:,} deployment states were held at "
        f"{states[0][0]:,} events, {when}; per held deployment state: {per_state}"
    )


def markdown(results: RunResults, findings: str) -> str:
    out = [
        "# deploystatus benchmark results",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
        f"- machine: {machine()}",
        f"- command: `{results.command}`" + (" (quick sizes)" if results.quick else ""),
        f"- services: {results.broker}, redis-server, local PostgreSQL 15",
        "- load generator: wrk 4.1 (one thread, Lua picks a random deployment/token per request)",
        "",
        "## Targets",
        "",
        targets_table(results),
        "",
    ]
    read, setup = results.read, results.read_setup
    if read is not None and setup is not None:
        out += [
            "## 1. Read path",
            "",
            f"{len(setup.deployments):,} deployments ({setup.events:,} events folded), each with "
            f"its own owner and token; PostgreSQL rows: {setup.pg_rows}. "
            f"{read.checked_documents} documents compared (our API == SQL baseline == fold). "
            f"Fixed rate: {read.fixed_rate:,.0f} req/s target "
            f"({8} connections with a per-request delay; wrk 4 has no open-loop mode). "
            "Each server first gets a warm-up pass requesting every target once (as a "
            "long-running process has seen its users' deployments); "
            + (
                f"{read.cache_hit_ratio:.1%} of our reads at saturation were then answered "
                "from the document cache (the rest from Redis)."
                if read.cache_hit_ratio is not None
                else "the document cache reported no lookups."
            ),
            "",
            read_table(read),
            "",
            "At saturation, ours and the bare endpoint ran in "
            f"{len(read.saturation_pairs)} interleaved pairs (both servers up throughout); "
            "the rows above sum each one's runs (req/s over all of them, each percentile the "
            "median of the runs'). Ours / bare per pair: "
            + ", ".join(f"{o:,.0f} / {b:,.0f} = {o / b:.2f}x" for o, b in read.saturation_pairs)
            + ".",
            "",
            "### Levers (each one change against ours, same run)",
            "",
            levers_table(read.levers),
            "",
            levers_table(read.list_levers),
            "",
            profile_text("Profile of our API at saturation", read.profile),
        ]
    proj = results.projector
    if proj is not None:
        run = proj.run
        out += [
            "## 2. Projector throughput, 4. rebuild",
            "",
            f"{proj.events:,} events over {proj.deployments:,} deployments, "
            f"{proj.partitions} partitions (published in {proj.publish_seconds:.1f} s).",
            "",
            "| measurement | events | seconds | events/s |",
            "|---|---|---|---|",
            f"| bare aiokafka consumer (no decoding) | {proj.raw_records:,} | "
            f"{proj.raw_seconds:.2f} | {proj.raw_rate:,.0f} |",
            f"| projector, spawn to last commit | {proj.events:,} | {run.seconds:.1f} | "
            f"{run.overall_rate:,.0f} |",
            f"| projector, first to last commit (steady) | "
            f"{proj.events - run.committed_at_first:,} | "
            f"{run.seconds - run.first_commit_seconds:.1f} | {run.steady_rate:,.0f} |",
        ]
        if proj.kafka_shaped is not None:
            out.append(_kafka_shaped_row(proj, proj.kafka_shaped))
        if proj.rebuild is not None:
            out.append(
                "| rebuild (`deploystatus rebuild`), spawn to generation switch | "
                f"{proj.events:,} | {proj.rebuild.seconds:.1f} | {proj.rebuild.overall_rate:,.0f} |"
            )
        one = proj.rebuild_one_process
        if one is not None and proj.rebuild is not None:
            slower = _fmt_ratio(ratio_of(one.seconds, proj.rebuild.seconds))
            out.append(
                "| lever: the same rebuild in one process (`REBUILD_PROCESSES=1`; above: the "
                f"default, one per core) | {proj.events:,} | {one.seconds:.1f} | "
                f"{one.overall_rate:,.0f} ({slower} the time) |"
            )
        default_rate = proj.batch_levers[-1][2] if proj.batch_levers else None
        for number, (batch_size, fetch_bytes, rate, rss_max) in enumerate(proj.batch_levers):
            defaults = number == len(proj.batch_levers) - 1
            what = "the defaults" if defaults else "lever"
            share = _fmt_ratio(ratio_of(rate, default_rate))
            versus = "" if defaults else f" ({share} of the defaults)"
            out.append(
                f"| {what}: PROJECTOR_BATCH_SIZE={batch_size}, KAFKA_FETCH_MAX_BYTES="
                f"{fetch_bytes >> 20} MiB (steady, {proj.deployments * LEVER_ROUNDS:,}-event "
                f"topic; peak RSS {rss_max / MB:.0f} MiB) | | | {rate:,.0f}{versus} |"
            )
        for what, rate in proj.setting_levers:
            versus = (
                f" ({_fmt_ratio(ratio_of(rate, default_rate))} of the defaults)"
                if default_rate
                else ""
            )
            out.append(
                f"| lever: {what} (`bench/infra/projector_lever.py`), default batches (steady, "
                f"{proj.deployments * LEVER_ROUNDS:,}-event topic) | | | {rate:,.0f}{versus} |"
            )
        out += [
            "",
            f"Projector CPU: {run.cpu_seconds:.1f} s for {proj.events:,} events "
            f"({run.cpu_seconds * 1e6 / proj.events:.0f} us/event). Start-up (spawn to first "
            f"commit): {run.first_commit_seconds:.1f} s.{_per_write(run.events_per_write)}",
            "",
            profile_text("Profile of the projector (first seconds of the run)", proj.profile),
        ]
    fresh = results.freshness
    if fresh is not None:
        out += [
            "## 3. Freshness",
            "",
            f"{fresh.events:,} events at {fresh.achieved_rate:,.0f}/s (target "
            f"{fresh.target_rate:,}/s), {fresh.probes} probes, {fresh.timeouts} timed out: "
            f"p50 {fresh.p50_ms:.1f} ms, p99 {fresh.p99_ms:.1f} ms, max {fresh.max_ms:.1f} ms "
            "(publish -> visible through GET /status).",
            "",
            f"Through watch streams, same run: {fresh.watch.probes} probes over "
            f"{WATCHED} streams, {fresh.watch.timeouts} timed out: p50 {fresh.watch.p50_ms:.1f} "
            f"ms, p99 {fresh.watch.p99_ms:.1f} ms, max {fresh.watch.max_ms:.1f} ms (publish -> "
            "the SSE event carrying it).",
            "",
            f"Of the GET probes' time, send -> the broker's ack (producer linger 5 ms, the "
            f"broker's append): p50 {fresh.acked.p50_ms:.1f} ms, p99 {fresh.acked.p99_ms:.1f} ms.",
            "",
            f"CPU while publishing (% of one core; the machine has {os.cpu_count()}): "
            f"{cpu_text(fresh.cpu_percent)}.",
            "",
        ]
        floor = results.freshness_floor
        if floor is not None:
            bare = floor.received
            out += [
                "Baseline, same run, right after: the same publishing read by a bare aiokafka "
                f"consumer with the projector's fetch settings ({floor.events:,} events, "
                f"{bare.probes} probes, {bare.timeouts} timed out): p50 {bare.p50_ms:.1f} ms, "
                f"p99 {bare.p99_ms:.1f} ms, max {bare.max_ms:.1f} ms (publish -> received); "
                f"CPU: {cpu_text(floor.cpu_percent)}.",
                "",
            ]
        if results.broker_cost:
            shares = ", ".join(
                f"{s.broker_cpu_percent:.0f}% ({s.records_before:,})"
                for s in results.broker_cost[:-1]
            )
            out += [
                "The embedded broker alone (`bench/scenarios/broker_cost.py`: the same producer "
                "and rate, "
                f"a bare consumer, {STRETCH_SECONDS} s stretches on a topic of its own): broker "
                f"CPU {shares} (% of one core, and the records the topic held before, in "
                "batches of a few records); then on a new topic: "
                f"{results.broker_cost[-1].broker_cpu_percent:.0f}%.",
                "",
            ]
        lever = results.freshness_lever
        if lever is not None:
            out += [
                f"Lever, same run: the projector with `KAFKA_FETCH_MAX_WAIT_MS="
                f"{LEVER_FETCH_WAIT_MS}` (the default before issue 7; now 20): "
                f"{lever.events:,} events at {lever.achieved_rate:,.0f}/s; GET: {lever.probes} "
                f"probes, {lever.timeouts} timed out, p50 {lever.p50_ms:.1f} ms, "
                f"p99 {lever.p99_ms:.1f} ms, max {lever.max_ms:.1f} ms; watch streams: "
                f"p50 {lever.watch.p50_ms:.1f} ms, p99 {lever.watch.p99_ms:.1f} ms.",
                "",
            ]
    out += ["## 5. Footprint", ""]
    for label, fp in (
        ("read view", results.read_footprint),
        ("projector view", proj.footprint if proj else None),
    ):
        if fp is not None:
            out.append(
                f"- Redis, {label}: {fp.bytes_per_deployment:,.0f} bytes per deployment hash "
                f"(document {fp.document_bytes:,.0f} B, fold state {fp.state_bytes:,.0f} B; "
                f"{fp.keys_sampled} keys sampled with MEMORY USAGE)"
            )
    if proj is not None:
        for n, rss in sorted(proj.run.rss_at.items()):
            peak = proj.run.rss_peak_at.get(n, rss)
            states = proj.run.states_at.get(n)
            held = f"; {states:,} deployment states held" if states is not None else ""
            out.append(
                f"- projector RSS after {n:,} events: {rss / MB:.0f} MiB "
                f"(peak since the checkpoint before: {peak / MB:.0f} MiB{held})"
            )
        out.append(f"- projector RSS max: {proj.run.rss_max / MB:.0f} MiB")
        held_all = rss_once_every_state_held(proj)
        if held_all:
            out.append(f"- {held_all}")
    if read is not None:
        ours = find_run(read.runs, "ours", "saturation")
        if ours:
            out.append(f"- API RSS under saturation load: {ours.rss_max / MB:.0f} MiB")
    out += ["", findings, ""]
    if results.notes:
        out += ["## Notes", "", *[f"- {n}" for n in results.notes], ""]
    return "\n".join(out)


def stdout_table(results: RunResults) -> str:
    parts = [targets_table(results)]
    if results.read is not None:
        read = results.read
        parts += [read_table(read), levers_table(read.levers), levers_table(read.list_levers)]
    return "\n\n".join(parts)
