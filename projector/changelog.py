"""The status changelog: a compacted topic holding each deployment's latest document.

Key = deployment id, value = the status document's bytes, a tombstone (null value) when the
deployment is deleted; other services read it as they would a Kafka Streams changelog.
Records are produced after the Redis write and before the offsets are committed, so a
redelivered batch produces the same documents again: the latest value per key is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaProducer

from deploystatus.connections import KeyHashCache

POSITION_HEADER = "deploystatus.position"  # lets a reader ignore an older record


class Changelog:
    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic
        # The partitioner class the producer is built with (connections.create_producer), so
        # records land where producer.send() would put them; its key-hash cache is this one's.
        self._partitioner = KeyHashCache()

    async def publish(self, documents: Mapping[str, tuple[bytes | None, int]]) -> None:
        """Produce (document or tombstone, position) per deployment; waits for every ack.

        Records are put into the producer's batches here, one open batch per partition, each
        sent when full: ``send()`` per record cost a future and a queue check each, which was
        most of the changelog's CPU. A batch's memory is the producer's batch size."""
        partitions = sorted(await self._producer.partitions_for(self._topic))
        open_batches: dict[int, Any] = {}
        sent: list[Any] = []  # futures of the batches' acks
        for deployment_id, (document, position) in documents.items():
            key = deployment_id.encode()
            partition = self._partitioner(key, partitions, partitions)
            headers = [(POSITION_HEADER, str(position).encode())]
            batch = open_batches.get(partition)
            if (
                batch is None
                or batch.append(key=key, value=document, timestamp=None, headers=headers) is None
            ):
                if batch is not None:
                    sent.append(await self._send(batch, partition))  # full
                batch = open_batches[partition] = self._producer.create_batch()
                # The first record of a batch always fits (a larger one makes its own batch).
                batch.append(key=key, value=document, timestamp=None, headers=headers)
        for partition, batch in open_batches.items():
            sent.append(await self._send(batch, partition))
        for future in sent:
            await future

    async def _send(self, batch: Any, partition: int) -> Any:
        # Waits while the partition's previous batch is still queued: at most a batch per
        # partition waits in memory besides the one being sent.
        return await self._producer.send_batch(batch, self._topic, partition=partition)
