"""Benchmark 3, freshness: event published -> visible through the API, at a fixed rate.

Method: with a projector and our API running over the read data set, events are published
at ``rate``/s for ``seconds`` (ticks of 10 ms, a bounded count) with the production producer
settings (``create_producer``: acks=all, linger 5 ms). Two kinds of probes, each an event whose
send time is taken just before ``send()``:

- through GET: every ``PROBE_EVERY_TICKS`` ticks one event is a probe; once the broker has
  acknowledged it, one read-your-writes request (`GET /status/{id}?min_offset=<its offset>`)
  asks the API for the document that includes it, and the API answers as soon as it is
  applied (woken by the projector's change notification, then reading Redis). The latency is
  from the send to that answer: no polling, so the measurement adds one request per probe
  to the load, where polling every few milliseconds took more CPU than the projector.
- through a watch stream: ``WATCHED`` deployments (kept out of the other traffic) each have
  an SSE stream open (`GET /status/{id}/watch`); in the ticks between the GET probes one of
  them, in turn, gets a probe event, timed until its stream delivers a document that has it.

The bench process, broker, Redis, projector and API share 2 cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from dataclasses import dataclass, field
from http import HTTPStatus

import httpx
import orjson
from aiokafka.structs import RecordMetadata
from httpx_sse import EventSource
from redis.asyncio import Redis

from bench.data.dataset import event_time, record
from bench.infra.kafka_io import GroupProgress
from bench.infra.probes import Latencies, freeze_own_objects, paced
from bench.infra.procs import CpuShare
from bench.infra.servers import serving
from bench.infra.services import Stack, spawn, stop
from bench.scenarios.projector_run import PROJECTOR_ARGS
from bench.scenarios.read_path import ReadSetup
from deploystatus.kafka import create_producer
from deploystatus.settings import Settings
from deploystatus.topics import end_offsets

PROBE_EVERY_TICKS = 2
POLL_MS = 3
PROBE_TIMEOUT_SECONDS = 10.0
WARMUP_TIMEOUT_SECONDS = 90.0
# Lever: the projector's consumer with the fetch wait KAFKA_FETCH_MAX_WAIT_MS had by default
# before issue 7 (now 20 ms): the embedded broker holds a fetch up to that long.
LEVER_FETCH_WAIT_MS = 100
WATCHED = 40


@dataclass(frozen=True)
class Freshness:
    target_rate: int
    achieved_rate: float
    events: int
    probes: int
    timeouts: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    latencies_ms: list[float]
    watch: Latencies  # the same, seen through watch streams
    acked: Latencies  # GET probes: send -> the broker's ack (producer linger and broker)
    rounds: int  # the most rounds one deployment was sent
    cpu_percent: dict[str, float]  # process -> CPU while publishing, % of one core


async def _visible(
    client: httpx.AsyncClient, url: str, token: str, expected_time: str, deadline: float
) -> bool:
    headers = {"Authorization": f"Bearer {token}"}
    while time.perf_counter() < deadline:
        answer = await client.get(url, headers=headers)
        if (
            answer.status_code == HTTPStatus.OK
            and orjson.loads(answer.content)["updated_at"] >= expected_time
        ):
            return True
        await asyncio.sleep(POLL_MS / 1000)
    return False


@dataclass
class _Watched:
    """One deployment followed by a watch stream, and its probe in flight (if any)."""

    deployment_id: str
    token: str
    pending: tuple[str, float] | None = None  # (event time awaited, send time)
    seen: asyncio.Event = field(default_factory=asyncio.Event)
    live: asyncio.Event = field(default_factory=asyncio.Event)


async def _follow(client: httpx.AsyncClient, base_url: str, watched: _Watched, out: list[float]):
    url = f"{base_url}/status/{watched.deployment_id}/watch"
    headers = {"Authorization": f"Bearer {watched.token}"}
    async with client.stream("GET", url, headers=headers) as response:
        async for event in EventSource(response).aiter_sse():
            if event.event != "status":
                continue
            watched.live.set()
            pending = watched.pending
            if pending is not None and orjson.loads(event.data)["updated_at"] >= pending[0]:
                out.append((time.perf_counter() - pending[1]) * 1000)
                watched.pending = None
                watched.seen.set()


async def measure(
    setup: ReadSetup,
    stack: Stack,
    rate: int,
    seconds: int,
    *,
    first_round: int = 0,
    fetch_wait_ms: int | None = None,
    label: str = "",
) -> Freshness:
    """One run; a later run over the same data set passes ``first_round`` past the rounds
    the earlier ones published (a repeated event id would be deduplicated, not shown), and
    a ``label``: its projector then joins a consumer group of its own. In the same group it
    would be hit by a rebalance once the broker expires the previous run's member (seen:
    seconds of backlog); in its own group it first re-reads the log, skipping every record
    the view already holds."""
    settings = setup.settings
    log = stack.log_dir / f"projector-freshness{label}.log"
    projector_settings = settings
    if label:
        projector_settings = settings.replace(
            consumer_group=f"{settings.kafka.consumer_group}{label}"
        )
    if fetch_wait_ms is not None:
        projector_settings = projector_settings.replace(kafka_fetch_max_wait_ms=fetch_wait_ms)
    projector = spawn(PROJECTOR_ARGS, projector_settings, log)
    try:
        # Timed only once caught up: in a group of its own the projector re-reads the log
        # first (in the default group this returns at once).
        await _caught_up(projector_settings)
        with serving("ours", settings, stack.log_dir) as server:
            pids = {
                "broker": stack.broker_pid,
                "projector": projector.pid,
                "API": server.pid,
                "Redis": stack.redis.pid,
                "bench client": os.getpid(),
            }
            freeze_own_objects()
            return await _publish_and_probe(
                setup, server.url, rate, seconds, first_round, CpuShare(pids)
            )
    finally:
        stop(projector)


def rounds_used(setup: ReadSetup, fresh: Freshness) -> int:
    """Rounds per deployment a later run must skip: as many as the busiest deployment used
    (the watched ones take a probe every few hundred milliseconds), plus the warm-up."""
    return fresh.rounds + 1


async def _caught_up(settings: Settings) -> None:
    """Wait until the projector's group has committed the whole topic (bounded)."""
    end = sum((await end_offsets(settings)).values())
    deadline = time.perf_counter() + WARMUP_TIMEOUT_SECONDS
    redis = Redis.from_url(settings.redis.url)
    try:
        async with GroupProgress(settings, redis) as progress:
            while await progress.committed() < end:
                if time.perf_counter() > deadline:
                    raise RuntimeError("freshness lever: the projector never caught up")
                await asyncio.sleep(0.25)
    finally:
        await redis.aclose()


async def _publish_and_probe(
    setup: ReadSetup, base_url: str, rate: int, seconds: int, first_round: int, cpu: CpuShare
) -> Freshness:
    settings = setup.settings
    deployments = setup.deployments
    start = setup.events // len(deployments) + first_round
    next_round = dict.fromkeys(range(len(deployments)), start)
    watched_indexes = range(len(deployments) - WATCHED, len(deployments))
    order = itertools.cycle(range(len(deployments) - WATCHED))
    producer = create_producer(settings, "bench-freshness")
    await producer.start()
    latencies: list[float] = []
    acked_latencies: list[float] = []
    watch_latencies: list[float] = []
    timeouts = 0
    watched = [
        _Watched(deployments[i].deployment_id, setup.tokens[deployments[i].deployment_id])
        for i in watched_indexes
    ]
    streams = httpx.AsyncClient(
        timeout=httpx.Timeout(10, read=60), limits=httpx.Limits(max_connections=WATCHED + 5)
    )
    async with httpx.AsyncClient(timeout=5) as client, streams:
        followers = [
            asyncio.create_task(_follow(streams, base_url, w, watch_latencies)) for w in watched
        ]
        await asyncio.wait_for(asyncio.gather(*(w.live.wait() for w in watched)), 30)

        async def send(index: int) -> tuple[str, str, asyncio.Future[RecordMetadata]]:
            dep = deployments[index]
            round_no = next_round[index]
            next_round[index] += 1
            key, value = record(dep, round_no)
            delivered = await producer.send(settings.kafka.events_topic, key=key, value=value)
            return dep.deployment_id, event_time(round_no, dep), delivered

        async def probe(index: int) -> None:
            nonlocal timeouts
            sent = time.perf_counter()
            dep_id, expected, delivered = await send(index)
            offset = (await delivered).offset
            acked_latencies.append((time.perf_counter() - sent) * 1000)
            answer = await client.get(
                f"{base_url}/status/{dep_id}",
                params={"min_offset": offset, "wait": f"{PROBE_TIMEOUT_SECONDS}s"},
                headers={"Authorization": f"Bearer {setup.tokens[dep_id]}"},
                timeout=PROBE_TIMEOUT_SECONDS + 5,
            )
            if (
                answer.status_code == HTTPStatus.OK
                and orjson.loads(answer.content)["updated_at"] >= expected
            ):
                latencies.append((time.perf_counter() - sent) * 1000)
            else:
                timeouts += 1

        watch_probes = 0
        next_watched = itertools.cycle(zip(watched_indexes, watched, strict=True))

        async def watch_probe() -> None:
            nonlocal watch_probes
            index, target = next(next_watched)
            if target.pending is not None:
                return  # its previous probe is still in flight: skip a turn
            target.seen.clear()
            sent = time.perf_counter()
            # send() only queues the record, so the stream cannot show it before this is set.
            _, expected, _ = await send(index)
            target.pending = (expected, sent)
            watch_probes += 1

        # Warm-up: one probe must go through before timing (projector joined, API ready).
        warm = deployments[0]
        dep_id, expected, _ = await send(0)
        if not await _visible(
            client,
            f"{base_url}/status/{dep_id}",
            setup.tokens[warm.deployment_id],
            expected,
            time.perf_counter() + WARMUP_TIMEOUT_SECONDS,
        ):
            raise RuntimeError("freshness warm-up: the projector never made the probe visible")

        probes: list[asyncio.Task[None]] = []
        probing: set[int] = set()
        sent_events = 0
        cpu.start()
        started = time.perf_counter()
        async for tick, per_tick in paced(rate, seconds):
            for slot in range(per_tick):
                if slot == 0 and tick % PROBE_EVERY_TICKS == 1:
                    await watch_probe()
                    sent_events += 1
                    continue
                index = next(order)
                if slot == 0 and tick % PROBE_EVERY_TICKS == 0 and index not in probing:
                    probing.add(index)
                    task = asyncio.create_task(probe(index))
                    task.add_done_callback(lambda _, i=index: probing.discard(i))
                    probes.append(task)
                else:
                    await send(index)
                sent_events += 1
        elapsed = time.perf_counter() - started
        cpu_percent = cpu.stop()
        await producer.flush()
        await asyncio.wait_for(asyncio.gather(*probes), PROBE_TIMEOUT_SECONDS + 30)
        waiting = [w.seen.wait() for w in watched if w.pending is not None]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waiting), PROBE_TIMEOUT_SECONDS)
        watch_timeouts = sum(1 for w in watched if w.pending is not None)
        for follower in followers:
            follower.cancel()
        await asyncio.gather(*followers, return_exceptions=True)
    await producer.stop()
    through_get = Latencies.of(latencies, len(probes), timeouts)
    return Freshness(
        target_rate=rate,
        achieved_rate=sent_events / elapsed,
        events=sent_events,
        probes=len(probes),
        timeouts=timeouts,
        p50_ms=through_get.p50_ms,
        p99_ms=through_get.p99_ms,
        max_ms=through_get.max_ms,
        latencies_ms=latencies,
        watch=Latencies.of(watch_latencies, watch_probes, watch_timeouts),
        acked=Latencies.of(acked_latencies, len(acked_latencies), 0),
        rounds=max(next_round.values()) - start,
        cpu_percent=cpu_percent,
    )
