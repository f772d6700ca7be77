"""The changelog's producer side: records land where ``producer.send()`` would put them,
with their position, in order per key, whatever the number of batches they fill; a batch's
records are produced again when their acks fail, and the next batch's do not overtake them."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest
from aiokafka.errors import RequestTimedOutError
from aiokafka.partitioner import DefaultPartitioner
from support.processes import running_projector
from support.publishing import replica_change
from support.topics import read_topic
from support.view import stored_documents, stored_state, wait_for_view
from support.waiting import wait_for

from cli.samples import create_deployment
from deploystatus import kafka
from deploystatus.kafka import MAX_BATCH_BYTES, create_producer
from deploystatus.topics import ensure_topics
from deploystatus.view.client import create_redis
from deploystatus.view.keys import Keys
from events import new_event
from events.publisher import EventPublisher
from projector.changelog import POSITION_HEADER, Changelog, ChangelogRecords
from projector.core.fold import apply_record
from projector.fanout import Fanout
from projector.store import RedisStatusStore, Write


async def test_publish_partitions_orders_and_batches_like_send(settings):
    """Small documents, tombstones and documents large enough to fill several batches of a
    partition each: every record is on its key's partition (aiokafka's default partitioner),
    carries its position, and a key's records keep their order."""
    settings = settings.replace(status_topic=f"status-{uuid.uuid4().hex[:8]}")
    await ensure_topics(settings)
    deployments = [str(uuid.uuid4()) for _ in range(300)]
    large = b"x" * (MAX_BATCH_BYTES // 3)
    rounds = [
        {dep: (b'{"round": 1}', 10) for dep in deployments},
        {dep: (large if i % 10 == 0 else None, 20) for i, dep in enumerate(deployments)},
    ]
    producer = create_producer(settings, "tests-changelog", linger_ms=0)
    await producer.start()
    try:
        changelog = Changelog(producer, settings.kafka.status_topic)
        for documents in rounds:  # as two projector batches
            records = changelog.records()
            for deployment_id, (document, position) in documents.items():
                await records.add(deployment_id, document, position)
            await records.sent()
        partitions = sorted(await producer.partitions_for(settings.kafka.status_topic))
    finally:
        await producer.stop()

    records = await read_topic(settings, settings.kafka.status_topic, 2 * len(deployments))
    assert len(records) == 2 * len(deployments)
    expected_partition = DefaultPartitioner()
    seen: dict[str, list[tuple[bytes | None, bytes]]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        key = record.key
        assert record.partition == expected_partition(key, partitions, partitions)
        assert dict(record.headers)[POSITION_HEADER] in (b"10", b"20")
        seen.setdefault(key.decode(), []).append(
            (record.value, dict(record.headers)[POSITION_HEADER])
        )
    for i, dep in enumerate(deployments):
        assert seen[dep] == [
            (b'{"round": 1}', b"10"),
            (large if i % 10 == 0 else None, b"20"),
        ]


async def test_a_batch_whose_acks_failed_is_produced_again_from_its_states(settings, monkeypatch):
    """The fan-out hands each chunk's documents to the producer as it is written and keeps
    only the states; when the acks of a batch fail, ``finish()`` raises, and the retry
    renders the documents again and produces them: every deployment's latest record is its
    document, the owner index holds every owner."""
    settings = settings.replace(status_topic=f"status-{uuid.uuid4().hex[:8]}")
    await ensure_topics(settings)
    owner = str(uuid.uuid4())
    states = []
    for index in range(40):
        created = new_event(
            "deployment.created",
            str(uuid.uuid4()),
            {"user_id": owner, "name": f"web-{index}", "target_replicas": 1},
        )
        states.append(apply_record(None, created, index))
    writes = [Write(state, -1) for state in states]
    expected = {write.state.deployment_id: write.document for write in writes}

    real_sent = ChangelogRecords.sent
    failures = []

    async def sent_then_fail_once(self: ChangelogRecords) -> None:
        await real_sent(self)  # the records reach the broker, but the projector hears of a failure
        if not failures:
            failures.append(1)
            raise RequestTimedOutError("injected: acks lost")

    monkeypatch.setattr(ChangelogRecords, "sent", sent_then_fail_once)
    producer = create_producer(settings, "tests-changelog-retry", linger_ms=0)
    await producer.start()
    try:
        async with create_redis(settings) as redis:
            keys = Keys(settings.redis.prefix)
            store = RedisStatusStore(redis, keys, "g-fanout")
            fanout = Fanout(store, Changelog(producer, settings.kafka.status_topic)).batch()
            for chunk in (writes[:25], writes[25:]):  # as the consumer adds its chunks
                await fanout.add(chunk)
            del writes  # what the consumer drops: the documents go with their writes
            with pytest.raises(RequestTimedOutError):
                await fanout.finish()
            await fanout.finish()  # the retry
            owned = await redis.smembers(keys.owned("g-fanout", owner))
    finally:
        await producer.stop()

    assert {member.decode() for member in owned} == set(expected)
    records = await read_topic(settings, settings.kafka.status_topic, 2 * len(expected))
    latest = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        latest[record.key.decode()] = record.value
    assert latest == expected
    assert len(records) == 2 * len(expected)  # once as added, once more after the failure


async def test_records_produced_again_after_failed_acks_do_not_overtake_the_next_batch(
    settings, monkeypatch
):
    """A projector's batch whose changelog acks failed is produced again by its tail while
    the next batch is folded; the next batch's newer records for the same deployments must
    still come after those: every deployment's latest record is its stored document."""
    settings = settings.replace(events_partitions=1, status_topic=f"status-{uuid.uuid4().hex[:8]}")
    await ensure_topics(settings)
    producer = create_producer(settings, "tests-overtake")
    await producer.start()
    publisher = EventPublisher(producer, settings.kafka.events_topic)
    # The projector's changelog producer (created after this) makes one producer batch per
    # record, sent as soon as the next one is added: the next batch's records would reach
    # the broker while the first batch's tail is still retrying.
    monkeypatch.setattr(kafka, "MAX_BATCH_BYTES", 1)
    owner = str(uuid.uuid4())
    rng = random.Random(86)
    deployments = [create_deployment(owner, f"web-{i}", 1, rng) for i in range(2)]
    first = [event for _, events in deployments for event in events]
    second = [replica_change(dep, "failed") for dep, _ in deployments]
    ids = [dep.deployment_id for dep, _ in deployments]

    real_sent = ChangelogRecords.sent
    injected: list[int] = []

    async def sent_then_fail_once(self: ChangelogRecords) -> None:
        await real_sent(self)
        if injected:
            return
        injected.append(1)
        # The next batch is published (together: one poll) and written while this tail has
        # not heard its acks.
        await publisher.publish(second)
        await wait_for(
            lambda: asyncio.gather(*(stored_state(settings, d) for d in ids)),
            lambda states: any(s is not None and s.replicas[0].status == "failed" for s in states),
            "the second batch's writes",
        )
        await asyncio.sleep(0.5)  # time for its records to be produced, were they not held
        raise RequestTimedOutError("injected: acks lost")

    monkeypatch.setattr(ChangelogRecords, "sent", sent_then_fail_once)
    try:
        await publisher.publish(first)
        async with running_projector(settings):  # stopped gracefully: every tail is over
            await wait_for_view(settings, first + second)
    finally:
        await producer.stop()
    stored = await stored_documents(settings, ids)

    assert injected
    latest = {}
    for record in await read_topic(settings, settings.kafka.status_topic, 10_000, patience=3):
        latest[record.key.decode()] = record.value
    assert latest == stored
