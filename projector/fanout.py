"""What follows a successful write, before the offsets are committed: the per-owner index
that `GET /status` and `GET /status/watch` read, and the status changelog topic. Both are
idempotent, so a redelivered batch repeats them harmlessly. (The change notification itself
is published by the store's write script, atomically with the write.)"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from projector.changelog import Changelog
from projector.core.document import render
from projector.core.state import DeploymentState
from projector.store import StatusStore, Write


class Fanout:
    def __init__(self, store: StatusStore, changelog: Changelog | None) -> None:
        self._store = store
        self._changelog = changelog

    def batch(self) -> FanoutBatch:
        """The fan-out of one batch's writes."""
        return FanoutBatch(self._store, self._changelog)


class FanoutBatch:
    """A batch's writes are added as they are made: their changelog records go into the
    producer's batches then, so that the documents are freed with their chunk of writes
    (holding a whole batch's documents until its end raised the RSS with their size:
    docs/performance.md#memory). The owner index is written, and the changelog's acks awaited,
    by ``finish()``."""

    def __init__(self, store: StatusStore, changelog: Changelog | None) -> None:
        self._store = store
        self._records = changelog.records() if changelog is not None else None
        # deployment id -> its state as written (each write changes its list entry: its
        # updated_at at least)
        self._written: dict[str, DeploymentState] = {}
        self._resend = False

    async def add(self, writes: Iterable[Write]) -> None:
        for write in writes:
            state = write.state
            if not state.created:
                continue  # never created: nothing to index or log yet
            self._written[state.deployment_id] = state
            if self._records is not None:
                await self._records.add(state.deployment_id, write.document, state.position)

    async def finish(self) -> None:
        """Write the owner index and wait until the changelog has every record. May be
        called again after it raised: the changelog's records are then produced anew."""
        if not self._written:
            return
        # Independent of each other: the index's round trip overlaps the changelog's acks.
        await asyncio.gather(self._store.index_owners(self._written.values()), self._logged())

    async def _logged(self) -> None:
        records = self._records
        if records is None:
            return
        if self._resend:
            # The documents of the records whose acks failed went with their writes: render
            # them again from the states (the same bytes; the latest record per key counts).
            for deployment_id, state in self._written.items():
                await records.add(deployment_id, render(state), state.position)
            self._resend = False
        try:
            await records.sent()
        except BaseException:
            self._resend = True
            raise
