"""The dead-letter topic: records that are not valid events, kept byte for byte with the reason."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaTimeoutError
from aiokafka.structs import ConsumerRecord

from events.exceptions import InvalidEvent

log = logging.getLogger(__name__)
DLQ_SCAN_SECONDS = 60.0

# Header names; the original record's own headers are kept after these.
ERROR_REASON = "dlq.error.reason"
ERROR_MESSAGE = "dlq.error.message"
ORIGINAL_TOPIC = "dlq.original.topic"
ORIGINAL_PARTITION = "dlq.original.partition"
ORIGINAL_OFFSET = "dlq.original.offset"
ORIGINAL_TIMESTAMP = "dlq.original.timestamp"
ORIGINAL_LAST_OFFSET = "dlq.original.last_offset"  # of an undecodable batch: its offsets
UNDECODABLE_BATCH = "undecodable_batch"


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
    """Publishes refused records, except those the topic already holds: a generation built
    by replaying the log meets the same bad records again."""

    def __init__(
        self, producer: AIOKafkaProducer, topic: str, already_sent: Mapping[int, int]
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._already_sent = dict(already_sent)  # source partition -> highest offset in topic

    async def send(self, refused: list[tuple[ConsumerRecord[bytes, bytes], InvalidEvent]]) -> None:
        """Publish the refused records and wait until the broker has them all."""
        futures = []
        for record, error in refused:
            if record.offset <= self._already_sent.get(record.partition, -1):
                continue
            log.warning(
                "dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, error
            )
            futures.append(
                await self._producer.send(
                    self._topic,
                    key=record.key,
                    value=record.value,
                    headers=dead_letter_headers(record, error),
                )
            )
        for future in futures:
            await future
        for record, _ in refused:
            previous = self._already_sent.get(record.partition, -1)
            self._already_sent[record.partition] = max(previous, record.offset)

    async def send_undecodable(
        self, tp: TopicPartition, first_offset: int, last_offset: int, message: str
    ) -> None:
        """Publish one record, with an empty value, standing for a record batch that could
        not be decoded (``projector.undecodable``), and wait until the broker has it."""
        if first_offset <= self._already_sent.get(tp.partition, -1):
            return
        headers = [
            (ERROR_REASON, UNDECODABLE_BATCH.encode()),
            (ERROR_MESSAGE, message.encode()),
            (ORIGINAL_TOPIC, tp.topic.encode()),
            (ORIGINAL_PARTITION, str(tp.partition).encode()),
            (ORIGINAL_OFFSET, str(first_offset).encode()),
            (ORIGINAL_LAST_OFFSET, str(last_offset).encode()),
        ]
        # No key or value to keep; aiokafka refuses a record with neither.
        await (await self._producer.send(self._topic, key=None, value=b"", headers=headers))
        previous = self._already_sent.get(tp.partition, -1)
        self._already_sent[tp.partition] = max(previous, last_offset)


async def dead_lettered_offsets(
    consumer: AIOKafkaConsumer, dlq_topic: str, source_topic: str
) -> dict[int, int]:
    """The highest offset of each ``source_topic`` partition already in the dead-letter
    topic, read from its ``dlq.original.*`` headers (the topic is small: only bad records)."""
    highest: dict[int, int] = {}
    await consumer.topics()  # fetches metadata for every topic, the DLQ's included
    topic_partitions = [
        TopicPartition(dlq_topic, p) for p in consumer.partitions_for_topic(dlq_topic) or ()
    ]
    if not topic_partitions:
        return highest
    consumer.assign(topic_partitions)
    ends = await consumer.end_offsets(topic_partitions)
    await consumer.seek_to_beginning(*topic_partitions)
    remaining = {tp for tp in topic_partitions if ends[tp] > 0}
    deadline = time.monotonic() + DLQ_SCAN_SECONDS
    while remaining:
        if time.monotonic() > deadline:
            raise KafkaTimeoutError(f"reading {dlq_topic!r} took over {DLQ_SCAN_SECONDS}s")
        batch = await consumer.getmany(*remaining, timeout_ms=1000)
        for tp, records in batch.items():
            for record in records:
                headers = dict(record.headers)
                if headers.get(ORIGINAL_TOPIC) == source_topic.encode():
                    partition = int(headers[ORIGINAL_PARTITION])
                    offset = int(headers[ORIGINAL_OFFSET])
                    highest[partition] = max(highest.get(partition, -1), offset)
            if records and records[-1].offset + 1 >= ends[tp]:
                remaining.discard(tp)
    return highest
