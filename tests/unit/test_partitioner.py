"""The producers' partitioner puts every key where aiokafka's (and Java's) default would."""

from __future__ import annotations

import uuid

from aiokafka.partitioner import DefaultPartitioner

from deploystatus.kafka import KeyHashCache


def test_same_partition_as_the_default_partitioner_for_every_key_and_count():
    cached, default = KeyHashCache(size=64), DefaultPartitioner()
    keys = [str(uuid.UUID(int=i * 7919, version=4)).encode() for i in range(500)]
    for count in (1, 3, 12, 48):
        partitions = list(range(count))
        for key in keys + keys:  # the second pass answers from the cache
            assert cached(key, partitions, partitions) == default(key, partitions, partitions)


def test_records_without_a_key_go_to_some_partition():
    assert KeyHashCache()(None, [0, 1, 2], [1]) == 1
