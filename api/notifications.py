"""Change notifications from the projector, fanned out to this process's watchers.

The projector publishes a short message (``deploystatus.view.changes``) on one Redis pub/sub
channel each time it writes a deployment's hash: its position moved, and maybe its document
(the message says which). Each API process holds ONE subscription and wakes the watchers that
care (by deployment id, or by owner for the per-user stream). A notification is only a
hint: watchers re-read the document itself, so a missed or duplicated message never leaves
anyone with a stale or wrong document. When the subscription is (re)established, every
watcher is woken to re-read, which covers whatever was published while it was down.

Pub/sub rather than a Redis Stream: watchers need the latest document, not every
intermediate one, and the document in its hash is the durable truth; a stream would add
retention and trimming for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from api.document_cache import DocumentCache
from deploystatus.settings import Settings
from deploystatus.view.changes import Change
from deploystatus.view.errors import StoreUnavailable
from deploystatus.view.subscription import ChangeSubscription

log = logging.getLogger(__name__)
RECONNECT_SECONDS = 0.5
HEALTH_CHECK_SECONDS = 10


@dataclass(eq=False)
class Signal:
    """Latest-wins wake-up for one watcher: however many changes arrive while it is busy,
    it wakes once and reads the current state, so a slow client never queues anything."""

    event: asyncio.Event = field(default_factory=asyncio.Event)
    changed: set[str] = field(default_factory=set)  # deployment ids, for per-owner watchers
    everything: bool = False  # set on (re)subscription: re-read all

    def notify(self, deployment_id: str | None) -> None:
        if deployment_id is None:
            self.everything = True
        else:
            self.changed.add(deployment_id)
        self.event.set()

    async def wait_at_most(self, seconds: float) -> bool:
        """True when woken, False when ``seconds`` passed quietly."""
        try:
            await asyncio.wait_for(self.event.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def take(self) -> tuple[set[str], bool]:
        """The deployment ids changed since the last take, and whether to re-read all."""
        changed, everything = self.changed, self.everything
        self.changed, self.everything = set(), False
        self.event.clear()
        return changed, everything


class ChangeFeed:
    def __init__(self, settings: Settings, cache: DocumentCache | None = None) -> None:
        self._settings = settings
        self._cache = cache
        # Quiet channels are pinged this often, so the cache knows Redis is still there.
        self._heartbeat_seconds = (
            min(HEALTH_CHECK_SECONDS, cache.max_staleness / 4)
            if cache is not None
            else HEALTH_CHECK_SECONDS
        )
        self._by_deployment: dict[str, set[Signal]] = defaultdict(set)
        self._by_owner: dict[str, set[Signal]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self.subscribed = asyncio.Event()

    @contextlib.contextmanager
    def watch_deployment(self, deployment_id: str) -> Iterator[Signal]:
        with self._registered(self._by_deployment, deployment_id) as signal:
            yield signal

    @contextlib.contextmanager
    def watch_owner(self, owner: str) -> Iterator[Signal]:
        with self._registered(self._by_owner, owner) as signal:
            yield signal

    @contextlib.contextmanager
    def _registered(self, index: dict[str, set[Signal]], key: str) -> Iterator[Signal]:
        signal = Signal()
        index[key].add(signal)
        try:
            yield signal
        finally:
            index[key].discard(signal)
            if not index[key]:
                del index[key]

    def dispatch(self, change: Change) -> None:
        if self._cache is not None:
            self._cache.announce(change.deployment_id, change.position, change.document_changed)
        for signal in self._by_deployment.get(change.deployment_id, ()):
            signal.notify(change.deployment_id)
        for signal in self._by_owner.get(change.owner, ()):
            signal.notify(change.deployment_id)

    def wake_everyone(self) -> None:
        """Make every watcher re-read everything it follows."""
        for signals in (*self._by_deployment.values(), *self._by_owner.values()):
            for signal in signals:
                signal.notify(None)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever())

    async def stop(self) -> None:
        # The flag as well as the cancellation: the driver can turn a cancellation that lands
        # in a read with a timeout into a connection error, which the loop would retry.
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen_forever(self) -> None:
        while not self._stopped:
            try:
                await self._listen()
            except StoreUnavailable as exc:
                log.warning("change feed lost its subscription, reconnecting: %r", exc)
            finally:
                self.subscribed.clear()
                if self._cache is not None:
                    self._cache.feed_lost()
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen(self) -> None:
        cache = self._cache
        async with ChangeSubscription(self._settings, HEALTH_CHECK_SECONDS) as subscription:
            self.subscribed.set()
            # Anything published while we were not subscribed is unknown: re-read all.
            if cache is not None:
                cache.clear()
                cache.heard_from_redis()
            self.wake_everyone()
            ping_sent = False
            while not self._stopped:
                heard = await subscription.receive(self._heartbeat_seconds)
                if heard is None:
                    # A quiet channel: ask Redis for a sign of life (one PING at a time), which
                    # also notices a dead connection.
                    if not ping_sent:
                        await subscription.ping()
                        ping_sent = True
                    continue
                # Messages arrive in order: having heard this one, every notification Redis
                # sent before it has been applied.
                if cache is not None:
                    cache.heard_from_redis()
                if heard == "pong":
                    ping_sent = False
                elif isinstance(heard, Change):
                    self.dispatch(heard)
