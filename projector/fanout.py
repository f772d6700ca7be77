"""What follows a successful write, before the offsets are committed: the per-owner index
that `GET /status/watch` reads, and the status changelog topic. Both are idempotent, so a
redelivered batch repeats them harmlessly. (The change notification itself is published by
the store's write script, atomically with the write.)"""

from __future__ import annotations

from collections.abc import Mapping

from projector.changelog import Changelog
from projector.state import DeploymentState
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


def index_entry_changed(before: DeploymentState | None, after: DeploymentState) -> bool:
    """Whether the owner index's entry for the deployment differs between the states. Only
    to be asked of a state this process wrote last (cached), whose index entry its own
    fan-out has written or is writing; any other state's may have been lost with a crash
    between a write and its fan-out, and is written again (``Write.index``)."""
    return before is None or before.owner != after.owner or before.served != after.served
