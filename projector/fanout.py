"""What follows a successful write, before the offsets are committed: the per-owner index
that `GET /status/watch` reads, and the status changelog topic. Both are idempotent, so a
redelivered batch repeats them harmlessly. (The change notification itself is published by
the store's write script, atomically with the write.)"""

from __future__ import annotations

from collections.abc import Mapping

from projector.changelog import Changelog
from projector.document import render
from projector.state import DeploymentState
from projector.store import RedisStatusStore


class Fanout:
    def __init__(self, store: RedisStatusStore, changelog: Changelog | None) -> None:
        self._store = store
        self._changelog = changelog

    async def publish(self, written: Mapping[str, DeploymentState]) -> None:
        # Deployments never created have nothing to index or log yet.
        known = {dep: state for dep, state in written.items() if state.created}
        if not known:
            return
        await self._store.index_owners(known.values())
        if self._changelog is not None:
            await self._changelog.publish(
                {dep: (render(state), state.position) for dep, state in known.items()}
            )
