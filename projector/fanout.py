"""What follows a successful write, before the offsets are committed: the per-owner index
that `GET /status/watch` reads, and the status changelog topic. Both are idempotent, so a
redelivered batch repeats them harmlessly. (The change notification itself is published by
the store's write script, atomically with the write.)"""

from __future__ import annotations

from collections.abc import Mapping

from projector.changelog import Changelog
from projector.store import RedisStatusStore, Write


class Fanout:
    def __init__(self, store: RedisStatusStore, changelog: Changelog | None) -> None:
        self._store = store
        self._changelog = changelog

    async def publish(self, written: Mapping[str, Write]) -> None:
        # Deployments never created have nothing to index or log yet.
        known = {dep: write for dep, write in written.items() if write.state.created}
        if not known:
            return
        await self._store.index_owners(write.state for write in known.values() if write.index)
        if self._changelog is not None:
            await self._changelog.publish(
                {dep: (write.document, write.state.position) for dep, write in known.items()}
            )
