"""The states this process wrote last, kept in memory so that the next batch folds into them
without reading them back from Redis.

Safe without any invalidation protocol: every write is a compare-and-set on the position the
state was folded from. A cached state that is no longer the stored one (another process
wrote the deployment since, or Redis lost it) makes that write fail; the consumer then drops
the entry and refolds from a fresh load. Entries of revoked partitions are dropped anyway,
so a partition that comes back later does not start with a round of conflicts.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

from projector import metrics
from projector.core.state import DeploymentState

# The gauge sums every live cache when it is scraped (from the metrics server's thread), so
# that nothing is counted per put; the lock keeps a cache made meanwhile from breaking the sum.
_caches: weakref.WeakSet[StateCache] = weakref.WeakSet()
_caches_lock = threading.Lock()


def _states_held() -> int:
    with _caches_lock:
        return sum(len(cache) for cache in _caches)


metrics.CACHED_STATES.set_function(_states_held)


class StateCache:
    """An LRU of deployment states by deployment id, each with the partition it lives on;
    at most ``size`` entries (0 turns it off)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[str, tuple[int, DeploymentState]] = OrderedDict()
        with _caches_lock:
            _caches.add(self)

    def get(self, deployment_id: str) -> DeploymentState | None:
        entry = self._entries.get(deployment_id)
        if entry is None:
            return None
        self._entries.move_to_end(deployment_id)
        return entry[1]

    def put(self, partition: int, state: DeploymentState) -> None:
        if self._size <= 0:
            return
        self._entries[state.deployment_id] = (partition, state)
        self._entries.move_to_end(state.deployment_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def discard(self, deployment_ids: set[str]) -> None:
        for deployment_id in deployment_ids:
            self._entries.pop(deployment_id, None)

    def drop_partitions(self, partitions: set[int]) -> None:
        stale = [d for d, (partition, _) in self._entries.items() if partition in partitions]
        for deployment_id in stale:
            del self._entries[deployment_id]

    def clear(self) -> None:
        self._entries.clear()

    def positions(self) -> dict[str, int]:
        """Each held deployment's position: the newest writes of this process."""
        return {d: state.position for d, (_, state) in self._entries.items()}

    def __len__(self) -> int:
        return len(self._entries)
