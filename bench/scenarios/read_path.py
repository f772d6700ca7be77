"""Benchmark 1, the read path: ``GET /status/{id}`` over the stored deployments, random
(deployment, owner's token) pair per request, against the bare endpoint, our API and the
SQL baseline, at saturation and at a fixed moderate rate; then the levers, one at a time."""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from api.auth import mint_token
from bench.data import sql_load
from bench.data.config import CORRECTNESS_SAMPLE, MODERATE_FRACTION, Sizes
from bench.data.dataset import Deployment, event_log, make_deployments
from bench.data.expected import Folded, fold_log
from bench.infra.apps import path_prefix
from bench.infra.kafka_io import publish_bulk
from bench.infra.procs import pids_named
from bench.infra.profiling import Profile, start_py_spy, summarise
from bench.infra.servers import (
    LoadRun,
    Server,
    ServerOptions,
    cache_lookups,
    combined,
    measure,
    serving,
    warm_up,
)
from bench.infra.services import Stack
from bench.scenarios.projector_run import project_all
from deploystatus.settings import Settings
from deploystatus.view.client import create_redis
from deploystatus.view.keys import Keys
from events import new_event
from projector.core.fold import fold_records
from projector.fanout import Fanout
from projector.store import RedisStatusStore, Write

FIXED_RATE_CONNECTIONS = 8
# GET /status: a page of this many items, for an owner of this many deployments.
LIST_PAGE, LIST_OWNER_DEPLOYMENTS = 50, 10_000
LIST_TARGET = "ours: list page of 50, owner of 10,000"
SATURATION_PAIRS = 3
TOKEN_TTL_SECONDS = 4 * 3600


@dataclass
class ReadSetup:
    settings: Settings
    deployments: list[Deployment]
    folded: Folded
    tokens: dict[str, str]  # deployment id -> its owner's token
    targets: Path  # "deployment_id token" lines for wrk
    events: int
    pg_rows: dict[str, int]
    list_targets: Path  # one "owner token" line: the owner of LIST_OWNER_DEPLOYMENTS


@dataclass
class ReadResults:
    runs: list[LoadRun] = field(default_factory=list)
    levers: list[LoadRun] = field(default_factory=list)  # the first one is ours
    list_levers: list[LoadRun] = field(default_factory=list)  # likewise, for list pages
    checked_documents: int = 0
    fixed_rate: float = 0.0
    profile: Profile | None = None
    cache_hit_ratio: float | None = None  # ours at saturation, after the warm-up pass
    # (ours, bare endpoint) req/s of each interleaved saturation pair, in order
    saturation_pairs: list[tuple[float, float]] = field(default_factory=list)
    # (list page, single GET) req/s of each interleaved pair, and the single GETs combined
    list_pairs: list[tuple[float, float]] = field(default_factory=list)
    list_single: LoadRun | None = None


async def prepare(stack: Stack, sizes: Sizes, work_dir: Path) -> ReadSetup:
    """The same folded data in PostgreSQL (COPY) and in Redis (through the real projector)."""
    settings = stack.settings("read")
    deployments = make_deployments(sizes.read_deployments)
    records = list(event_log(deployments, sizes.read_rounds))
    folded = fold_log(records)
    pg_rows = await sql_load.load(folded)
    await publish_bulk(settings, records)
    await project_all(settings, len(records), stack.log_dir / "projector-read.log")
    tokens = {
        d.deployment_id: mint_token(settings, d.owner, TOKEN_TTL_SECONDS) for d in deployments
    }
    targets = work_dir / "targets.txt"
    targets.write_text("".join(f"{dep} {token}\n" for dep, token in tokens.items()))
    owner = await list_owner(settings)
    list_targets = work_dir / "list-targets.txt"
    list_targets.write_text(f"{owner} {mint_token(settings, owner, TOKEN_TTL_SECONDS)}\n")
    return ReadSetup(
        settings, deployments, folded, tokens, targets, len(records), pg_rows, list_targets
    )


async def list_owner(settings: Settings) -> str:
    """A new owner of LIST_OWNER_DEPLOYMENTS deployments in the served generation, written
    as the projector writes them (fold, save, fan-out: the same lists), without the log."""
    owner = str(uuid.uuid4())
    keys = Keys(settings.redis.prefix)
    async with create_redis(settings) as redis:
        generation = (await redis.get(keys.generation)).decode()
        store = RedisStatusStore(redis, keys, generation)
        for start in range(0, LIST_OWNER_DEPLOYMENTS, 1000):
            writes = []
            for n in range(start, min(start + 1000, LIST_OWNER_DEPLOYMENTS)):
                deployment_id = str(uuid.uuid4())
                created = {"user_id": owner, "name": f"svc-{n:05d}", "target_replicas": 2}
                events = [new_event("deployment.created", deployment_id, created)]
                for _ in range(n % 3):  # unhealthy, degraded and healthy ones
                    data = {"replica_id": str(uuid.uuid4()), "status": "running"}
                    events.append(new_event("replica.status_changed", deployment_id, data))
                state = fold_records(None, list(enumerate(events, 1 << 40)))
                assert state is not None
                writes.append(Write(state, -1))
            assert not await store.save(writes)
            fanout = Fanout(store, None).batch()
            await fanout.add(writes)
            await fanout.finish()
    return owner


async def same_documents(setup: ReadSetup, ours_url: str, sql_url: str, sample: int) -> int:
    """Assert that our API, the SQL baseline and the in-process fold give the same document
    for a random sample of deployments (parsed JSON compared). Returns how many."""
    chosen = random.Random(11).sample(  # noqa: S311 - a reproducible sample
        setup.deployments, min(sample, len(setup.deployments))
    )
    async with httpx.AsyncClient(timeout=10) as client:
        for dep in chosen:
            headers = {"Authorization": f"Bearer {setup.tokens[dep.deployment_id]}"}
            ours = await client.get(f"{ours_url}/status/{dep.deployment_id}", headers=headers)
            sql = await client.get(f"{sql_url}/status/{dep.deployment_id}", headers=headers)
            expected = setup.folded.document(dep.deployment_id)
            assert ours.status_code == sql.status_code == 200, (ours.text, sql.text)
            assert expected is not None
            assert orjson.loads(ours.content) == orjson.loads(expected), dep.deployment_id
            assert orjson.loads(sql.content) == orjson.loads(ours.content), (
                f"{dep.deployment_id}: SQL baseline {sql.text}\n!= ours {ours.text}"
            )
    return len(chosen)


def run(setup: ReadSetup, stack: Stack, sizes: Sizes, work_dir: Path) -> ReadResults:
    results = ReadResults()
    store_pids = {
        "sql": lambda: pids_named("postgres"),
        "ours": lambda: [stack.redis.pid],
        "bare": list,
    }
    logs = stack.log_dir

    def load(server, label, mode, seconds, connections, delay_ms=0, app=None):  # type: ignore[no-untyped-def]
        return measure(
            server,
            label,
            mode,
            prefix=path_prefix(app or server.app),
            targets=setup.targets,
            seconds=seconds,
            connections=connections,
            work_dir=work_dir,
            store_pids=store_pids.get(app or server.app, lambda: [stack.redis.pid]),
            delay_ms=delay_ms,
        )

    with serving("ours", setup.settings, logs) as ours, serving("sql", setup.settings, logs) as sql:
        results.checked_documents = asyncio.run(
            same_documents(setup, ours.url, sql.url, CORRECTNESS_SAMPLE)
        )

    def list_load(server: Server, label: str, seconds: int) -> LoadRun:
        return measure(
            server,
            label,
            "saturation",
            prefix=f"/status?limit={LIST_PAGE}&_=",  # the owner id: an ignored field
            targets=setup.list_targets,
            seconds=seconds,
            connections=sizes.connections,
            work_dir=work_dir,
            store_pids=lambda: [stack.redis.pid],
        )

    def warm(server, app=None):  # type: ignore[no-untyped-def]
        warm_up(server, path_prefix(app or server.app), setup.targets, work_dir)

    with serving("sql", setup.settings, logs) as sql:
        warm(sql)
        saturated = load(sql, "SQL baseline", "saturation", sizes.saturation_seconds, 32)
        results.runs.append(saturated)
        results.fixed_rate = max(10.0, saturated.wrk.rps * MODERATE_FRACTION)
        delay_ms = max(1, round(FIXED_RATE_CONNECTIONS * 1000 / results.fixed_rate))
        results.runs.append(
            load(sql, "SQL baseline", "fixed rate", sizes.fixed_rate_seconds, 8, delay_ms)
        )

    # Ours against the bare endpoint at saturation: in interleaved pairs of shorter runs,
    # both servers up throughout, so that the machine's drift over a minute (other work on
    # its 2 cores: single runs of the same server differed by 25%) falls on both alike.
    pair_seconds = max(2, round(sizes.saturation_seconds / SATURATION_PAIRS))
    with (
        serving("ours", setup.settings, logs) as ours,
        serving("bare", setup.settings, logs) as bare,
    ):
        warm(ours)
        warm(bare)
        before = cache_lookups(ours)
        pairs = [
            (
                load(ours, "ours", "saturation", pair_seconds, sizes.connections),
                load(bare, "bare endpoint", "saturation", pair_seconds, sizes.connections),
            )
            for _ in range(SATURATION_PAIRS)
        ]
        results.cache_hit_ratio = _hit_ratio(before, cache_lookups(ours))
        results.saturation_pairs = [(o.wrk.rps, b.wrk.rps) for o, b in pairs]
        # GET /status against the single-document GET, interleaved in pairs likewise.
        list_pairs = [
            (
                list_load(ours, LIST_TARGET, pair_seconds),
                load(ours, "ours", "saturation", pair_seconds, sizes.connections),
            )
            for _ in range(SATURATION_PAIRS)
        ]
        results.list_pairs = [(page.wrk.rps, one.wrk.rps) for page, one in list_pairs]
        results.runs += [combined([o for o, _ in pairs]), combined([b for _, b in pairs])]
        results.runs.append(combined([page for page, _ in list_pairs]))
        results.list_single = combined([one for _, one in list_pairs])
        for server, label in ((ours, "ours"), (bare, "bare endpoint")):
            results.runs.append(
                load(server, label, "fixed rate", sizes.fixed_rate_seconds, 8, delay_ms)
            )
        results.profile = _profile(
            ours.pid,
            sizes,
            work_dir,
            lambda: load(ours, "ours", "profiled", sizes.profile_seconds, sizes.connections),
        )

    variants = [
        ("ours", ServerOptions(), "ours (uvloop+httptools, as measured above)"),
        ("ours", ServerOptions(loop="asyncio", http="h11"), "ours on asyncio+h11"),
        ("ours", ServerOptions(access_log=True), "ours with uvicorn's access log on"),
        ("ours", ServerOptions(default_collector=True), "ours with CPython's default collector"),
        ("no-hiredis", ServerOptions(), "ours without hiredis"),
        ("no-token-cache", ServerOptions(), "ours without the verified-token cache"),
        ("no-document-cache", ServerOptions(), "ours without the document cache"),
        ("reserialised", ServerOptions(), "ours re-serialising via response_model"),
        ("bare", ServerOptions(loop="asyncio", http="h11"), "bare endpoint on asyncio+h11"),
        ("ours", ServerOptions(server="granian"), "ours on granian (uvloop)"),
        ("bare", ServerOptions(server="granian"), "bare endpoint on granian (uvloop)"),
    ]
    for app, options, label in variants:
        with serving(app, setup.settings, logs, options) as server:
            warm(server, app)
            results.levers.append(
                load(server, label, "saturation", sizes.lever_seconds, sizes.connections, 0, app)
            )
    # The collector matters most where each request waits on Redis: a list page.
    list_variants = [
        (ServerOptions(), "ours: list page of 50 (as measured above)"),
        (ServerOptions(default_collector=True), "list page of 50, CPython's default collector"),
    ]
    for options, label in list_variants:
        with serving("ours", setup.settings, logs, options) as server:
            warm(server)
            results.list_levers.append(list_load(server, label, sizes.lever_seconds))
    return results


def _hit_ratio(before: dict[str, float], after: dict[str, float]) -> float | None:
    hits = after.get("hit", 0.0) - before.get("hit", 0.0)
    misses = after.get("miss", 0.0) - before.get("miss", 0.0)
    return hits / (hits + misses) if hits + misses else None


def _profile(pid: int, sizes: Sizes, work_dir: Path, drive) -> Profile | None:  # type: ignore[no-untyped-def]
    output = work_dir / "profile-api.txt"
    profiler = start_py_spy(pid, sizes.profile_seconds, output)
    if profiler is None:
        return None
    drive()
    profiler.wait(timeout=sizes.profile_seconds + 30)
    return summarise(output)
