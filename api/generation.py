"""Which generation of the view the API reads, refreshed in the background so that a
request costs one Redis round trip, not two."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from api.exceptions import ViewNotReady
from deploystatus.view.errors import StoreUnavailable
from deploystatus.view.store import ViewReader

log = logging.getLogger(__name__)
REFRESH_SECONDS = 1.0


class GenerationCache:
    """Holds the served generation's id; ``None`` while Redis serves none (the view is being
    built, or Redis is unreachable and has never answered)."""

    def __init__(self, view: ViewReader, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self._view = view
        self._refresh_seconds = refresh_seconds
        self._task: asyncio.Task[None] | None = None
        self.current: str | None = None
        # Called after a switch (e.g. so that watchers re-read from the new generation).
        self.on_change: Callable[[], None] | None = None

    async def refresh(self) -> None:
        """Read the pointer now (StoreUnavailable propagates; the last known value stays)."""
        generation = await self._view.served_generation()
        if generation != self.current:
            log.info("serving generation %s (was %s)", generation, self.current)
            self.current = generation
            if self.on_change is not None:
                self.on_change()

    async def served(self) -> str:
        """The served generation; raises ViewNotReady while there is none."""
        if self.current is None:
            # Only while nothing is served: ask Redis now rather than wait for the refresh.
            await self.refresh()
        if self.current is None:
            raise ViewNotReady("no generation of the view is served yet")
        return self.current

    async def start(self) -> None:
        await self._refresh_quietly()
        self._task = asyncio.create_task(self._refresh_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_seconds)
            await self._refresh_quietly()

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh()
        except StoreUnavailable as exc:
            log.debug("generation refresh failed, keeping %s: %r", self.current, exc)
