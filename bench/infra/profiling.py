"""Sampling profiles with py-spy (attached by pid, ``--nonblocking`` so the target is never
paused), summarised as the functions that hold the most samples, inclusive and self."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

RATE_HZ = 200
_LINE_NUMBER = re.compile(r":\d+\)$")
# Entry points and thread plumbing that sit under every sample: they say nothing.
_PLUMBING = (
    "runpy",
    "<module>",
    "main (",
    "Runner.run",
    "run_until_complete",
    "run_forever",
    "_run_once",
    "Thread._bootstrap",
    "Server.run",
    "Server.serve",
    "run (uvicorn",
    "_run (asyncio/events.py)",
    "_run_module_as_main",
    "_run_code",
    "run (asyncio/runners.py)",
    "BaseEventLoop._run_once",
    "Handle._run",
    "_projector (cli/main.py)",
    "asyncio_run",
    "BaseEventLoop.run",
)


@dataclass(frozen=True)
class Hotspot:
    frame: str
    share: float  # of all samples


@dataclass(frozen=True)
class Profile:
    samples: int
    inclusive: list[Hotspot]
    self_time: list[Hotspot]


def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def start_py_spy(pid: int, seconds: int, output: Path) -> subprocess.Popen[bytes] | None:
    binary = py_spy()
    if binary is None:
        return None
    return subprocess.Popen(  # noqa: S603 - py-spy with arguments built here
        [
            binary,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            str(RATE_HZ),
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def summarise(raw: Path, top: int = 16) -> Profile | None:
    """Collapsed stacks (``frame;frame;... count``) to the hottest functions."""
    if not raw.exists():
        return None
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_LINE_NUMBER.sub(")", frame) for frame in stack.split(";")]
        samples += count
        for frame in set(frames):
            if not frame.startswith(_PLUMBING):
                inclusive[frame] += count
        self_time[frames[-1]] += count
    if not samples:
        return None

    def hottest(counter: Counter[str]) -> list[Hotspot]:
        return [Hotspot(frame, n / samples) for frame, n in counter.most_common(top)]

    return Profile(samples, hottest(inclusive), hottest(self_time))
