"""Publishing events: keyed by deployment id so that Kafka keeps each deployment's order."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from events.codec import encode
from events.models import Event


class EventPublisher:
    """Publishes to one topic through a started producer (its lifetime is the caller's)."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    async def publish(self, events: Iterable[Event]) -> list[RecordMetadata]:
        """Publish events in order; returns where each was written, once all are acknowledged."""
        return await self.publish_records(encode(event) for event in events)

    async def publish_records(
        self, records: Iterable[tuple[bytes | None, bytes | None]]
    ) -> list[RecordMetadata]:
        """Publish raw (key, value) records as they are, e.g. lines of a JSONL file."""
        futures = [
            await self._producer.send(self._topic, key=key, value=value) for key, value in records
        ]
        return [await future for future in futures]
