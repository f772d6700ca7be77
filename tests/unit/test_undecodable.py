"""Locating a record batch that cannot be decoded, from the error aiokafka raises while
unpacking a fetched partition (the error itself names neither partition nor offset)."""

from __future__ import annotations

import struct

import pytest
from aiokafka import TopicPartition
from aiokafka.consumer.fetcher import PartitionRecords
from aiokafka.errors import CorruptRecordException, UnsupportedCodecError
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import calc_crc32c

from projector.undecodable import BadBatch, locate

TP = TopicPartition("deployment-events", 2)
GZIP = 1
# Record batch v2 header: base offset at byte 0, CRC at 17, attributes (codec bits) at 21;
# the CRC covers everything from the attributes on.
BASE_OFFSET_AT, CRC_AT, ATTRIBUTES_AT = 0, 17, 21


def batch(base_offset: int, records: int, codec: int | None = None, crc_ok: bool = True) -> bytes:
    """A gzip batch, its codec bits set to ``codec`` if given (5-7: no such codec)."""
    builder = DefaultRecordBatchBuilder(2, GZIP, 0, -1, -1, -1, 1 << 20)
    for i in range(records):
        builder.append(i, timestamp=None, key=b"k", value=b"v%d" % i, headers=[])
    data = bytearray(builder.build())
    struct.pack_into(">q", data, BASE_OFFSET_AT, base_offset)
    if codec is not None:
        attributes = struct.unpack_from(">h", data, ATTRIBUTES_AT)[0]
        struct.pack_into(">h", data, ATTRIBUTES_AT, (attributes & ~0x07) | codec)
    crc = calc_crc32c(bytes(data[ATTRIBUTES_AT:]))
    struct.pack_into(">I", data, CRC_AT, crc if crc_ok else crc ^ 1)
    return bytes(data)


def unpack(fetched: bytes, fetch_offset: int) -> tuple[list[int], BaseException]:
    """The offsets a fetched partition yields before it raises, and what it raises."""
    records = PartitionRecords(
        TP, MemoryRecords(fetched), [], fetch_offset, None, None, True, "read_uncommitted"
    )
    offsets = []
    with pytest.raises(Exception) as raised:
        offsets.extend(record.offset for record in records)
    return offsets, raised.value


def test_a_batch_of_an_unknown_codec_is_located_after_the_good_ones():
    """A batch whose codec nobody has is located by partition and offsets, after the
    records of the good batch before it were yielded."""
    offsets, error = unpack(batch(40, 3) + batch(43, 4, codec=5), 40)
    assert offsets == [40, 41, 42]
    assert isinstance(error, UnsupportedCodecError)
    assert locate(error) == BadBatch(
        TP, 43, 47, "UnsupportedCodecError: Unknown compression codec 0x05"
    )


def test_a_batch_failing_its_crc_is_located():
    """A batch whose checksum does not match is located too."""
    _, error = unpack(batch(7, 2, crc_ok=False), 7)
    assert isinstance(error, CorruptRecordException)
    located = locate(error)
    assert located is not None
    assert (located.tp, located.first_offset, located.next_offset) == (TP, 7, 9)


def test_an_error_from_elsewhere_is_not_taken_for_a_batch():
    """An exception raised outside aiokafka's unpacking is not located (the poll re-raises)."""
    try:
        raise ValueError("from elsewhere")
    except ValueError as error:
        assert locate(error) is None
