"""``python -m bench [--quick] [--only read|projector|freshness|footprint]``.

Starts its own broker and Redis on loopback ports, uses the local PostgreSQL for the SQL
baseline, runs the benchmarks, prints a table and writes ``bench/results/latest.md`` and
``bench/results/latency.png``. Every load is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import shlex
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench.data.config import FULL, QUICK, Sizes
from bench.infra.probes import freeze_own_objects
from bench.infra.services import Stack, running_stack
from bench.infra.wrk import WrkMissing, wrk_binary
from bench.report.chart import chart
from bench.report.findings import findings
from bench.report.report import markdown, stdout_table
from bench.report.targets import RunResults
from bench.scenarios import (
    broker_cost,
    footprint,
    freshness,
    freshness_floor,
    projector_bench,
    read_path,
)

RESULTS = Path(__file__).parent / "results"
SECTIONS = ("read", "projector", "freshness", "footprint")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, short runs")
    parser.add_argument("--only", choices=SECTIONS, help="run one benchmark")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where results go")
    args = parser.parse_args(argv)
    wanted = {args.only} if args.only else set(SECTIONS)
    needed = ("sqlalchemy", "asyncpg", "httpx", "matplotlib", "granian")
    missing = [m for m in needed if not _has(m)]
    if missing:
        parser.exit(
            2, f"python -m bench: missing {', '.join(missing)}: pip install -e '.[bench]'\n"
        )
    if "read" in wanted:
        try:
            wrk_binary()
        except WrkMissing as exc:
            parser.exit(2, f"python -m bench: {exc}\n")
    command = "python -m bench" + (f" {shlex.join(argv or sys.argv[1:])}" if sys.argv[1:] else "")
    results = RunResults(command=command, quick=args.quick)
    started = time.monotonic()
    # Stopped by `timeout` or `kill`, the run stops what it started as after Ctrl-C (asyncio
    # cancels the run, and every `finally` stops its processes); by default SIGTERM would
    # leave the broker and Redis it started running.
    signal.signal(signal.SIGTERM, lambda signum, frame: signal.raise_signal(signal.SIGINT))
    asyncio.run(_run(results, wanted, args.quick))
    args.output.mkdir(parents=True, exist_ok=True)
    chart(results, args.output / "latency.png")
    report = markdown(results, findings(results))
    (args.output / "latest.md").write_text(report)
    print(stdout_table(results))
    print(
        f"\nwritten: {args.output / 'latest.md'}, {args.output / 'latency.png'} "
        f"({time.monotonic() - started:.0f} s)"
    )
    return 0


async def _run(results: RunResults, wanted: set[str], quick: bool) -> None:
    sizes = QUICK if quick else FULL
    work_dir = Path(tempfile.mkdtemp(prefix="deploystatus-bench-work-"))
    with running_stack() as stack:
        results.broker = stack.kafka.description
        _log(f"services up: {results.broker} (logs in {stack.log_dir})")
        try:
            await _experiments(results, stack, wanted, sizes, work_dir)
        finally:
            await stack.delete_topics()


async def _experiments(
    results: RunResults, stack: Stack, wanted: set[str], sizes: Sizes, work_dir: Path
) -> None:
    if wanted & {"read", "freshness", "footprint"}:
        _log("read data set: generating, folding, loading PostgreSQL and Redis")
        setup = await read_path.prepare(stack, sizes, work_dir)
        results.read_setup = setup
        results.read_footprint = await footprint.measure(setup.settings)
        if "read" in wanted:
            _log("read path: SQL baseline, ours, bare endpoint, levers")
            results.read = await asyncio.to_thread(read_path.run, setup, stack, sizes, work_dir)
        if "freshness" in wanted:
            _log("freshness")
            rate, seconds = sizes.freshness_rate, sizes.freshness_seconds
            results.freshness = await freshness.measure(setup, stack, rate, seconds)
            rounds = freshness.rounds_used(setup, results.freshness)
            _log("freshness: baseline, a bare consumer")
            results.freshness_floor = await freshness_floor.measure(
                setup, stack, rate, seconds, first_round=rounds
            )
            rounds += results.freshness_floor.rounds
            _log(f"freshness lever: KAFKA_FETCH_MAX_WAIT_MS={freshness.LEVER_FETCH_WAIT_MS}")
            results.freshness_lever = await freshness.measure(
                setup,
                stack,
                rate,
                seconds,
                first_round=rounds,
                fetch_wait_ms=freshness.LEVER_FETCH_WAIT_MS,
                label="-fetch-wait",
            )
            if stack.broker_pid is not None:  # a property of the embedded broker
                _log("freshness: the embedded broker's fetch cost, alone")
                results.broker_cost = await broker_cost.measure(
                    stack, setup.settings, setup.deployments, rate
                )
    if wanted & {"projector", "footprint"}:
        # The bare consumer (the projector's baseline) runs in this process, which by now
        # holds the read data set: left to the collector, every collection during the
        # consumption walked it all (1M records in 4.5 s after the read benchmark, 2.3 s
        # without it).
        freeze_own_objects()
        _log("projector: publish, raw consume, fold, rebuild")
        results.projector = await projector_bench.run(
            stack, sizes, work_dir, with_rebuild="projector" in wanted
        )


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
