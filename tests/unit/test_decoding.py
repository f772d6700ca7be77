"""Decoding a polled batch: events grouped per deployment in log order, refusals kept with
their reason, and the batch emptied (its records are not held while the batch is folded)."""

from __future__ import annotations

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from builders import envelope, new_id, record

from projector.decoding import decode_batch

TOPIC = "deployment-events"


def consumer_record(partition: int, offset: int, key: bytes, value: bytes) -> ConsumerRecord:
    return ConsumerRecord(
        TOPIC, partition, offset, 0, 0, key, value, None, len(key), len(value), ()
    )


def test_a_batch_is_grouped_per_deployment_in_log_order_and_emptied() -> None:
    first, second = new_id(), new_id()
    polled = {
        TopicPartition(TOPIC, 0): [
            consumer_record(0, offset, *record(envelope(subject=first, id=f"a{offset}")))
            for offset in (10, 11, 12)
        ],
        TopicPartition(TOPIC, 3): [
            consumer_record(3, 7, *record(envelope(subject=second, id="b7"))),
            consumer_record(3, 8, b"not-" + second.encode(), b"{"),
        ],
    }

    decoded = decode_batch(polled)

    assert polled == {}
    assert [(offset, event.id) for offset, event in decoded.events[first]] == [
        (10, "a10"),
        (11, "a11"),
        (12, "a12"),
    ]
    assert [offset for offset, _ in decoded.events[second]] == [7]
    assert decoded.partition_of == {first: 0, second: 3}
    [(refused, reason)] = decoded.refused
    assert (refused.partition, refused.offset) == (3, 8)
    assert reason.reason == "not_json"
