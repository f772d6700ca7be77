"""When the view goes back in time: Redis restarted from an older snapshot, or failed over to
a replica that lagged, while Kafka holds the offsets committed for the writes it lost.

The projector finds out in two places. On assignment, a committed offset beyond what the
generation recorded as applied means the progress was lost. While it runs, its Redis
client refuses a server process it has not written to (``deploystatus.view.fence``), so
nothing is read from or written to a changed Redis before ``realign`` has looked at it.

The repair is the same in both: each partition is read again from an offset below
everything the store may have lost, into the same generation, while the API keeps serving
it. Records whose effect the store still holds are skipped by position, so a rewind too far
back costs time, never correctness. On a single Redis the generation's applied offsets are
such an offset: they are written after the documents, so a snapshot that holds them holds
every document before them. A Redis Cluster keeps them on one shard, which says nothing of
the others: there a partition is read again from the beginning of the log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from deploystatus.view.errors import StoreChanged
from deploystatus.view.store import Generations
from projector import metrics
from projector.exceptions import ViewLost
from projector.state_cache import StateCache
from projector.store import StatusStore

log = logging.getLogger(__name__)


async def rewind_targets(
    consumer: AIOKafkaConsumer,
    store: StatusStore,
    applied: Mapping[int, int],
    partitions: set[TopicPartition],
) -> dict[TopicPartition, int]:
    """Offsets below anything the store may have lost, per partition."""
    if store.spans_nodes:
        return dict(await consumer.beginning_offsets(list(partitions)))
    return {tp: applied.get(tp.partition, 0) for tp in partitions}


async def check_on_assignment(
    consumer: AIOKafkaConsumer,
    store: StatusStore,
    generations: Generations,
    assigned: set[TopicPartition],
) -> None:
    """Rewind the assigned partitions whose committed offset is beyond what the generation
    recorded as applied (Redis lost writes while no projector of this group was looking)."""
    applied = await generations.applied(store.generation)
    behind = set()
    for tp in assigned:
        committed = await consumer.committed(tp)
        if committed is not None and committed > applied.get(tp.partition, 0):
            behind.add(tp)
    if not behind:
        return
    targets = await rewind_targets(consumer, store, applied, behind)
    metrics.VIEW_ROLLBACKS.inc()
    log.error(
        "generation %s lacks events its consumer group committed (Redis lost writes): "
        "reading %s again; readers see the older documents until then",
        store.generation,
        _describe(targets),
    )
    for tp, offset in targets.items():
        consumer.seek(tp, offset)


async def realign(
    consumer: AIOKafkaConsumer,
    store: StatusStore,
    generations: Generations,
    cache: StateCache,
    progress: Mapping[int, int],
    changed: StoreChanged,
) -> None:
    """Take the changed Redis server on, and read the assigned partitions again from what it
    holds. Raises ``ViewLost`` if it holds no view at all (the projector then rebuilds)."""
    store.accept(changed)
    current, build = await generations.current(), await generations.building()
    if current is None and build is None:
        raise ViewLost(f"{changed}, and it serves no generation")
    ours = store.generation in (current, build.generation if build else None)
    assigned = consumer.assignment()
    # The states this process wrote last are the newest writes: the first a rollback loses.
    written = cache.positions()
    stored = await store.positions(list(written))
    lost = sorted(d for d, position in written.items() if stored[d] < position)
    applied = await generations.applied(store.generation)
    behind = {p for p, offset in progress.items() if applied.get(p, 0) < offset}
    cache.clear()
    if not ours or not assigned:
        log.warning("%s; this process holds no partition of its generation", changed)
        return
    if lost or behind:
        targets = await rewind_targets(consumer, store, applied, assigned)
        metrics.VIEW_ROLLBACKS.inc()
        log.error(
            "%s and went back in time (%d of the %d documents this process wrote last are "
            "older there, partitions %s record less progress): reading %s again; readers see "
            "the older documents until then",
            changed,
            len(lost),
            len(written),
            sorted(behind) or "none",
            _describe(targets),
        )
    elif store.spans_nodes:
        # A shard keeps no progress of its own: what it lost cannot be ruled out.
        targets = await rewind_targets(consumer, store, applied, assigned)
        log.warning("%s; reading %s again to be sure", changed, _describe(targets))
    else:
        # A single Redis that holds this process's newest writes and progress lost nothing
        # before them: only the batches since the progress write are read again.
        targets = {tp: await _committed_or_applied(consumer, tp, applied) for tp in assigned}
        log.warning("%s; it holds every write of this process, going on", changed)
    # Committed first: a projector restarted meanwhile, or the partitions' next owner,
    # carries on with the repair instead of resuming after it.
    await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in targets.items()})
    for tp, offset in targets.items():
        consumer.seek(tp, offset)


async def _committed_or_applied(
    consumer: AIOKafkaConsumer, tp: TopicPartition, applied: Mapping[int, int]
) -> int:
    committed = await consumer.committed(tp)
    return min(committed, applied.get(tp.partition, 0)) if committed is not None else 0


def _describe(targets: Mapping[TopicPartition, int]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}] from {o}" for tp, o in sorted(targets.items()))
