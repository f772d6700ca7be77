"""Helpers for the integration tests: publishing, running the projector and the API, waiting."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import TypeVar

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord, RecordMetadata

from api.app import create_app
from api.auth import mint_token
from cli.samples import SimulatedDeployment
from deploystatus.kafka import create_producer
from deploystatus.settings import Settings
from deploystatus.topics import ensure_topics
from deploystatus.view.client import create_redis
from deploystatus.view.keys import DOCUMENT, STATE, Keys
from devtools.devstack import free_port
from events.models import Event, new_event
from events.publisher import EventPublisher
from projector.core.document import render
from projector.core.fold import apply
from projector.core.state import DeploymentState
from projector.core.stored_state import from_stored
from projector.generations import Generations, group_of
from projector.service import run_projector

T = TypeVar("T")
WAIT_SECONDS = 60.0


async def publish(settings: Settings, events: Iterable[Event]) -> list[RecordMetadata]:
    return await publish_records(settings, [(None, None, e) for e in events])


async def publish_records(
    settings: Settings, records: list[tuple[bytes | None, bytes | None, Event | None]]
) -> list[RecordMetadata]:
    """Publish in order: (key, value, None) as raw bytes, or (_, _, event) encoded."""
    await ensure_topics(settings)
    producer = create_producer(settings, "tests")
    await producer.start()
    try:
        publisher = EventPublisher(producer, settings.kafka.events_topic)
        written = []
        for key, value, event in records:
            if event is not None:
                written += await publisher.publish([event])
            else:
                written += await publisher.publish_records([(key, value)])
        return written
    finally:
        await producer.stop()


async def wait_for(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    what: str,
    patience: float = WAIT_SECONDS,
) -> T:
    """Poll ``probe`` until ``done(result)``; fail naming ``what`` and the last result."""
    deadline = time.monotonic() + patience
    while True:
        result = await probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {patience}s for {what} in vain; last: {result!r}")
        await asyncio.sleep(0.05)


def expected_states(events: Iterable[Event]) -> dict[str, DeploymentState]:
    """The fold of the whole log, per deployment: what the served view must equal."""
    states: dict[str, DeploymentState] = {}
    for event in events:
        states[event.deployment_id] = apply(states.get(event.deployment_id), event)
    return states


def expected_documents(events: Iterable[Event]) -> dict[str, bytes | None]:
    return {dep: render(state) for dep, state in expected_states(events).items()}


async def serve_empty_generation(settings: Settings) -> str:
    """Make Redis serve a new, empty generation, as projectors do on an empty log."""
    async with create_redis(settings) as redis:
        generations = Generations(redis, Keys(settings.redis.prefix))
        build = await generations.begin("projectors", {})
        assert build is not None
        assert await generations.promote(build.generation) is not None
        return build.generation


async def served_generation(settings: Settings) -> str | None:
    async with create_redis(settings) as redis:
        raw = await redis.get(Keys(settings.redis.prefix).generation)
    return raw.decode() if raw else None


async def stored_documents(
    settings: Settings, deployment_ids: Iterable[str]
) -> dict[str, bytes | None] | None:
    """The served documents of these deployments, or None while no generation is served."""
    keys = Keys(settings.redis.prefix)
    async with create_redis(settings) as redis:
        raw = await redis.get(keys.generation)
        if raw is None:
            return None
        generation = raw.decode()
        return {
            dep: await redis.hget(keys.deployment(generation, dep), DOCUMENT)
            for dep in deployment_ids
        }


async def active_generation(settings: Settings) -> str | None:
    """The served generation, else the one being built."""
    async with create_redis(settings) as redis:
        generations = Generations(redis, Keys(settings.redis.prefix))
        build = await generations.building()
        return await generations.current() or (build.generation if build else None)


async def stored_state(settings: Settings, deployment_id: str) -> DeploymentState | None:
    """The fold state in the active generation (served, else being built)."""
    generation = await active_generation(settings) or ""
    async with create_redis(settings) as redis:
        key = Keys(settings.redis.prefix).deployment(generation, deployment_id)
        raw, document = await redis.hmget(key, [STATE, DOCUMENT])
    return from_stored(raw, document) if raw else None


async def wait_for_view(
    settings: Settings, events: list[Event], patience: float = WAIT_SECONDS
) -> None:
    """Wait until Redis serves exactly the fold of ``events`` for every deployment in them."""
    expected = expected_documents(events)
    await wait_for(
        lambda: stored_documents(settings, expected),
        lambda stored: stored == expected,
        f"the view of {len(expected)} deployment(s)",
        patience,
    )


@contextlib.asynccontextmanager
async def running_projector(settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    """A projector in this event loop, stopped gracefully (finish batch, commit) on exit."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_projector(settings, stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


@contextlib.asynccontextmanager
async def running_api(
    settings: Settings, port: int | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The API served by uvicorn on a loopback port (free by default), and a client for it."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=1,  # watch streams never end by themselves
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


def replica_change(dep: SimulatedDeployment, status: str) -> Event:
    """A status change of the deployment's first replica."""
    replica_id = next(iter(dep.replicas))
    return new_event(
        "replica.status_changed", dep.deployment_id, {"replica_id": replica_id, "status": status}
    )


def bearer(settings: Settings, user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, user_id)}"}


async def read_topic(
    settings: Settings, topic: str, count: int, patience: float = WAIT_SECONDS
) -> list[ConsumerRecord[bytes, bytes]]:
    """The first ``count`` records of ``topic`` (all partitions, no consumer group)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + patience
        while len(records) < count and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records += batch
        return records
    finally:
        await consumer.stop()


async def committed_offsets(settings: Settings) -> dict[int, int]:
    """The committed offset per partition of the events topic, for the consumer group of
    the active generation."""
    generation = await active_generation(settings) or ""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=group_of(settings.kafka.consumer_group, generation),
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        result = {}
        for partition in range(settings.kafka.events_partitions):
            committed = await consumer.committed(
                TopicPartition(settings.kafka.events_topic, partition)
            )
            result[partition] = committed if committed is not None else 0
        return result
    finally:
        await consumer.stop()


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a ``deploystatus`` subprocess use ``settings``."""
    return settings.subprocess_environment(os.environ)


def start_cli(
    settings: Settings,
    *args: str,
    script: Path | None = None,
    log: Path,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``deploystatus ARGS`` (or a test script) as a subprocess with ``settings``."""
    command = [sys.executable, str(script)] if script else [sys.executable, "-m", "cli", *args]
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            env={**settings_env(settings), **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop_process(
    process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30
) -> int:
    """Send ``sig`` (0: none, just wait) and return the exit code; a process that does not
    exit in time is killed (no test leaves one behind) and the timeout raised."""
    if sig and process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


async def run_cli(
    settings: Settings, *args: str, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    """``deploystatus ARGS`` to completion, off the event loop."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", *args],
        input=stdin,
        env=settings_env(settings),
        capture_output=True,
        timeout=180,
        check=False,
    )


class ProjectorFleet:
    """Projector processes (``deploystatus projector``) to start, kill, freeze and thaw."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self._settings = settings
        self._log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> subprocess.Popen[bytes]:
        process = start_cli(self._settings, "projector", log=self._log_dir / f"{name}.log")
        self.processes[name] = process
        return process

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.kill()
        process.wait(timeout=30)

    def pause(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGCONT)

    def stop_all(self) -> dict[str, int]:
        codes = {}
        for name, process in self.processes.items():
            process.send_signal(signal.SIGCONT)
            codes[name] = stop_process(process)
        self.processes.clear()
        return codes


class SteadyPublisher:
    """Publishes ``events`` in order at ``rate`` per second in the background."""

    def __init__(self, settings: Settings, events: list[Event], rate: float) -> None:
        self._settings = settings
        self._events = events
        self._rate = rate
        self.published = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SteadyPublisher:
        await ensure_topics(self._settings)
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task is not None
        if exc_info[0] is not None:
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        producer = create_producer(self._settings, "tests-steady")
        await producer.start()
        try:
            publisher = EventPublisher(producer, self._settings.kafka.events_topic)
            chunk = max(1, int(self._rate / 20))
            for start in range(0, len(self._events), chunk):
                await publisher.publish(self._events[start : start + chunk])
                self.published = min(start + chunk, len(self._events))
                await asyncio.sleep(chunk / self._rate)
        finally:
            await producer.stop()

    async def finished(self) -> None:
        assert self._task is not None
        await self._task


async def applied_total(settings: Settings) -> int:
    """Records applied so far into the active generation, over all partitions."""
    generation = await active_generation(settings)
    if generation is None:
        return 0
    async with create_redis(settings) as redis:
        applied = await Generations(redis, Keys(settings.redis.prefix)).applied(generation)
    return sum(applied.values())
