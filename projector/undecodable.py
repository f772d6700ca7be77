"""Record batches that cannot be decoded: corrupt, or compressed with a codec this process
lacks. aiokafka raises from ``getmany()`` without saying where, drops what the poll had
drained from other partitions (their positions moved past records never returned), and
raises again on every poll after: a crash loop, or a stalled view.

Here such a batch is located, fetched again a few times (a corrupt fetch can be a transient
fault), and then given up: one error line names its topic, partition and offsets, it is
counted (``deploystatus_undecodable_batches_total``), dead-lettered as one record with
reason ``undecodable_batch`` (live projectors only), and the partition moves on past it.
The records before it in the same fetch are handed over as a batch of their own first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.consumer.fetcher import PartitionRecords
from aiokafka.errors import IllegalStateError
from aiokafka.structs import ConsumerRecord

from projector import metrics
from projector.dead_letters import UNDECODABLE_BATCH, DeadLetters
from projector.decoding import Batch
from projector.retry import retry

log = logging.getLogger(__name__)

# Fetches of one batch before it is given up, and the pause between them.
ATTEMPTS = 3
RETRY_SECONDS = 1.0
# The generator that unpacks a fetched partition's batches holds the partition (``tp``) and
# the batch it was decoding (``next_batch``) when it raises: aiokafka's errors name neither.
_UNPACK = PartitionRecords._unpack_records.__code__


@dataclass(frozen=True)
class BadBatch:
    """A record batch of ``tp`` holding offsets ``first_offset`` to ``next_offset - 1``."""

    tp: TopicPartition
    first_offset: int
    next_offset: int
    error: str

    def __str__(self) -> str:
        return (
            f"{self.tp.topic}[{self.tp.partition}] offsets {self.first_offset}-"
            f"{self.next_offset - 1}: {self.error}"
        )


def locate(error: BaseException) -> BadBatch | None:
    """The batch whose decoding raised ``error`` in a poll, or None if it was not that."""
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is _UNPACK:
            local = tb.tb_frame.f_locals
            tp, batch = local.get("tp"), local.get("next_batch")
            first = getattr(batch, "base_offset", None)
            after = getattr(batch, "next_offset", None)
            if isinstance(tp, TopicPartition) and isinstance(first, int):
                # A v0/v1 message set has no end offset: give up one offset at a time.
                end = after if isinstance(after, int) else first + 1
                return BadBatch(tp, first, end, _describe(error))
        tb = tb.tb_next
    return None


def _describe(error: BaseException) -> str:
    text, kind = str(error), type(error).__name__
    return text if text.startswith(kind) else f"{kind}: {text}"


class UndecodableBatches:
    """What a projector does when a poll raised while decoding a batch."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        dead_letters: DeadLetters | None,
        stopping: asyncio.Event,
        *,
        attempts: int = ATTEMPTS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self._consumer = consumer
        # None while replaying for a rebuild: the live projectors dead-letter the batch.
        self._dead_letters = dead_letters
        self._stopping = stopping
        self._attempts = attempts
        self._retry_seconds = retry_seconds
        self._failures: dict[tuple[TopicPartition, int], int] = {}

    async def handle(self, bad: BadBatch, poll_timeout_ms: int) -> Batch:
        """Rewind the partitions to what was committed, then fetch again later, or give the
        batch up: returns the records before it, which the next poll would not reach. The
        caller has waited for its last batch's commit."""
        await retry(self._rewind, "offset rewind", self._stopping)
        key = (bad.tp, bad.first_offset)
        failures = self._failures.get(key, 0) + 1
        if failures < self._attempts:
            self._failures[key] = failures
            log.debug("cannot decode %s (attempt %d of %d)", bad, failures, self._attempts)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._retry_seconds)
            return {}
        self._failures.pop(key, None)
        before = await records_before(self._consumer, bad, poll_timeout_ms, self._stopping)
        if self._stopping.is_set():
            return {}  # the partition's next reader meets the batch again
        dead_letters = self._dead_letters
        metrics.UNDECODABLE_BATCHES.inc()
        log.error(
            "undecodable record batch %s; skipped after %d attempts%s",
            bad,
            self._attempts,
            f", dead-lettered as {UNDECODABLE_BATCH!r}" if dead_letters is not None else "",
            extra={
                "topic": bad.tp.topic,
                "partition": bad.tp.partition,
                "offset": bad.first_offset,
                "next_offset": bad.next_offset,
            },
        )
        if dead_letters is not None:
            await retry(
                lambda: dead_letters.send_undecodable(
                    bad.tp, bad.first_offset, bad.next_offset - 1, bad.error
                ),
                "dead-letter publish",
                self._stopping,
            )
        with contextlib.suppress(IllegalStateError):  # the partition was revoked meanwhile
            self._consumer.seek(bad.tp, bad.next_offset)
        return {bad.tp: before} if before else {}

    async def _rewind(self) -> None:
        """Every assigned partition back to its committed offset: the failed poll may have
        moved positions past records it did not return (replayed ones are skipped by their
        position, so going back is safe)."""
        for tp in self._consumer.assignment():
            committed = await self._consumer.committed(tp)
            with contextlib.suppress(IllegalStateError):
                if committed is None:
                    await self._consumer.seek_to_beginning(tp)
                else:
                    self._consumer.seek(tp, committed)


async def records_before(
    consumer: AIOKafkaConsumer, bad: BadBatch, poll_timeout_ms: int, stopping: asyncio.Event
) -> list[ConsumerRecord[bytes, bytes]]:
    """The records of ``bad.tp`` from its position up to the batch, one poll each: a poll
    for more would decode the batch, raise, and lose them."""
    records: list[ConsumerRecord[bytes, bytes]] = []
    while not stopping.is_set():
        try:
            if await consumer.position(bad.tp) >= bad.first_offset:
                break
            polled = await consumer.getmany(bad.tp, timeout_ms=poll_timeout_ms, max_records=1)
        except IllegalStateError:
            return []  # revoked: its next owner meets the batch
        except Exception as exc:
            again = locate(exc)
            if again is not None and (again.tp, again.first_offset) == (
                bad.tp,
                bad.first_offset,
            ):
                break  # only records that are not events (control records) were left
            raise
        records += polled.get(bad.tp, [])
    return records
