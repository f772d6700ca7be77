"""Compressed record batches: produced by librdkafka (a non-Python client) in each codec,
folded, rebuilt and verified; produced by our own producers with KAFKA_COMPRESSION; and a
batch this process cannot decode, skipped with one error line, a metric and a dead letter."""

from __future__ import annotations

import asyncio
import collections
import json
import random
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import confluent_kafka
import httpx
import pytest
from aiokafka.record import default_records
from support.processes import run_cli, running_projector, settings_env, start_cli, stop_process
from support.publishing import fleet, publish, replica_change
from support.topics import read_topic
from support.view import served_generation, wait_for_view
from support.waiting import wait_for

from cli.samples import create_deployment
from deploystatus.settings import Settings
from deploystatus.topics import ensure_topics
from devtools.devstack import free_port
from events.codec import encode
from events.models import Event
from projector import dead_letters

CODECS = ["gzip", "snappy", "lz4", "zstd"]


def librdkafka_publish(settings: Settings, events: list[Event], codec: str) -> None:
    """Publish as a Go, Java or C control plane would: librdkafka, batches of ``codec``,
    keys partitioned by murmur2 as Java clients (and aiokafka) do."""
    producer = confluent_kafka.Producer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "compression.type": codec,
            "partitioner": "murmur2_random",
            "enable.idempotence": settings.kafka.idempotence,
            "acks": "all",
            "linger.ms": 20,
        }
    )
    failures: list[object] = []
    for event in events:
        key, value = encode(event)
        producer.produce(
            settings.kafka.events_topic,
            key=key,
            value=value,
            on_delivery=lambda error, _: failures.append(error) if error else None,
        )
    assert producer.flush(30) == 0
    assert failures == []


@contextmanager
def decodes_counted(codec: str) -> Iterator[collections.Counter[str]]:
    """Counts aiokafka's calls of the ``codec`` decoder in this process: proof that the
    batches read meanwhile were compressed with it."""
    module = __import__(default_records.DefaultRecordBatch.__module__, fromlist=["_"])
    name = f"{codec}_decode"
    original: Callable[[bytes], bytes] = getattr(module, name)
    calls: collections.Counter[str] = collections.Counter()

    def counting(data: bytes) -> bytes:
        calls[codec] += 1
        return original(data)

    setattr(module, name, counting)
    try:
        yield calls
    finally:
        setattr(module, name, original)


@pytest.mark.parametrize("codec", CODECS)
async def test_librdkafka_batches_of_each_codec_are_folded_rebuilt_and_verified(settings, codec):
    """Events published by librdkafka in each codec are served as the fold of the log, a
    rebuild replays them into the same view, `verify` passes, and with KAFKA_COMPRESSION
    the projector's changelog is written in that codec too."""
    settings = settings.replace(
        kafka_compression=codec,
        generation_grace_seconds=1.0,
        rebuild_handover_seconds=2.0,
        rebuild_lease_seconds=2.0,
    )
    _, _, events = fleet(seed=len(codec), deployments=12, changes=150)
    await ensure_topics(settings)
    await asyncio.to_thread(librdkafka_publish, settings, events, codec)
    with decodes_counted(codec) as calls:
        assert len(await read_topic(settings, settings.kafka.events_topic, len(events))) == len(
            events
        )
    assert calls[codec] > 0, f"librdkafka's batches were not {codec}"

    async with running_projector(settings):
        await wait_for_view(settings, events)
        before = await served_generation(settings)
        rebuilt = await run_cli(settings, "rebuild")
        assert rebuilt.returncode == 0, rebuilt.stderr.decode()
        await wait_for(
            lambda: served_generation(settings), lambda g: g != before, "the rebuilt generation"
        )
        await wait_for_view(settings, events)
    verified = await run_cli(settings, "verify")
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()

    with decodes_counted(codec) as calls:
        assert await read_topic(settings, settings.kafka.status_topic, 12)
    assert calls[codec] > 0, f"the changelog's batches were not {codec}"


def without_cramjam(directory: Path) -> dict[str, str]:
    """An environment whose Python cannot import cramjam, aiokafka's snappy, lz4 and zstd."""
    package = directory / "cramjam"
    package.mkdir()
    (package / "__init__.py").write_text('raise ImportError("cramjam hidden by the test")\n')
    return {"PYTHONPATH": str(directory)}


async def metric(port: int, name: str) -> float | None:
    async with httpx.AsyncClient() as client:
        try:
            text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
        except httpx.TransportError:
            return None
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


async def test_an_undecodable_batch_is_dead_lettered_once_and_the_partition_moves_on(
    settings, tmp_path
):
    """A snappy batch read by a projector without snappy: the records before it and after it
    are folded, the batch is skipped with one error line naming topic, partition and
    offsets, counted, and dead-lettered once as `undecodable_batch`; the projector lives on."""
    port = free_port()
    settings = settings.replace(projector_metrics_port=port, log_format="json")
    rng = random.Random(5)
    target, created = create_deployment(str(uuid.uuid4()), "target", 3, rng)
    _, _, other_events = fleet(seed=6, deployments=6, changes=40)
    before = [*created, replica_change(target, "failed")]
    lost = [replica_change(target, "running"), replica_change(target, "stopped")]
    after = [replica_change(target, "running")]

    # The target's partition holds its events alone first: before, lost, after, in order.
    await publish(settings, before)
    await asyncio.to_thread(librdkafka_publish, settings, lost, "snappy")
    await publish(settings, [*after, *other_events])

    log = tmp_path / "projector.log"
    hidden = without_cramjam(tmp_path)
    projector = start_cli(settings, "projector", log=log, env=hidden)
    try:
        await wait_for_view(settings, [*before, *after, *other_events], patience=90)
        assert await wait_for(
            lambda: metric(port, "deploystatus_undecodable_batches_total"),
            lambda value: value == 1.0,
            "the undecodable-batch counter",
        )
        letters = await read_topic(settings, settings.kafka.dlq_topic, 1)
        assert projector.poll() is None, "the projector exited"
    finally:
        assert stop_process(projector) == 0

    assert len(letters) == 1
    headers = dict(letters[0].headers)
    partition = int(headers[dead_letters.ORIGINAL_PARTITION])
    first = int(headers[dead_letters.ORIGINAL_OFFSET])
    last = int(headers[dead_letters.ORIGINAL_LAST_OFFSET])
    assert headers[dead_letters.ERROR_REASON] == b"undecodable_batch"
    assert b"snappy" in headers[dead_letters.ERROR_MESSAGE]
    assert headers[dead_letters.ORIGINAL_TOPIC] == settings.kafka.events_topic.encode()
    assert (first, last) == (len(before), len(before) + len(lost) - 1)
    assert letters[0].key is None and letters[0].value == b""

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert len(errors) == 1, errors
    message = errors[0]["message"]
    assert f"{settings.kafka.events_topic}[{partition}] offsets {first}-{last}" in message
    assert (errors[0]["partition"], errors[0]["offset"]) == (partition, first)

    # verify, which cannot decode the batch either, skips it as the projector did.
    verified = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", "verify"],
        env={**settings_env(settings), **hidden},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()
    assert b"skipped an undecodable record batch" in verified.stderr
