"""The embedded broker's fetch cost as a topic fills with small record batches.

Freshness is measured on the embedded broker (Tansu, in-memory storage), whose CPU per
fetch grows with the record batches a partition holds (seen while measuring freshness:
the same run got slower the more runs had published before it). This measures that alone,
on a topic of its own, with none of our code: the freshness run's producer (``create_producer``,
linger 5 ms: a batch per partition every few milliseconds) at its rate, and a bare consumer
with the projector's fetch settings, in consecutive stretches on the same topic, then one on
a new topic. Real Kafka finds a fetch's start through an offset index; this is the test
broker's property, not the projector's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer

from bench.data.dataset import Deployment, record
from bench.infra.kafka_io import assign_whole_topic
from bench.infra.probes import paced
from bench.infra.procs import CpuShare
from bench.infra.services import Stack
from deploystatus.kafka import create_consumer, create_producer
from deploystatus.settings import Settings
from deploystatus.topics import ensure_topics

STRETCHES = 4
STRETCH_SECONDS = 5


@dataclass(frozen=True)
class Stretch:
    topic: str
    records_before: int  # records the topic held when the stretch began
    broker_cpu_percent: float  # % of one core while publishing and consuming


async def measure(
    stack: Stack, settings: Settings, deployments: list[Deployment], rate: int
) -> list[Stretch]:
    topic = f"{settings.kafka.events_topic}-broker-cost"
    stretches = []
    for _ in range(STRETCHES):
        stretches.append(await _stretch(stack, settings, topic, deployments, rate, stretches))
    stretches.append(await _stretch(stack, settings, f"{topic}-new", deployments, rate, []))
    return stretches


async def _stretch(
    stack: Stack,
    settings: Settings,
    topic: str,
    deployments: list[Deployment],
    rate: int,
    before: list[Stretch],
) -> Stretch:
    settings = settings.replace(events_topic=topic)
    await ensure_topics(settings)
    records_before = len(before) * rate * STRETCH_SECONDS
    producer = create_producer(settings, "bench-broker-cost")
    consumer = create_consumer(settings, "bench-broker-cost")
    await producer.start()
    await consumer.start()
    try:
        assign_whole_topic(consumer, topic)
        await consumer.seek_to_end()
        reading = asyncio.create_task(_drain(consumer))
        cpu = CpuShare({"broker": stack.broker_pid})
        cpu.start()
        order = itertools.cycle(deployments)
        round_no = len(before) * rate  # bodies only: nothing folds this topic
        async for _, per_tick in paced(rate, STRETCH_SECONDS):
            for _ in range(per_tick):
                key, value = record(next(order), round_no)
                round_no += 1
                await producer.send(topic, key=key, value=value)
        await producer.flush()
        share = cpu.stop()["broker"]
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
    finally:
        await consumer.stop()
        await producer.stop()
    return Stretch(topic, records_before, share)


async def _drain(consumer: AIOKafkaConsumer) -> None:
    while True:
        await consumer.getmany(timeout_ms=1000)
