"""The projector's consumer loop: poll a batch, fold it, store it, then commit.

Order of effects per batch, which is what makes a crash at any point safe:
1. invalid records are published to the dead-letter topic (and awaited);
2. each touched deployment is loaded, folded and written with compare-and-set, the
   record position stored in the same atomic write;
3. only then are the offsets committed.
A crash before 3 redelivers the batch; records already folded are recognised by their
position and skipped, so nothing is lost and nothing is applied twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from events.codec import decode
from events.exceptions import InvalidEvent
from events.models import Event
from projector.dead_letters import DeadLetters
from projector.exceptions import ConflictNotResolved
from projector.fold import fold_records
from projector.retry import retry
from projector.store import RedisStatusStore, Write

log = logging.getLogger(__name__)

Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
# Rounds of reload-and-refold when another writer changed a document under us. More than
# a couple means two processes own the same partition for a while (a rebalance), which
# settles by itself; the batch is then retried as a whole.
CONFLICT_ROUNDS = 5


@dataclass
class Stats:
    records: int = 0
    batches: int = 0
    dead_lettered: int = 0
    documents_written: int = 0
    conflicts: int = 0


class _Rebalances(ConsumerRebalanceListener):  # type: ignore[misc]
    """Makes a rebalance wait for the batch in flight, so that what this process applied is
    committed before its partitions move to another process."""

    def __init__(self, batch_lock: asyncio.Lock) -> None:
        self._batch_lock = batch_lock

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._batch_lock:
            log.info("partitions revoked: %s", _names(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions assigned: %s", _names(assigned))


class Projector:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        store: RedisStatusStore,
        dead_letters: DeadLetters,
        *,
        topic: str,
        batch_size: int,
        poll_timeout_ms: int,
        stopping: asyncio.Event | None = None,
    ) -> None:
        self._consumer = consumer
        self._store = store
        self._dead_letters = dead_letters
        self._topic = topic
        self._batch_size = batch_size
        self._poll_timeout_ms = poll_timeout_ms
        self._batch_lock = asyncio.Lock()
        self.stopping = stopping or asyncio.Event()
        self.stats = Stats()

    def subscribe(self) -> None:
        self._consumer.subscribe([self._topic], listener=_Rebalances(self._batch_lock))

    def stop(self) -> None:
        """Ask the loop to finish the batch in hand, commit it and return."""
        self.stopping.set()

    async def run(self) -> None:
        """Poll, apply and commit until ``stop()``; then return (the caller stops the consumer)."""
        while not self.stopping.is_set():
            batch = await self._consumer.getmany(
                timeout_ms=self._poll_timeout_ms, max_records=self._batch_size
            )
            if batch:
                async with self._batch_lock:
                    await self.process(batch)

    async def process(self, batch: Batch) -> None:
        """Apply one polled batch and commit it. Raises ``Stopped`` (committing nothing) if asked
        to stop while waiting out an outage."""
        valid: dict[str, list[tuple[int, Event]]] = defaultdict(list)
        refused: list[tuple[ConsumerRecord[bytes, bytes], InvalidEvent]] = []
        for records in batch.values():
            for record in records:
                try:
                    event = decode(record.key, record.value)
                except InvalidEvent as error:
                    log.warning(
                        "dead-lettering %s[%d]@%d: %s",
                        record.topic,
                        record.partition,
                        record.offset,
                        error,
                    )
                    refused.append((record, error))
                else:
                    valid[event.deployment_id].append((record.offset, event))

        if refused:
            await retry(
                lambda: self._dead_letters.send(refused), "dead-letter publish", self.stopping
            )
        if valid:
            await retry(lambda: self._apply(valid), "store write", self.stopping)
        await self._commit(batch)

        self.stats.batches += 1
        self.stats.records += sum(len(records) for records in batch.values())
        self.stats.dead_lettered += len(refused)

    async def _apply(self, records: dict[str, list[tuple[int, Event]]]) -> None:
        pending = records
        for _ in range(CONFLICT_ROUNDS):
            stored = await self._store.load(list(pending))
            writes = []
            for deployment_id, deployment_records in pending.items():
                before = stored[deployment_id]
                after = fold_records(before, deployment_records)
                if after is not None and after != before:
                    writes.append(Write(after, before.position if before else -1))
            conflicts = await self._store.save(writes)
            self.stats.documents_written += len(writes) - len(conflicts)
            if not conflicts:
                return
            self.stats.conflicts += len(conflicts)
            log.info("%d document(s) changed by another writer; refolding them", len(conflicts))
            pending = {deployment_id: pending[deployment_id] for deployment_id in conflicts}
        raise ConflictNotResolved(f"documents still contended after {CONFLICT_ROUNDS} rounds")

    async def _commit(self, batch: Batch) -> None:
        offsets = {
            tp: OffsetAndMetadata(records[-1].offset + 1, "") for tp, records in batch.items()
        }
        try:
            await retry(lambda: self._consumer.commit(offsets), "offset commit", self.stopping)
        except (CommitFailedError, IllegalStateError) as exc:
            # The partitions moved to another process during the batch. What we wrote is
            # safe (compare-and-set); the new owner skips what we applied by its position.
            log.warning("offsets not committed, the group rebalanced: %s", exc)


def _names(partitions: set[TopicPartition]) -> str:
    return ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)) or "none"
