"""`deploystatus publish`: events from a JSONL file (one CloudEvent per line) to the topic."""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from aiokafka.structs import RecordMetadata

from deploystatus.kafka import create_producer
from deploystatus.settings import Settings
from deploystatus.startup import start_producer
from deploystatus.topics import ensure_topics
from events.codec import decode
from events.exceptions import InvalidEvent
from events.publisher import EventPublisher


class InvalidInput(ValueError):
    """A line of the input is not a valid event; nothing was published."""


def parse_lines(lines: Iterable[str], *, validate: bool = True) -> list[tuple[bytes | None, bytes]]:
    """Kafka records for the non-blank lines, keyed by each event's ``subject``. With
    ``validate``, every line must be a valid event, checked before anything is published."""
    records: list[tuple[bytes | None, bytes]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        value = line.strip().encode()
        try:
            subject = orjson.loads(value).get("subject")
        except (orjson.JSONDecodeError, AttributeError):
            subject = None
        key = subject.encode() if isinstance(subject, str) else None
        if validate:
            try:
                decode(key, value)
            except InvalidEvent as exc:
                raise InvalidInput(f"line {number}: {exc}") from None
        records.append((key, value))
    return records


async def publish_records(
    settings: Settings, records: list[tuple[bytes | None, bytes]]
) -> list[RecordMetadata]:
    # Created here too, so a first publish never leaves topics to broker auto-creation
    # (with its default partition count and retention).
    await ensure_topics(settings)
    producer = create_producer(settings, "deploystatus-publish")
    await start_producer(producer, settings)
    try:
        return await EventPublisher(producer, settings.kafka.events_topic).publish_records(records)
    finally:
        await producer.stop()
