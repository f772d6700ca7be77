"""A polled batch decoded for the fold: each deployment's events in log order, and the
records refused with their reason (for the dead-letter topic)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from events.codec import Decoded, decode_keyed
from events.exceptions import InvalidEvent

Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


@dataclass(slots=True)
class DecodedBatch:
    # deployment id -> its (offset, event) pairs, in log order
    events: dict[str, list[tuple[int, Decoded]]] = field(default_factory=lambda: defaultdict(list))
    partition_of: dict[str, int] = field(default_factory=dict)  # deployment id -> partition
    refused: list[tuple[ConsumerRecord[bytes, bytes], InvalidEvent]] = field(default_factory=list)


def decode_batch(batch: Batch) -> DecodedBatch:
    """Decode ``batch``, emptying it as it goes: a partition's records are freed once decoded
    (only the refused ones are kept), so that they are not held while the batch is folded."""
    decoded = DecodedBatch()
    for tp in list(batch):
        for record in batch.pop(tp):
            try:
                deployment_id, event = decode_keyed(record.key, record.value)
            except InvalidEvent as error:
                decoded.refused.append((record, error))
            else:
                decoded.events[deployment_id].append((record.offset, event))
                decoded.partition_of[deployment_id] = tp.partition
    return decoded
