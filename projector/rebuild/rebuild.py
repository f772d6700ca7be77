"""`deploystatus rebuild`: replay the whole log into a new generation while the current one
is served, switch to it in one step once it has caught up, then delete the old one.

Phases: *replaying* up to the log end taken when the build started; *catching up* to a
fresh end taken then (short); *switch* (one atomic pointer change); *handover*: the rebuild
keeps applying new events for a while so the projectors, which move to the new generation
within a second or two, find it current; *cleanup*: after the grace period, the old
generation's keys go, in small chunks.

The replay is shared out by partition between this process and helper processes
(``projector.rebuild.workers``, REBUILD_PROCESSES); this one runs the phases, which follow the
progress of all of them.
"""

from __future__ import annotations

import asyncio
import logging
import time

from deploystatus.settings import Settings
from deploystatus.topics import end_offsets, ensure_topics
from deploystatus.view.client import RedisClient, create_redis
from deploystatus.view.generations import RedisGenerations
from deploystatus.view.keys import Keys
from deploystatus.view.lease import Lease
from deploystatus.view.store import Build, Generations
from projector.exceptions import RebuildInterrupted, RebuildRefused
from projector.rebuild.progress import ProgressPrinter
from projector.rebuild.replay import replay
from projector.rebuild.workers import Workers, process_count, share_out
from projector.retry import retry
from projector.store import RedisStatusStore, StatusStore

log = logging.getLogger(__name__)


async def run_rebuild(settings: Settings, *, resume: bool, stopping: asyncio.Event) -> str:
    """Rebuild the view; returns the generation now served."""
    redis = create_redis(settings)
    keys = Keys(settings.redis.prefix)
    generations = RedisGenerations(redis, keys)
    lease = Lease(redis, keys.rebuild_lease, settings.projector.rebuild_lease_seconds)
    try:
        await ensure_topics(settings)
        if not await lease.acquire():
            raise RebuildRefused(
                f"another rebuild is running (lease held by {await lease.holder()}); "
                "wait for it to finish"
            )
        try:
            build = await _start_or_resume(settings, generations, resume=resume)
            previous = await _replay(settings, redis, generations, lease, build, stopping)
        finally:
            await lease.release()
        if previous:
            log.info(
                "deleting generation %s in %.0fs",
                previous,
                settings.projector.generation_grace_seconds,
            )
            await asyncio.sleep(settings.projector.generation_grace_seconds)
            for stale in await generations.stale():
                removed = await generations.delete(stale)
                log.info("deleted generation %s (%d keys)", stale, removed)
        return build.generation
    finally:
        await redis.aclose()


async def abort_rebuild(settings: Settings) -> str:
    """Discard an interrupted rebuild and its keys; returns the discarded generation."""
    redis = create_redis(settings)
    keys = Keys(settings.redis.prefix)
    generations = RedisGenerations(redis, keys)
    lease = Lease(redis, keys.rebuild_lease, settings.projector.rebuild_lease_seconds)
    try:
        if not await lease.acquire():
            raise RebuildRefused(
                f"a rebuild is running (lease held by {await lease.holder()}); stop it first"
            )
        try:
            build = await generations.building()
            if build is None or build.builder != "rebuild":
                raise RebuildRefused("there is no interrupted rebuild to abort")
            await generations.abandon(build.generation)
            removed = await generations.delete(build.generation)
            log.info("discarded generation %s (%d keys)", build.generation, removed)
            return build.generation
        finally:
            await lease.release()
    finally:
        await redis.aclose()


async def _start_or_resume(settings: Settings, generations: Generations, *, resume: bool) -> Build:
    build = await generations.building()
    if build is not None and build.builder == "projectors":
        raise RebuildRefused(
            f"the projectors are building generation {build.generation} themselves "
            "(Redis lost its data); no rebuild is needed"
        )
    if build is not None:
        if not resume:
            raise RebuildRefused(
                f"an interrupted rebuild of generation {build.generation} exists: run "
                "`deploystatus rebuild --resume` to continue it or `--abort` to discard it"
            )
        log.info("resuming the rebuild of generation %s", build.generation)
        return build
    if resume:
        raise RebuildRefused("there is no interrupted rebuild to resume")
    if await generations.current() is None:
        raise RebuildRefused(
            "no generation is served yet: the projectors build the first one themselves"
        )
    build = await generations.begin("rebuild", await end_offsets(settings))
    if build is None:
        raise RebuildRefused("another build started at the same moment; try again")
    log.info("rebuilding into generation %s", build.generation)
    return build


async def _replay(
    settings: Settings,
    redis: RedisClient,
    generations: Generations,
    lease: Lease,
    build: Build,
    stopping: asyncio.Event,
) -> str | None:
    """Feed ``build.generation`` through all phases; returns the generation it replaced."""
    store = RedisStatusStore(redis, Keys(settings.redis.prefix), build.generation)
    mine, *others = share_out(build.target, process_count(settings, len(build.target)))
    workers = Workers(settings, build.generation, others)
    phases = _Phases(settings, generations, lease, build, stopping, store, workers)
    try:
        await workers.start()
        await replay(settings, generations, store, mine, stopping, phases.done)
    finally:
        await workers.stop()
    if phases.previous is None and not stopping.is_set():
        raise RebuildInterrupted("the rebuild ended before its generation was served")
    return phases.previous


class _Phases:
    def __init__(
        self,
        settings: Settings,
        generations: Generations,
        lease: Lease,
        build: Build,
        stopping: asyncio.Event,
        store: StatusStore,
        workers: Workers,
    ) -> None:
        self._settings = settings
        self._workers = workers
        self._stopping = stopping
        self._store = store
        self._generations = generations
        self._lease = lease
        self._build = build
        self._target = build.target
        self._phase = "replaying"
        self._handover_until = 0.0
        self._progress = ProgressPrinter()
        self.previous: str | None = None

    async def done(self) -> bool:
        """Between batches: renew the lease, check the helpers, report, and move through
        the phases (the progress of every process is in ``applied``)."""
        if not self._stopping.is_set():
            self._workers.check()
        if not await self._lease.renew():
            raise RebuildInterrupted(
                "the rebuild lease was lost (the process stalled longer than "
                "REBUILD_LEASE_SECONDS, or Redis lost its data); run `deploystatus rebuild "
                "--resume` to continue"
            )
        applied = await self._generations.applied(self._build.generation)
        self._progress.update(applied, self._target, self._phase)
        reached = all(applied.get(p, 0) >= end for p, end in self._target.items())
        if self._phase == "replaying" and reached:
            self._phase = "catching up"
            self._target = await retry(
                lambda: end_offsets(self._settings), "end offsets", self._stopping
            )
        elif self._phase == "catching up" and reached:
            previous = await self._generations.promote(self._build.generation)
            if previous is None:
                raise RebuildInterrupted(f"generation {self._build.generation} was discarded")
            self.previous = previous
            # Served now: watchers must hear of what the hand-over applies.
            self._store.notify_channel = Keys(self._settings.redis.prefix).changes
            self._phase = "handover"
            self._handover_until = (
                time.monotonic() + self._settings.projector.rebuild_handover_seconds
            )
            self._progress.finish(
                f"generation {self._build.generation} is served (replaced {previous or 'none'})"
            )
        elif self._phase == "handover":
            return time.monotonic() >= self._handover_until
        return False
