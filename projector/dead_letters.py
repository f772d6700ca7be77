"""The dead-letter topic: records that are not valid events, kept byte for byte with the reason."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from events.exceptions import InvalidEvent

# Header names; the original record's own headers are kept after these.
ERROR_REASON = "dlq.error.reason"
ERROR_MESSAGE = "dlq.error.message"
ORIGINAL_TOPIC = "dlq.original.topic"
ORIGINAL_PARTITION = "dlq.original.partition"
ORIGINAL_OFFSET = "dlq.original.offset"
ORIGINAL_TIMESTAMP = "dlq.original.timestamp"


def dead_letter_headers(
    record: ConsumerRecord[bytes, bytes], error: InvalidEvent
) -> list[tuple[str, bytes]]:
    """Headers that say why the record was refused and where it came from."""
    return [
        (ERROR_REASON, error.reason.encode()),
        (ERROR_MESSAGE, error.message.encode()),
        (ORIGINAL_TOPIC, record.topic.encode()),
        (ORIGINAL_PARTITION, str(record.partition).encode()),
        (ORIGINAL_OFFSET, str(record.offset).encode()),
        (ORIGINAL_TIMESTAMP, str(record.timestamp).encode()),
        *record.headers,
    ]


class DeadLetters:
    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    async def send(self, refused: list[tuple[ConsumerRecord[bytes, bytes], InvalidEvent]]) -> None:
        """Publish the refused records and wait until the broker has them all."""
        futures = [
            await self._producer.send(
                self._topic,
                key=record.key,
                value=record.value,
                headers=dead_letter_headers(record, error),
            )
            for record, error in refused
        ]
        for future in futures:
            await future
