"""A rebuild's helper processes. A fold is CPU-bound and one Python process uses one core,
so a rebuild shares the partitions out: its own process replays the first share and runs the
phases (``projector.rebuild.rebuild``), each helper (``deploystatus rebuild-worker``)
replays one other share into the same generation, until the rebuild stops it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterable

from deploystatus.settings import Settings
from deploystatus.view.client import create_redis
from deploystatus.view.generations import RedisGenerations
from deploystatus.view.keys import Keys
from projector.exceptions import RebuildInterrupted
from projector.rebuild.replay import replay
from projector.store import RedisStatusStore

log = logging.getLogger(__name__)

# REBUILD_PROCESSES=0 means one per core, but no more than this: each process drives Redis
# at full speed, and Redis (one thread) is shared with the live projectors and the reads.
AUTO_MAX_PROCESSES = 4
# A stopped helper commits its batch in hand first; one that takes longer is killed, which
# loses nothing (a resumed or later replay redoes what was not committed).
STOP_TIMEOUT_SECONDS = 30.0


def process_count(settings: Settings, partitions: int) -> int:
    """How many processes replay a log of ``partitions`` partitions (at least one each)."""
    wanted = settings.projector.rebuild_processes or min(os.cpu_count() or 1, AUTO_MAX_PROCESSES)
    return max(1, min(wanted, partitions))


def share_out(partitions: Iterable[int], processes: int) -> list[list[int]]:
    """The partitions in ``processes`` shares of (nearly) equal size."""
    ordered = sorted(partitions)
    return [ordered[i::processes] for i in range(processes)]


class Workers:
    """The helper processes of one rebuild, one per share of the partitions."""

    def __init__(self, settings: Settings, generation: str, shares: list[list[int]]) -> None:
        self._settings = settings
        self._generation = generation
        self._shares = shares
        self._processes: list[asyncio.subprocess.Process] = []

    async def start(self) -> None:
        # The rebuild's own settings, which may not come from this environment alone.
        env = self._settings.subprocess_environment(os.environ)
        for share in self._shares:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cli",
                "rebuild-worker",
                self._generation,
                "--partitions",
                ",".join(map(str, share)),
                "--parent",
                str(os.getpid()),
                env=env,
            )
            self._processes.append(process)
            log.info("rebuild helper %d replays partitions %s", process.pid, share)

    def check(self) -> None:
        """Raise ``RebuildInterrupted`` if a helper has exited: its share would stop moving."""
        for process, share in zip(self._processes, self._shares, strict=False):
            if process.returncode is not None:
                raise RebuildInterrupted(
                    f"the rebuild process replaying partitions {share} exited with code "
                    f"{process.returncode} (see its log lines above); run `deploystatus "
                    "rebuild --resume` to continue"
                )

    async def stop(self) -> None:
        """Stop every helper (each commits what it applied first) and wait for them."""
        for process in self._processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        for process in self._processes:
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                log.warning("rebuild helper %d did not stop in time; killing it", process.pid)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()


async def run_worker(
    settings: Settings,
    generation: str,
    partitions: list[int],
    parent: int,
    stopping: asyncio.Event,
) -> None:
    """A helper's life: replay ``partitions`` into ``generation`` until stopped, or until
    the rebuild process ``parent`` that started it is gone (``--resume`` starts new ones)."""
    # The pid is given, not read here: a rebuild killed while this process was starting
    # would leave it adopted already, and it would never notice.
    if os.getppid() != parent:
        log.warning("the rebuild that started this helper is gone; not starting")
        return
    redis = create_redis(settings)
    keys = Keys(settings.redis.prefix)
    generations = RedisGenerations(redis, keys)
    store = RedisStatusStore(redis, keys, generation)

    async def should_leave() -> bool:
        if os.getppid() != parent:
            log.warning("the rebuild that started this helper is gone; stopping")
            return True
        if not store.notify_channel and await generations.current() == generation:
            # Served now: watchers must hear of what the hand-over applies.
            store.notify_channel = keys.changes
        return False

    try:
        await replay(settings, generations, store, partitions, stopping, should_leave)
    finally:
        await redis.aclose()
