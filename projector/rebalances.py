"""What a projector does when its consumer group rebalances: the batch in flight and its
commit finish before the partitions move, and the states cached for them are let go."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiokafka import ConsumerRebalanceListener, TopicPartition

from projector import metrics
from projector.state_cache import StateCache

log = logging.getLogger(__name__)

OnAssigned = Callable[[set[TopicPartition]], Awaitable[None]]


class Rebalances(ConsumerRebalanceListener):  # type: ignore[misc]
    """Makes a rebalance wait for the batch in flight and its commit, so that what this
    process applied is committed before its partitions move to another process."""

    def __init__(
        self,
        batch_lock: asyncio.Lock,
        drain: Callable[[], Awaitable[None]],
        on_assigned: OnAssigned | None,
        cache: StateCache,
    ) -> None:
        self._batch_lock = batch_lock
        self._drain = drain
        self._on_assigned = on_assigned
        self._cache = cache

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._batch_lock:
            log.info("partitions revoked: %s", _names(revoked))
            try:
                await self._drain()
            except Exception:
                # Not committed: the partitions' next owner redoes the batch (and skips what
                # was written, by position). Stopping or a real fault shows in the loop too.
                # The cache goes whole: its states' fan-out may not have happened.
                log.exception("the last batch could not be committed before the rebalance")
                self._cache.clear()
            self._cache.drop_partitions({tp.partition for tp in revoked})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions assigned: %s", _names(assigned))
        metrics.REBALANCES.inc()
        if self._on_assigned is not None:
            try:
                await self._on_assigned(assigned)
            except Exception:
                # A failing check must not break the group protocol; it runs again next time.
                log.exception("check on partition assignment failed")


def _names(partitions: set[TopicPartition]) -> str:
    return ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)) or "none"
