"""Rebuilds: a new generation replayed from the log while the old one is served, switched
in one step; interrupted rebuilds resumed or discarded; one rebuild at a time."""

from __future__ import annotations

import asyncio
import collections
import os
import re
import signal
from pathlib import Path

import pytest
from support.api import bearer, running_api
from support.processes import run_cli, running_projector, start_cli, stop_process
from support.publishing import fleet, publish
from support.view import served_generation, wait_for_view
from support.waiting import wait_for

from cli.samples import simulation_step
from deploystatus.kafka import create_producer
from deploystatus.view.client import create_redis
from deploystatus.view.generations import RedisGenerations
from deploystatus.view.keys import Keys
from events.publisher import EventPublisher


@pytest.fixture
def quick(settings):
    """Settings with short rebuild hand-over, grace and lease times."""
    return settings.replace(
        generation_grace_seconds=1.0, rebuild_handover_seconds=2.0, rebuild_lease_seconds=2.0
    )


async def generation_keys(settings, generation: str) -> int:
    async with create_redis(settings) as redis:
        pattern = Keys(settings.redis.prefix).generation_pattern(generation)
        return len([key async for key in redis.scan_iter(match=pattern, count=1000)])


async def test_rebuild_under_load_never_fails_a_reader(quick):
    """While events stream in and readers poll, a rebuild switches generations with zero
    non-200 answers; afterwards every document equals the fold of the log byte for byte,
    `verify` passes, and the old generation's keys are gone."""
    rng, deps, events = fleet(seed=41, deployments=30, changes=150)
    published = list(events)
    await publish(quick, events)
    answers: collections.Counter[int] = collections.Counter()
    stop = asyncio.Event()

    async def stream_events() -> None:
        producer = create_producer(quick, "tests-stream")
        await producer.start()
        try:
            publisher = EventPublisher(producer, quick.kafka.events_topic)
            while not stop.is_set():
                step = simulation_step(rng.choice(deps), rng)
                await publisher.publish(step)
                published.extend(step)
                await asyncio.sleep(0.02)
        finally:
            await producer.stop()

    async def read_statuses(client) -> None:
        while not stop.is_set():
            dep = rng.choice(deps)
            response = await client.get(
                f"/status/{dep.deployment_id}", headers=bearer(quick, dep.owner)
            )
            answers[response.status_code] += 1

    async with running_projector(quick), running_api(quick) as client:
        await wait_for_view(quick, events)
        before = await served_generation(quick)
        load = [asyncio.create_task(stream_events()), asyncio.create_task(read_statuses(client))]
        rebuilt = await run_cli(quick, "rebuild")
        await asyncio.sleep(1.0)  # keep the load on across the projectors' move
        stop.set()
        await asyncio.gather(*load)
        assert rebuilt.returncode == 0, rebuilt.stderr.decode()
        after = await served_generation(quick)
        assert after is not None and after != before
        await wait_for_view(quick, published)

    print(f"\nrebuild under load: {dict(answers)} answers, {len(published)} events")
    assert set(answers) == {200}
    assert answers[200] > 50
    verified = await run_cli(quick, "verify")
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()
    assert await generation_keys(quick, before) == 0


async def building(settings):
    async with create_redis(settings) as redis:
        generations = RedisGenerations(redis, Keys(settings.redis.prefix))
        build = await generations.building()
        applied = await generations.applied(build.generation) if build else {}
        return build, sum(applied.values())


async def start_slow_rebuild(settings, tmp_path, name: str):
    """A rebuild replaying in tiny batches, frozen (SIGSTOP) once it has made progress (its
    helper processes are not: they go on until they see it gone)."""
    slow = settings.replace(rebuild_batch_size=5)
    process = start_cli(slow, "rebuild", log=tmp_path / f"{name}.log")
    build, _ = await wait_for(
        lambda: building(settings), lambda b: b[0] is not None and b[1] > 0, "rebuild progress"
    )
    process.send_signal(signal.SIGSTOP)
    return process, build


@pytest.mark.long
async def test_interrupted_rebuild_is_refused_resumed_and_aborted(quick, tmp_path):
    """While a rebuild holds its lease a second one is refused; after kill -9 a plain
    rebuild is refused until --resume finishes it; another killed one is --abort-ed."""
    # The frozen rebuild's lease must outlive the second one's start-up (a new interpreter:
    # over 2 s on a loaded 2-core VM, when it found the lease expired and said "interrupted").
    quick = quick.replace(rebuild_lease_seconds=6.0)
    _, _, events = fleet(seed=42, deployments=40, changes=3000)
    await publish(quick, events)
    async with running_projector(quick):
        await wait_for_view(quick, events)
        served = await served_generation(quick)

        first, build = await start_slow_rebuild(quick, tmp_path, "first")
        try:
            second = await run_cli(quick, "rebuild")
        finally:
            # Killed whatever the answer: a frozen process left behind would never end.
            first.send_signal(signal.SIGKILL)
            stop_process(first, sig=0)
        assert second.returncode == 2
        assert b"another rebuild is running" in second.stderr

        await asyncio.sleep(
            quick.projector.rebuild_lease_seconds + 0.5
        )  # the dead holder's lease expires
        await _helpers_gone(tmp_path / "first.log")
        plain = await run_cli(quick, "rebuild")
        assert plain.returncode == 2
        assert b"--resume" in plain.stderr
        resumed = await run_cli(quick, "rebuild", "--resume")
        assert resumed.returncode == 0, resumed.stderr.decode()
        assert await served_generation(quick) == build.generation != served
        await wait_for_view(quick, events)

        doomed, doomed_build = await start_slow_rebuild(quick, tmp_path, "doomed")
        doomed.send_signal(signal.SIGKILL)
        stop_process(doomed, sig=0)
        await asyncio.sleep(quick.projector.rebuild_lease_seconds + 0.5)
        await _helpers_gone(tmp_path / "doomed.log")
        aborted = await run_cli(quick, "rebuild", "--abort")
        assert aborted.returncode == 0, aborted.stderr.decode()
        assert (await building(quick))[0] is None
        assert await generation_keys(quick, doomed_build.generation) == 0
        assert await served_generation(quick) == build.generation
        nothing = await run_cli(quick, "rebuild", "--abort")
        assert nothing.returncode == 2

    verified = await run_cli(quick, "verify")
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()


async def test_rebuild_shared_out_between_processes_serves_the_same_view(quick, tmp_path):
    """With REBUILD_PROCESSES=3 two helper processes replay their share of the partitions
    beside the rebuild's own; the switched view is the fold of the log and `verify` passes."""
    _, _, events = fleet(seed=43, deployments=60, changes=600)
    await publish(quick, events)
    shared = quick.replace(rebuild_processes=3)
    async with running_projector(quick):
        await wait_for_view(quick, events)
        before = await served_generation(quick)
        rebuilt = await run_cli(shared, "rebuild")
        assert rebuilt.returncode == 0, rebuilt.stderr.decode()
        assert len(set(re.findall(rb"rebuild helper (\d+) replays", rebuilt.stderr))) == 2
        assert await served_generation(quick) != before
        await wait_for_view(quick, events)
    verified = await run_cli(quick, "verify")
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()


@pytest.mark.long
async def test_a_helper_killed_mid_rebuild_interrupts_it_and_resume_finishes(quick, tmp_path):
    """kill -9 of a helper: the rebuild stops with exit 1 naming the partitions and
    --resume; its other processes stop too; --resume then serves the complete view."""
    _, _, events = fleet(seed=44, deployments=40, changes=3000)
    await publish(quick, events)
    slow = quick.replace(rebuild_batch_size=5, rebuild_processes=2)
    log = tmp_path / "rebuild.log"
    async with running_projector(quick):
        await wait_for_view(quick, events)
        process = start_cli(slow, "rebuild", log=log)
        helper = await wait_for(
            lambda: asyncio.to_thread(_helper_pids, log), bool, "the rebuild's helper"
        )
        await wait_for(lambda: building(quick), lambda b: b[1] > 0, "rebuild progress")
        os.kill(helper[0], signal.SIGKILL)
        code = await asyncio.to_thread(stop_process, process, 0)
        assert code == 1, log.read_text()
        assert re.search(r"partitions \[[\d, ]+\] exited with code -9", log.read_text())
        assert "--resume" in log.read_text()
        assert not _running(_helper_pids(log))
        resumed = await run_cli(quick, "rebuild", "--resume")
        assert resumed.returncode == 0, resumed.stderr.decode()
        await wait_for_view(quick, events)
    verified = await run_cli(quick, "verify")
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()


async def _helpers_gone(log: Path) -> None:
    """The helpers of the rebuild that wrote ``log`` stop by themselves once it is gone: each
    notices between its batches, then finishes the batch in hand and leaves its group."""
    pids = _helper_pids(log)
    await wait_for(
        lambda: asyncio.sleep(0, _running(pids)), lambda alive: not alive, "helpers to stop", 30
    )


def _running(pids: list[int]) -> list[int]:
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def _helper_pids(log) -> list[int]:
    return [int(pid) for pid in re.findall(r"rebuild helper (\d+) replays", log.read_text())]
