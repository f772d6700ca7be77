"""The status changelog: a compacted topic holding each deployment's latest document.

Key = deployment id, value = the status document's bytes, a tombstone (null value) when the
deployment is deleted; other services read it as they would a Kafka Streams changelog.
Records are produced after the Redis write and before the offsets are committed, so a
redelivered batch produces the same documents again: the latest value per key is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiokafka import AIOKafkaProducer

POSITION_HEADER = "deploystatus.position"  # lets a reader ignore an older record
CHUNK = 1_000  # records produced before awaiting their acks


class Changelog:
    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    async def publish(self, documents: Mapping[str, tuple[bytes | None, int]]) -> None:
        """Produce (document or tombstone, position) per deployment; waits for every ack.
        A chunk at a time, so that a batch's documents are not all buffered at once."""
        items = list(documents.items())
        for start in range(0, len(items), CHUNK):
            futures = [
                await self._producer.send(
                    self._topic,
                    key=deployment_id.encode(),
                    value=document,
                    headers=[(POSITION_HEADER, str(position).encode())],
                )
                for deployment_id, (document, position) in items[start : start + CHUNK]
            ]
            for future in futures:
                await future
