"""The fault suite: a known log is published while projectors are killed, frozen, added,
and Redis loses its data; afterwards the served view equals the fold of the whole log, byte
for byte, and `verify` finds no mismatch. Each scenario's figures go to the run's summary."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from support.processes import ProjectorFleet, run_cli
from support.publishing import SteadyPublisher
from support.topics import read_topic
from support.view import applied_total, wait_for_view
from support.waiting import wait_for
from test_crash_recovery import scenario

from devtools.devstack import start_redis

# Each scenario takes from 20 s to 3 minutes.
pytestmark = pytest.mark.long

RATE = 200  # events/s published during the faults
# A restarted projector waits out the killed member's session (6 s in the tests) and the
# broker's join delay before it consumes: about this long per kill.
SECONDS_PER_KILL = 14


async def settle(settings, events, fault_report, scenario_name: str, faults: int, started: float):
    """Wait for the view to equal the fold of ``events``, run verify, report the figures."""
    recovery_start = time.monotonic()
    await wait_for_view(settings, events, patience=120)
    recovery = time.monotonic() - recovery_start
    verified = await run_cli(settings, "verify")
    mismatches = verified.stdout.decode().count("\n")
    dead = await read_topic(settings, settings.kafka.dlq_topic, 1, patience=1)
    fault_report(
        {
            "scenario": scenario_name,
            "events": len(events),
            "faults": faults,
            "recovery_s": f"{recovery:.1f}",
            "total_s": f"{time.monotonic() - started:.1f}",
            "mismatches": mismatches,
            "dead_lettered": len(dead),
        }
    )
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()
    assert mismatches == 0
    assert dead == [], "no valid event may be dead-lettered"


async def kill_when_busy(settings, fleet: ProjectorFleet, name: str, rng: random.Random):
    """Kill -9 ``name`` at a random moment shortly after it has applied something."""
    before = await applied_total(settings)
    await wait_for(lambda: applied_total(settings), lambda n: n > before, f"{name} progress", 60)
    await asyncio.sleep(rng.uniform(0, 0.3))
    fleet.kill(name)


@pytest.mark.parametrize("redis_kind", ["single", "cluster"], indirect=True)
async def test_kill_nine_again_and_again(settings, tmp_path, fault_report, redis_kind):
    """kill -9 of the projector at random points (10 times; 3 on the cluster), restarted
    each time, while events stream in."""
    kills = 10 if redis_kind == "single" else 3
    rng = random.Random(61)
    events = scenario(seed=61, deployments=60, changes=kills * SECONDS_PER_KILL * RATE)
    fleet = ProjectorFleet(settings, tmp_path)
    started = time.monotonic()
    try:
        async with SteadyPublisher(settings, events, RATE):
            for round_ in range(kills):
                fleet.start(f"p{round_}")
                await kill_when_busy(settings, fleet, f"p{round_}", rng)
        fleet.start("final")
        await settle(
            settings, events, fault_report, f"kill -9 x{kills} ({redis_kind})", kills, started
        )
    finally:
        fleet.stop_all()


async def test_group_member_killed_and_added(settings, tmp_path, fault_report):
    """Three projectors share 12 partitions; one is killed and one added mid-stream."""
    events = scenario(seed=62, deployments=60, changes=4000)
    fleet = ProjectorFleet(settings, tmp_path)
    started = time.monotonic()
    try:
        for name in ("a", "b", "c"):
            fleet.start(name)
        async with SteadyPublisher(settings, events, RATE) as publisher:
            await wait_for(lambda: applied_total(settings), lambda n: n > 500, "progress", 60)
            fleet.kill("b")
            await wait_for(
                lambda: asyncio.sleep(0, publisher.published),
                lambda n: n > len(events) // 2,
                "half published",
                60,
            )
            fleet.start("d")
        await settle(settings, events, fault_report, "3 projectors, 1 killed, 1 added", 2, started)
    finally:
        codes = fleet.stop_all()
    assert set(codes.values()) == {0}, codes


async def test_frozen_projector_cannot_overwrite_newer_documents(settings, tmp_path, fault_report):
    """A projector frozen (SIGSTOP) past its session timeout loses its partitions; thawed,
    its late writes are refused by compare-and-set and the view stays exact."""
    events = scenario(seed=63, deployments=40, changes=3000)
    fleet = ProjectorFleet(settings, tmp_path)
    started = time.monotonic()
    try:
        fleet.start("zombie")
        fleet.start("other")
        async with SteadyPublisher(settings, events, RATE):
            await wait_for(lambda: applied_total(settings), lambda n: n > 500, "progress", 60)
            fleet.pause("zombie")
            frozen_at = await applied_total(settings)
            # Past the session timeout the other member owns every partition and moves on.
            await wait_for(
                lambda: applied_total(settings), lambda n: n > frozen_at + 1000, "takeover", 90
            )
            fleet.resume("zombie")
        await settle(
            settings, events, fault_report, "zombie (SIGSTOP past session timeout)", 1, started
        )
    finally:
        codes = fleet.stop_all()
    assert set(codes.values()) == {0}, codes


async def test_redis_restarted_empty_under_load(settings, tmp_path, fault_report):
    """Redis restarts without its data while events stream in: the projector rebuilds the
    view by itself and nothing is lost."""
    server = start_redis(log_dir=tmp_path)
    settings = settings.replace(redis_url=server.url)
    events = scenario(seed=64, deployments=40, changes=3000)
    fleet = ProjectorFleet(settings, tmp_path)
    started = time.monotonic()
    try:
        fleet.start("p")
        async with SteadyPublisher(settings, events, RATE):
            await wait_for(lambda: applied_total(settings), lambda n: n > 1000, "progress", 60)
            port = server.port
            server.stop()
            server = start_redis(port=port, log_dir=tmp_path)
        await settle(settings, events, fault_report, "Redis restarted empty", 1, started)
    finally:
        fleet.stop_all()
        server.stop()
