"""Freshness's baseline: publish -> received by a bare aiokafka consumer, same run.

The events are published as in the freshness run (``bench.scenarios.freshness``: the production
producer, the same rate, ticks and topic) and read by a consumer with the projector's
fetch settings (``create_consumer``) that does nothing else: no decoding, no Redis, no API.
The first event of every tick is a probe, timed from just before ``send()`` to its arrival.
What the projector and the API add to the broker's and the client's own latency is the
difference between this and the freshness run.

It runs right after the freshness run, on the same topic, and leaves its events there (the
lever's projector folds them). The embedded broker's fetches cost more CPU the more record
batches a partition holds (``bench.scenarios.broker_cost``), and this run's broker holds the
freshness run's batches besides: it meets the busier broker of the two.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer

from bench.data.dataset import record
from bench.infra.kafka_io import assign_whole_topic
from bench.infra.probes import Latencies, freeze_own_objects, paced
from bench.infra.procs import CpuShare
from bench.infra.services import Stack
from bench.scenarios.freshness import WATCHED
from bench.scenarios.read_path import ReadSetup
from deploystatus.kafka import create_consumer, create_producer

# A probe not received by then is counted as timed out.
RECEIVE_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Floor:
    received: Latencies  # publish -> received by the bare consumer
    events: int
    rounds: int  # the most rounds one deployment was sent (a later run starts past them)
    cpu_percent: dict[str, float]  # process -> CPU while publishing, % of one core


async def measure(
    setup: ReadSetup, stack: Stack, rate: int, seconds: int, *, first_round: int
) -> Floor:
    """One run, from round ``first_round`` past the read data set's (see
    ``bench.scenarios.freshness.measure``)."""
    settings = setup.settings
    deployments = setup.deployments
    start = setup.events // len(deployments) + first_round
    next_round = dict.fromkeys(range(len(deployments)), start)
    # The watched deployments are left alone: the freshness run probes them one at a time.
    order = itertools.cycle(range(len(deployments) - WATCHED))
    sent_at: dict[bytes, float] = {}
    latencies: list[float] = []
    consumer = create_consumer(settings, "bench-freshness-floor")
    producer = create_producer(settings, "bench-freshness-floor")
    await consumer.start()
    await producer.start()
    freeze_own_objects()  # as the freshness run does
    try:
        assign_whole_topic(consumer, settings.kafka.events_topic)
        await consumer.seek_to_end()
        published = asyncio.Event()
        receiving = asyncio.create_task(_receive(consumer, sent_at, latencies, published))
        cpu = CpuShare({"broker": stack.broker_pid, "bench client": os.getpid()})
        events = 0
        cpu.start()
        async for _, per_tick in paced(rate, seconds):
            for slot in range(per_tick):
                index = next(order)
                key, value = record(deployments[index], next_round[index])
                next_round[index] += 1
                if slot == 0:
                    sent_at[value] = time.perf_counter()
                await producer.send(settings.kafka.events_topic, key=key, value=value)
                events += 1
        cpu_percent = cpu.stop()
        await producer.flush()
        published.set()
        # Every probe received, or the rest counted as timed out (wait_for cancels).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(receiving, RECEIVE_TIMEOUT_SECONDS)
    finally:
        await producer.stop()
        await consumer.stop()
    probes = len(latencies) + len(sent_at)
    return Floor(
        received=Latencies.of(latencies, probes, timeouts=len(sent_at)),
        events=events,
        rounds=max(next_round.values()) - start,
        cpu_percent=cpu_percent,
    )


async def _receive(
    consumer: AIOKafkaConsumer,
    sent_at: dict[bytes, float],
    out: list[float],
    published: asyncio.Event,
) -> None:
    """Time the probes as they arrive, until all are published and received."""
    while not (published.is_set() and not sent_at):
        batch = await consumer.getmany(timeout_ms=1000)
        now = time.perf_counter()
        for records in batch.values():
            for received in records:
                sent = sent_at.pop(received.value, None)
                if sent is not None:
                    out.append((now - sent) * 1000)
