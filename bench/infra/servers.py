"""API servers under test: one server subprocess per target (uvicorn, as deployed, unless a
lever says granian), same server settings for all, and one measured wrk run against it with
the CPU and memory it cost."""

from __future__ import annotations

import contextlib
import statistics
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.infra.procs import children, cpu_seconds, cpu_seconds_of, rss_bytes
from bench.infra.services import PG_DSN, spawn, stop, wait_http
from bench.infra.wrk import WrkResult, run_wrk
from deploystatus.settings import Settings
from devtools.devstack import free_port

WARMUP_SECONDS = 1
# Requests per second assumed of a cold server when sizing the warm-up pass (a low guess:
# the pass must reach every target).
WARM_UP_RATE = 1500
RSS_SAMPLE_SECONDS = 0.5


@dataclass(frozen=True)
class ServerOptions:
    server: str = "uvicorn"
    loop: str = "uvloop"
    http: str = "httptools"  # uvicorn's HTTP parser; granian has its own
    access_log: bool = False
    default_collector: bool = False  # CPython's, not the one `deploystatus api` sets


@dataclass
class Server:
    app: str
    pid: int
    url: str


@dataclass(frozen=True)
class LoadRun:
    target: str
    mode: str  # "saturation" or "fixed rate"
    wrk: WrkResult
    server_cpu_ms: float  # CPU of the server process per request
    store_cpu_ms: float  # CPU of Redis / PostgreSQL per request
    rss_max: int


def combined(runs: list[LoadRun]) -> LoadRun:
    """Runs of one target and mode as one: requests and seconds summed (so req/s is the
    mean over the runs), CPU per request over all requests, each latency percentile the
    median of the runs' (percentiles of separate runs cannot be merged exactly)."""
    first = runs[0]
    requests = sum(run.wrk.requests for run in runs)

    median = statistics.median
    wrk = WrkResult(
        requests=requests,
        seconds=sum(run.wrk.seconds for run in runs),
        errors=sum(run.wrk.errors for run in runs),
        p50_ms=median(run.wrk.p50_ms for run in runs),
        p90_ms=median(run.wrk.p90_ms for run in runs),
        p99_ms=median(run.wrk.p99_ms for run in runs),
        p999_ms=median(run.wrk.p999_ms for run in runs),
        max_ms=max(run.wrk.max_ms for run in runs),
    )

    def per_request(cost: Callable[[LoadRun], float]) -> float:
        return sum(cost(run) * run.wrk.requests for run in runs) / max(requests, 1)

    return LoadRun(
        target=first.target,
        mode=first.mode,
        wrk=wrk,
        server_cpu_ms=per_request(lambda run: run.server_cpu_ms),
        store_cpu_ms=per_request(lambda run: run.store_cpu_ms),
        rss_max=max(run.rss_max for run in runs),
    )


@contextlib.contextmanager
def serving(
    app: str, settings: Settings, log_dir: Path, options: ServerOptions | None = None
) -> Iterator[Server]:
    options = options or ServerOptions()
    port = free_port()
    args = ["-m", "bench.infra.serve", app, "--port", str(port), "--server", options.server]
    args += ["--loop", options.loop, "--http", options.http]
    if options.access_log:
        args.append("--access-log")
    if options.default_collector:
        args.append("--default-collector")
    log = log_dir / f"server-{app}-{port}.log"
    process = spawn(args, settings, log, BENCH_PG_DSN=PG_DSN)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", process, log)
        # granian serves from a worker process of its own: that one is measured.
        workers = children(process.pid)
        pid = workers[0] if len(workers) == 1 else process.pid
        yield Server(app, pid, f"http://127.0.0.1:{port}")
    finally:
        stop(process)


def warm_up(server: Server, prefix: str, targets: Path, work_dir: Path) -> None:
    """Every target requested once (and more, until the time is up), as a long-running API
    process has seen them: its token and document caches filled, nothing measured."""
    count = sum(1 for _ in targets.open())
    run_wrk(
        server.url,
        prefix,
        targets,
        seconds=max(2, count // WARM_UP_RATE + 1),
        connections=32,
        work_dir=work_dir,
        sequential=True,
    )


def cache_lookups(server: Server) -> dict[str, float]:
    """The server's document cache lookups so far, by result (hit, miss), from /metrics."""
    counts = {}
    for line in httpx.get(f"{server.url}/metrics", timeout=10).text.splitlines():
        if line.startswith("deploystatus_api_document_cache_lookups_total{"):
            result = line.split('result="', 1)[1].split('"', 1)[0]
            counts[result] = float(line.rsplit(" ", 1)[1])
    return counts


def measure(
    server: Server,
    label: str,
    mode: str,
    *,
    prefix: str,
    targets: Path,
    seconds: int,
    connections: int,
    work_dir: Path,
    store_pids: Callable[[], list[int]],
    delay_ms: int = 0,
) -> LoadRun:
    """Warm up, then one bounded wrk run; CPU is read from /proc before and after."""
    run_wrk(
        server.url,
        prefix,
        targets,
        seconds=WARMUP_SECONDS,
        connections=connections,
        work_dir=work_dir,
        delay_ms=delay_ms,
    )
    pids = store_pids()
    server_before, store_before = cpu_seconds(server.pid), cpu_seconds_of(pids)
    peak = [rss_bytes(server.pid)]
    finished = threading.Event()

    def sample_rss() -> None:
        while not finished.wait(RSS_SAMPLE_SECONDS):
            peak[0] = max(peak[0], rss_bytes(server.pid))

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    try:
        result = run_wrk(
            server.url,
            prefix,
            targets,
            seconds=seconds,
            connections=connections,
            work_dir=work_dir,
            delay_ms=delay_ms,
        )
    finally:
        finished.set()
        sampler.join()
    if result.errors:
        raise RuntimeError(f"{label}: {result.errors} failed requests; see the server log")
    requests = max(result.requests, 1)
    return LoadRun(
        target=label,
        mode=mode,
        wrk=result,
        server_cpu_ms=(cpu_seconds(server.pid) - server_before) * 1000 / requests,
        store_cpu_ms=(cpu_seconds_of(pids) - store_before) * 1000 / requests,
        rss_max=max(peak[0], rss_bytes(server.pid)),
    )
