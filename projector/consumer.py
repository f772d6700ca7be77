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
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from events.codec import decode
from events.exceptions import InvalidEvent
from events.models import Event
from projector import metrics
from projector.dead_letters import DeadLetters
from projector.exceptions import ConflictNotResolved
from projector.fold import fold_records
from projector.generations import Generations
from projector.retry import retry
from projector.store import RedisStatusStore, Write

log = logging.getLogger(__name__)

Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
OnAssigned = Callable[[set[TopicPartition]], Awaitable[None]]
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

    def __init__(self, batch_lock: asyncio.Lock, on_assigned: OnAssigned | None) -> None:
        self._batch_lock = batch_lock
        self._on_assigned = on_assigned

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._batch_lock:
            log.info("partitions revoked: %s", _names(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions assigned: %s", _names(assigned))
        metrics.REBALANCES.inc()
        if self._on_assigned is not None:
            try:
                await self._on_assigned(assigned)
            except Exception:
                # A failing check must not break the group protocol; it runs again next time.
                log.exception("check on partition assignment failed")


class Projector:
    """Folds polled batches into one generation of the view. The consumer's partitions come
    from the caller: ``subscribe()`` for a consumer group member, or manual assignment."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        store: RedisStatusStore,
        generations: Generations,
        dead_letters: DeadLetters | None,
        *,
        batch_size: int,
        poll_timeout_ms: int,
        stopping: asyncio.Event,
    ) -> None:
        self._consumer = consumer
        self._store = store
        self._generations = generations
        # None while replaying for a rebuild: the live projectors dead-letter bad records.
        self._dead_letters = dead_letters
        self._batch_size = batch_size
        self._poll_timeout_ms = poll_timeout_ms
        self._batch_lock = asyncio.Lock()
        self.stopping = stopping
        self.stats = Stats()

    @property
    def generation(self) -> str:
        return self._store.generation

    async def report_lag(self) -> None:
        """Set the lag gauge of each assigned partition from the last fetch's high watermark."""
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is not None:
                lag = highwater - await self._consumer.position(tp)
                metrics.CONSUMER_LAG.labels(str(tp.partition)).set(max(lag, 0))

    def subscribe(self, topic: str, on_assigned: OnAssigned | None = None) -> None:
        self._consumer.subscribe([topic], listener=_Rebalances(self._batch_lock, on_assigned))

    async def run(
        self, should_leave: Callable[[], Awaitable[bool]] | None = None, check_every: float = 1.0
    ) -> None:
        """Poll, apply and commit until ``stopping`` is set or ``should_leave()`` (asked at most
        every ``check_every`` seconds, between batches) says so."""
        next_check = time.monotonic() + check_every
        while not self.stopping.is_set():
            batch = await self._consumer.getmany(
                timeout_ms=self._poll_timeout_ms, max_records=self._batch_size
            )
            if batch:
                async with self._batch_lock:
                    with metrics.BATCH_SECONDS.time():
                        await self.process(batch)
            if should_leave is not None and time.monotonic() >= next_check:
                if await retry(should_leave, "generation check", self.stopping):
                    return
                next_check = time.monotonic() + check_every

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
                    refused.append((record, error))
                else:
                    valid[event.deployment_id].append((record.offset, event))

        dead_letters = self._dead_letters
        if refused and dead_letters is not None:
            await retry(lambda: dead_letters.send(refused), "dead-letter publish", self.stopping)
        if valid:
            await retry(lambda: self._apply(valid), "store write", self.stopping)
        next_offsets = {tp.partition: records[-1].offset + 1 for tp, records in batch.items()}
        await retry(
            lambda: self._generations.advance(self.generation, next_offsets),
            "progress write",
            self.stopping,
        )
        await self._commit(batch)

        records_polled = sum(len(records) for records in batch.values())
        self.stats.batches += 1
        self.stats.records += records_polled
        self.stats.dead_lettered += len(refused)
        metrics.EVENTS_CONSUMED.inc(records_polled)
        metrics.BATCH_SIZE.observe(records_polled)
        if dead_letters is not None:
            metrics.EVENTS_DEAD_LETTERED.inc(len(refused))

    async def _apply(self, records: dict[str, list[tuple[int, Event]]]) -> None:
        pending = records
        for _ in range(CONFLICT_ROUNDS):
            stored = await self._store.load(list(pending))
            writes = []
            newly_applied: dict[str, int] = {}
            for deployment_id, deployment_records in pending.items():
                before = stored[deployment_id]
                after = fold_records(before, deployment_records)
                if after is not None and after != before:
                    writes.append(Write(after, before.position if before else -1))
                applied_before = before.events_applied if before else 0
                newly_applied[deployment_id] = after.events_applied - applied_before if after else 0
            conflicts = await self._store.save(writes)
            self.stats.documents_written += len(writes) - len(conflicts)
            for deployment_id, applied in newly_applied.items():
                if deployment_id not in conflicts:
                    metrics.EVENTS_APPLIED.inc(applied)
                    metrics.EVENTS_DEDUPLICATED.inc(len(pending[deployment_id]) - applied)
            if not conflicts:
                return
            self.stats.conflicts += len(conflicts)
            metrics.CONFLICTS.inc(len(conflicts))
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
