"""The projector's consumer loop: poll a batch, fold it, store it, then commit.

Order of effects per batch, which is what makes a crash at any point safe:
1. invalid records are published to the dead-letter topic (and awaited);
2. each touched deployment is loaded, folded and written with compare-and-set, the
   record position stored in the same atomic write, a chunk of deployments at a time; each
   chunk's changelog records are handed to the producer once it is written (and once the
   previous batch's tail is over, so that each deployment's records stay in order);
3. only then are the progress and the owner index written, the changelog's acks awaited,
   and the offsets committed: in the background, while the next batch is fetched and
   folded (a batch's tail waits for the previous one's, and a rebalance or a stop waits for
   the last).
A crash before 3 redelivers the batch; records already folded are recognised by their
position and skipped, so nothing is lost and nothing is applied twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import OffsetAndMetadata

from deploystatus.view.errors import StoreChanged
from deploystatus.view.store import Generations
from events.codec import Decoded
from projector import metrics
from projector.core.fold import fold_records
from projector.core.state import DeploymentState
from projector.dead_letters import DeadLetters
from projector.decoding import Batch, decode_batch
from projector.exceptions import ConflictNotResolved
from projector.fanout import Fanout, FanoutBatch
from projector.rebalances import OnAssigned, Rebalances
from projector.retry import retry
from projector.rollbacks import realign
from projector.state_cache import StateCache
from projector.store import StatusStore, Write
from projector.undecodable import UndecodableBatches, locate

log = logging.getLogger(__name__)

# Rounds of reload-and-refold when another writer changed a document under us. More than
# a couple means two processes own the same partition for a while (a rebalance), which
# settles by itself; the batch is then retried as a whole.
CONFLICT_ROUNDS = 5
# States kept in memory between batches (see ``projector.state_cache``): with one per
# deployment of the assigned partitions, a batch reads nothing back from Redis. A state is a
# few kB of Python objects, so this bounds the cache to tens of MB.
STATE_CACHE_SIZE = 10_000
# Deployments folded and written together (one round trip, see ``projector.store.CHUNK``):
# their new states and documents are what a batch holds at once besides its records, so
# the memory a batch takes does not grow with the documents (docs/performance.md#memory).
APPLY_CHUNK = 1_000
# aiokafka retries a commit refused with a retriable error (no coordinator known, one moving
# during a rebalance) inside commit(), for as long as it takes: an attempt is bounded so that
# ``retry`` gets control back, logs it, and gives up when the projector is told to stop (the
# partitions' next owner then redoes the batch, skipping what was written by position).
COMMIT_TIMEOUT_SECONDS = 10.0


@dataclass
class Stats:
    records: int = 0
    batches: int = 0
    dead_lettered: int = 0
    documents_written: int = 0
    conflicts: int = 0


class Projector:
    """Folds polled batches into one generation of the view. The consumer's partitions come
    from the caller: ``subscribe()`` for a consumer group member, or manual assignment."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        store: StatusStore,
        generations: Generations,
        dead_letters: DeadLetters | None,
        *,
        batch_size: int,
        poll_timeout_ms: int,
        stopping: asyncio.Event,
        state_cache_size: int = STATE_CACHE_SIZE,
        fanout: Fanout | None = None,
    ) -> None:
        self._consumer = consumer
        self._store = store
        self._generations = generations
        # None while replaying for a rebuild: the live projectors dead-letter bad records.
        self._dead_letters = dead_letters
        self._batch_size = batch_size
        self._poll_timeout_ms = poll_timeout_ms
        self._batch_lock = asyncio.Lock()
        self._cache = StateCache(state_cache_size)
        # None while replaying for a rebuild: the projectors maintain index and changelog.
        self._fanout = fanout
        self._undecodable = UndecodableBatches(consumer, dead_letters, stopping)
        # The last batch's progress write, fan-out and commit, running in the background.
        self._tail: asyncio.Task[None] | None = None
        # Partition -> the next offset this process recorded as applied in the store.
        self._progress: dict[int, int] = {}
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
        self._consumer.subscribe(
            [topic],
            listener=Rebalances(self._batch_lock, self.drain, on_assigned, self._cache),
        )

    async def run(
        self, should_leave: Callable[[], Awaitable[bool]] | None = None, check_every: float = 1.0
    ) -> None:
        """Poll, apply and commit until ``stopping`` is set or ``should_leave()`` (asked at most
        every ``check_every`` seconds, between batches) says so; the last batch is committed
        before it returns. A Redis that turned into another server process is realigned with
        (``projector.rollbacks``) before anything more is read from it or written to it."""
        next_check = time.monotonic() + check_every
        try:
            while not self.stopping.is_set():
                try:
                    if await self._step(should_leave, next_check):
                        return
                except StoreChanged as changed:
                    async with self._batch_lock:
                        await self._realign(changed)
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + check_every
        finally:
            try:
                await self.drain()
            finally:
                # Freed now, not when the collector reaches the consumer's reference cycles
                # (after a switch of generation the old states were held, and counted, until then).
                self._cache.clear()

    async def _step(
        self, should_leave: Callable[[], Awaitable[bool]] | None, next_check: float
    ) -> bool:
        """One batch, or an idle poll; then, when due, the checks. True: leave the loop."""
        batch = await self._poll()
        if batch:
            self._hold_fetching()
            async with self._batch_lock:
                with metrics.BATCH_SECONDS.time():
                    await self.process(batch)
        elif self._tail is not None and self._tail.done():
            await self.drain()  # an idle consumer still learns of a failed tail
        if time.monotonic() < next_check:
            return False
        # An idle projector still meets a Redis that changed under it, within a check.
        await retry(self._store.ping, "Redis check", self.stopping)
        return should_leave is not None and await retry(
            should_leave, "generation check", self.stopping
        )

    async def _realign(self, changed: StoreChanged) -> None:
        with contextlib.suppress(StoreChanged):
            await self.drain()  # the tail's progress write met the same change
        while True:
            try:
                await retry(
                    partial(
                        realign,
                        self._consumer,
                        self._store,
                        self._generations,
                        self._cache,
                        self._progress,
                        changed,
                    ),
                    "realignment with a changed Redis",
                    self.stopping,
                )
            except StoreChanged as again:  # another node of a cluster changed as well
                changed = again
                continue
            self._progress.clear()
            return

    def _hold_fetching(self) -> None:
        """No new fetches while a batch is processed; ``_poll`` resumes them. aiokafka fetches
        ahead for every partition with nothing buffered, so a projector that is behind held a
        fetch's worth per partition, whatever it would fold next (a broker may cap only a
        whole fetch, KAFKA_FETCH_MAX_BYTES). Held, what is buffered or in flight is kept, and
        the next poll waits for one fetch at most, short against a batch
        (docs/performance.md#fetches)."""
        self._consumer.pause(*self._consumer.assignment())

    async def _poll(self) -> Batch:
        """The next batch, or an empty one if told to stop first: getmany() waits without
        end while a rebalance is in progress, and one that never ends (seen on the embedded
        broker when the group's leader left) must not keep a stop waiting."""
        self._consumer.resume(*self._consumer.paused())
        poll: asyncio.Future[Batch] = asyncio.ensure_future(
            self._consumer.getmany(timeout_ms=self._poll_timeout_ms, max_records=self._batch_size)
        )
        stop = asyncio.ensure_future(self.stopping.wait())
        try:
            # typeshed wants futures of one result type; these two differ.
            await asyncio.wait([poll, stop], return_when=asyncio.FIRST_COMPLETED)  # type: ignore[type-var]
        finally:
            stop.cancel()
            if not poll.done():
                poll.cancel()
                await asyncio.wait({poll})
        # A poll cut short is dropped whole, and the loop stops without committing anything
        # after it: its records are read again by the partitions' next owner.
        if poll.cancelled() or self.stopping.is_set():
            return {}
        error = poll.exception()
        bad = locate(error) if error is not None else None
        if bad is not None:
            await self.drain()  # so that the committed offsets are where this batch starts
            return await self._undecodable.handle(bad, self._poll_timeout_ms)
        return poll.result()

    async def process(self, batch: Batch) -> None:
        """Apply one polled batch and start its commit (``drain()`` waits for it). Raises
        ``Stopped`` (committing nothing of this batch) if asked to stop while waiting out an
        outage. The batch is emptied as it is decoded."""
        # Only the offsets go along to the tail, so that the records can be freed.
        next_offsets = {tp: records[-1].offset + 1 for tp, records in batch.items()}
        records_polled = sum(len(records) for records in batch.values())
        # Records, then events, are let go as soon as they are used: the records once decoded,
        # a chunk's events once applied, so that a batch holds less while the new states are
        # allocated.
        decoded = decode_batch(batch)
        valid, partition_of, refused = decoded.events, decoded.partition_of, decoded.refused

        dead_letters = self._dead_letters
        if refused and dead_letters is not None:
            await retry(lambda: dead_letters.send(refused), "dead-letter publish", self.stopping)
        fanout = self._fanout.batch() if self._fanout is not None else None
        deployment_ids = list(valid)
        for start in range(0, len(deployment_ids), APPLY_CHUNK):
            chunk = {d: valid.pop(d) for d in deployment_ids[start : start + APPLY_CHUNK]}
            # A chunk retried after a partial write finds its written deployments applied
            # (by position) and only fans them out again.
            apply = partial(self._apply, chunk, partition_of, fanout)
            await retry(apply, "store write", self.stopping)
        # The batch is visible now. Its progress write, fan-out and commit run while the next
        # batch is fetched and folded: one such tail at a time, each after the previous one.
        await self.drain()
        self._tail = asyncio.create_task(self._finish(next_offsets, fanout))

        self.stats.batches += 1
        self.stats.records += records_polled
        self.stats.dead_lettered += len(refused)
        metrics.EVENTS_CONSUMED.inc(records_polled)
        metrics.BATCH_SIZE.observe(records_polled)
        if dead_letters is not None:
            metrics.EVENTS_DEAD_LETTERED.inc(len(refused))

    async def _finish(
        self, next_offsets: dict[TopicPartition, int], fanout: FanoutBatch | None
    ) -> None:
        progress = {tp.partition: offset for tp, offset in next_offsets.items()}
        # Independent of each other, both before the commit: concurrently.
        await asyncio.gather(
            retry(
                lambda: self._generations.advance(self.generation, progress),
                "progress write",
                self.stopping,
            ),
            *(
                [retry(fanout.finish, "owner index and changelog", self.stopping)]
                if fanout is not None
                else []
            ),
        )
        self._progress.update(progress)
        await self._commit(next_offsets)

    async def _after_previous_tail(self) -> None:
        """Wait until the previous batch's tail is over (its outcome is raised by ``drain()``)
        before this batch hands records to the changelog: a tail whose acks failed produces
        its batch's records again, and a deployment's newer record from this batch must not
        go before them (the latest record per key is what the compacted topic keeps)."""
        tail = self._tail
        if tail is not None and not tail.done():
            await asyncio.wait({tail})

    async def drain(self) -> None:
        """Wait until the last batch is committed (raising what its tail raised)."""
        tail, self._tail = self._tail, None
        if tail is not None:
            await tail

    async def _apply(
        self,
        records: dict[str, list[tuple[int, Decoded]]],
        partition_of: dict[str, int],
        fanout: FanoutBatch | None,
    ) -> None:
        pending = records
        for _ in range(CONFLICT_ROUNDS):
            stored = await self._load(pending)
            writes = []
            folded: dict[str, Write] = {}
            fan_out: list[Write] = []
            newly_applied: dict[str, int] = {}
            for deployment_id, deployment_records in pending.items():
                before = stored[deployment_id]
                after = fold_records(before, deployment_records)
                if after is not None and after is not before:
                    write = Write(after, before.position if before else -1)
                    writes.append(write)
                    folded[deployment_id] = write
                elif before is not None:
                    # Every record was applied already: a batch redelivered after a crash,
                    # which may have come before this batch's fan-out. Fan out again (it is
                    # idempotent) so that the owner index and the changelog catch up.
                    fan_out.append(Write(before, before.position))
                applied_before = before.events_applied if before else 0
                newly_applied[deployment_id] = after.events_applied - applied_before if after else 0
            conflicts = await self._store.save(writes)
            # What was written is what Redis holds now; a refused write means the cached
            # state (if any) is stale: the next round loads it afresh.
            self._cache.discard(conflicts)
            for deployment_id, write in folded.items():
                if deployment_id not in conflicts:
                    self._cache.put(partition_of[deployment_id], write.state)
                    fan_out.append(write)
            if fanout is not None:
                await self._after_previous_tail()
                await fanout.add(fan_out)
            written = len(writes) - len(conflicts)
            self.stats.documents_written += written
            metrics.DOCUMENTS_WRITTEN.inc(written)
            # Summed first: each inc() takes the metric's lock.
            applied_total = deduplicated_total = 0
            for deployment_id, applied in newly_applied.items():
                if deployment_id not in conflicts:
                    applied_total += applied
                    deduplicated_total += len(pending[deployment_id]) - applied
            metrics.EVENTS_APPLIED.inc(applied_total)
            metrics.EVENTS_DEDUPLICATED.inc(deduplicated_total)
            if not conflicts:
                return
            self.stats.conflicts += len(conflicts)
            metrics.CONFLICTS.inc(len(conflicts))
            log.info("%d document(s) changed by another writer; refolding them", len(conflicts))
            pending = {deployment_id: pending[deployment_id] for deployment_id in conflicts}
        raise ConflictNotResolved(f"documents still contended after {CONFLICT_ROUNDS} rounds")

    async def _load(
        self, pending: dict[str, list[tuple[int, Decoded]]]
    ) -> dict[str, DeploymentState | None]:
        """States to fold into: the ones this process wrote last, else Redis's."""
        states: dict[str, DeploymentState | None] = {}
        missing = []
        for deployment_id in pending:
            cached = self._cache.get(deployment_id)
            if cached is None:
                missing.append(deployment_id)
            else:
                states[deployment_id] = cached
        if missing:
            states.update(await self._store.load(missing))
        return states

    async def _commit(self, next_offsets: dict[TopicPartition, int]) -> None:
        offsets = {tp: OffsetAndMetadata(offset, "") for tp, offset in next_offsets.items()}
        try:
            await retry(
                lambda: asyncio.wait_for(self._consumer.commit(offsets), COMMIT_TIMEOUT_SECONDS),
                "offset commit",
                self.stopping,
            )
        except (CommitFailedError, IllegalStateError) as exc:
            # The partitions moved to another process during the batch. What we wrote is
            # safe (compare-and-set); the new owner skips what we applied by its position.
            log.warning("offsets not committed, the group rebalanced: %s", exc)
