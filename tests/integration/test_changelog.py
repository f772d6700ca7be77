"""The changelog's producer side: records land where ``producer.send()`` would put them,
with their position, in order per key, whatever the number of batches they fill."""

from __future__ import annotations

import uuid

from aiokafka.partitioner import DefaultPartitioner
from harness import read_topic

from deploystatus.connections import MAX_BATCH_BYTES, create_producer
from deploystatus.topics import ensure_topics
from projector.changelog import POSITION_HEADER, Changelog


async def test_publish_partitions_orders_and_batches_like_send(settings):
    """Small documents, tombstones and documents large enough to fill several batches of a
    partition each: every record is on its key's partition (aiokafka's default partitioner),
    carries its position, and a key's records keep their order."""
    settings = settings.model_copy(update={"status_topic": f"status-{uuid.uuid4().hex[:8]}"})
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
        changelog = Changelog(producer, settings.status_topic)
        for documents in rounds:
            await changelog.publish(documents)
        partitions = sorted(await producer.partitions_for(settings.status_topic))
    finally:
        await producer.stop()

    records = await read_topic(settings, settings.status_topic, 2 * len(deployments))
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
