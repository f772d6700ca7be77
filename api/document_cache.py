"""Documents this process read recently, served again without a Redis round trip for as long
as the change feed vouches that they are current.

A cached document is dropped when the projector's change notification for its deployment
arrives (see ``api.notifications``), so it is as fresh as a Redis read give or take the
notification's delivery time (about a millisecond on loopback). Nothing is served from here
when that guarantee is in doubt:

- while the feed is not subscribed, or has not heard from Redis (a message or the answer to
  its periodic PING) for ``max_staleness`` seconds: a frozen or partitioned Redis turns into
  Redis reads (and their 503s) after at most that long;
- across a (re)subscription or a generation switch, which empty the cache: messages
  published while the feed was away are unknown;
- for a read that a notification overtook: a read in flight when a newer position of its
  deployment is announced does not fill the cache (positions tell which is newer).

A notification that only the position moved (the document is the same, e.g. a repeated
event) keeps the cached document and moves its position, so a cached answer's
``X-Applied-Offset`` is the stored one, give or take the notification's delivery.

Only the owner's reads fill and hit the cache (and callers that may read any deployment
hit it). Another user's request for the same id goes to Redis as before, so the 404 answers
of issue 6 (unknown, foreign, deleted, not yet created) still cost the same and look the
same whatever this cache holds.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from api.auth import Principal
from api.metrics import CACHE_HITS, CACHE_MISSES
from deploystatus.view.store import StoredStatus


@dataclass(slots=True)
class _Entry:
    generation: str
    owner: str
    status: StoredStatus


@dataclass(slots=True)
class _InFlight:
    readers: int = 0
    announced: int = -1  # highest position announced for the deployment while they read


class DocumentCache:
    """An LRU of at most ``size`` documents (0 turns it off), trusted while the change feed
    has heard from Redis within ``max_staleness`` seconds."""

    def __init__(self, size: int, max_staleness: float) -> None:
        self.size = size
        self.max_staleness = max_staleness
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._in_flight: dict[str, _InFlight] = {}
        # Bumped on every clear: a read begun before a clear must not fill the cache after it.
        self._epoch = 0
        self._heard_at = float("-inf")  # monotonic time the feed last heard from Redis

    @property
    def enabled(self) -> bool:
        return self.size > 0

    def get(self, generation: str, deployment_id: str, principal: Principal) -> StoredStatus | None:
        """The cached document if it may be served to ``principal`` now; else ``None``
        (the caller reads Redis)."""
        entry = self._entries.get(deployment_id)
        if (
            entry is None
            or entry.generation != generation
            or (entry.owner != principal.user_id and not principal.read_any)
            or time.monotonic() - self._heard_at > self.max_staleness
        ):
            if self.enabled:
                CACHE_MISSES.inc()
            return None
        self._entries.move_to_end(deployment_id)
        CACHE_HITS.inc()
        return entry.status

    @contextmanager
    def reading(self, generation: str, deployment_id: str, owner: str | None) -> Iterator[Fill]:
        """Wraps one Redis read of ``deployment_id`` by its ``owner`` (``None`` when the
        reader's ownership is not known: nothing is cached then). The body hands over what
        it read with ``fill.put(status)``; it is cached only if no newer version was
        announced and the cache was not cleared meanwhile."""
        fill = Fill()
        if not self.enabled or owner is None:
            yield fill
            return
        epoch = self._epoch
        in_flight = self._in_flight.setdefault(deployment_id, _InFlight())
        in_flight.readers += 1
        try:
            yield fill
        finally:
            in_flight.readers -= 1
            if not in_flight.readers:
                del self._in_flight[deployment_id]
        status = fill.status
        if status is not None and epoch == self._epoch and status.position >= in_flight.announced:
            self._entries[deployment_id] = _Entry(generation, owner, status)
            self._entries.move_to_end(deployment_id)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def announce(self, deployment_id: str, position: int, document_changed: bool = True) -> None:
        """The projector wrote ``position`` to this deployment's hash, and a new document
        unless not ``document_changed``: then the cached document stays, at that position."""
        if document_changed:
            self._entries.pop(deployment_id, None)
        else:
            entry = self._entries.get(deployment_id)
            if entry is not None and position > entry.status.position:
                entry.status = replace(entry.status, position=position)
        in_flight = self._in_flight.get(deployment_id)
        if in_flight is not None and position > in_flight.announced:
            in_flight.announced = position

    def heard_from_redis(self) -> None:
        self._heard_at = time.monotonic()

    def clear(self) -> None:
        """Forget everything: notifications may have been missed, or the generation moved."""
        self._entries.clear()
        self._epoch += 1

    def feed_lost(self) -> None:
        """The feed lost its subscription: nothing is served from here until it is back."""
        self.clear()
        self._heard_at = float("-inf")

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(slots=True)
class Fill:
    status: StoredStatus | None = None

    def put(self, status: StoredStatus | None) -> None:
        self.status = status
