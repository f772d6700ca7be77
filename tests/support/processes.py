"""The projector in this event loop, and ``deploystatus`` commands as subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from deploystatus.settings import Settings
from projector.service import run_projector


@contextlib.asynccontextmanager
async def running_projector(settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    """A projector in this event loop, stopped gracefully (finish batch, commit) on exit."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_projector(settings, stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a ``deploystatus`` subprocess use ``settings``."""
    return settings.subprocess_environment(os.environ)


def start_cli(
    settings: Settings,
    *args: str,
    script: Path | None = None,
    log: Path,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``deploystatus ARGS`` (or a test script) as a subprocess with ``settings``."""
    command = [sys.executable, str(script)] if script else [sys.executable, "-m", "cli", *args]
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            env={**settings_env(settings), **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop_process(
    process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30
) -> int:
    """Send ``sig`` (0: none, just wait) and return the exit code; a process that does not
    exit in time is killed (no test leaves one behind) and the timeout raised."""
    if sig and process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


async def run_cli(
    settings: Settings, *args: str, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    """``deploystatus ARGS`` to completion, off the event loop."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", *args],
        input=stdin,
        env=settings_env(settings),
        capture_output=True,
        timeout=180,
        check=False,
    )


class ProjectorFleet:
    """Projector processes (``deploystatus projector``) to start, kill, freeze and thaw."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self._settings = settings
        self._log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> subprocess.Popen[bytes]:
        process = start_cli(self._settings, "projector", log=self._log_dir / f"{name}.log")
        self.processes[name] = process
        return process

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.kill()
        process.wait(timeout=30)

    def pause(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGCONT)

    def stop_all(self) -> dict[str, int]:
        codes = {}
        for name, process in self.processes.items():
            process.send_signal(signal.SIGCONT)
            codes[name] = stop_process(process)
        self.processes.clear()
        return codes
