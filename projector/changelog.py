"""The status changelog: a compacted topic holding each deployment's latest document.

Key = deployment id, value = the status document's bytes, a tombstone (null value) when the
deployment is deleted; other services read it as they would a Kafka Streams changelog.
Records are produced after the Redis write and before the offsets are committed, so a
redelivered batch produces the same documents again: the latest value per key is unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaProducer

from deploystatus.kafka import KeyHashCache

POSITION_HEADER = "deploystatus.position"  # lets a reader ignore an older record


class Changelog:
    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic
        # The partitioner class the producer is built with (connections.create_producer), so
        # records land where producer.send() would put them; its key-hash cache is this one's.
        self._partitioner = KeyHashCache()

    def records(self) -> ChangelogRecords:
        """A new set of records to produce (one per projector batch)."""
        return ChangelogRecords(self._producer, self._topic, self._partitioner)


class ChangelogRecords:
    """Records put into the producer's batches as they are added, one open batch per
    partition, each sent as soon as it is full: the projector adds a chunk's documents right
    after writing them, so that a batch's documents are not all held until its end, and the
    memory this takes is the producer's batches. ``send()`` per record cost a future and a
    queue check each, which was most of the changelog's CPU."""

    def __init__(self, producer: AIOKafkaProducer, topic: str, partitioner: KeyHashCache) -> None:
        self._producer = producer
        self._topic = topic
        self._partitioner = partitioner
        self._partitions: list[int] | None = None
        self._open: dict[int, Any] = {}  # partition -> the batch being filled
        self._sent: list[Any] = []  # futures of the sent batches' acks

    async def add(self, deployment_id: str, document: bytes | None, position: int) -> None:
        if self._partitions is None:
            self._partitions = sorted(await self._producer.partitions_for(self._topic))
        key = deployment_id.encode()
        partition = self._partitioner(key, self._partitions, self._partitions)
        headers = [(POSITION_HEADER, str(position).encode())]
        batch = self._open.get(partition)
        if (
            batch is None
            or batch.append(key=key, value=document, timestamp=None, headers=headers) is None
        ):
            if batch is not None:
                self._sent.append(await self._send(batch, partition))  # full
            batch = self._open[partition] = self._producer.create_batch()
            # The first record of a batch always fits (a larger one makes its own batch).
            batch.append(key=key, value=document, timestamp=None, headers=headers)

    async def sent(self) -> None:
        """Send the batches still open and wait for every ack (raising the first failure).
        Afterwards, even after a failure, the set is empty and takes new records."""
        open_batches, self._open = self._open, {}
        sent, self._sent = self._sent, []
        try:
            for partition, batch in open_batches.items():
                sent.append(await self._send(batch, partition))
        finally:
            # Every ack awaited, even after a failure, so that none is left unobserved.
            outcomes = await asyncio.gather(*sent, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _send(self, batch: Any, partition: int) -> Any:
        # Waits while the partition's previous batch is still queued: at most a batch per
        # partition waits in memory besides the one being sent.
        return await self._producer.send_batch(batch, self._topic, partition=partition)
