"""Reading a process's CPU time and memory from /proc (Linux), for CPU/request and RSS."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by ``pid`` (0 if it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # Fields after the command name, which is in parentheses and may hold spaces.
    fields = raw.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    try:
        pages = Path(f"/proc/{pid}/statm").read_text().split()[1]
    except OSError:
        return 0
    return int(pages) * PAGE_BYTES


def peak_rss_bytes(pid: int) -> int | None:
    """The highest RSS of ``pid`` since it started or since ``reset_peak_rss`` (VmHWM: the
    kernel records it before it takes pages away, so no peak between two reads is missed)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # in kB
    return None


def reset_peak_rss(pid: int) -> bool:
    """Restart ``peak_rss_bytes`` from the current RSS (Linux >= 4.0, and the right to write
    the process's ``clear_refs``); False if it could not."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def pids_named(command: str) -> list[int]:
    """Processes whose command name is ``command`` (e.g. every PostgreSQL backend)."""
    return [
        pid for pid, stat in _processes() if stat.split(" (", 1)[1].rsplit(")", 1)[0] == command
    ]


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    return [child for child, stat in _processes() if int(stat.rsplit(")", 1)[1].split()[1]) == pid]


def _processes() -> Iterator[tuple[int, str]]:
    """(pid, contents of /proc/<pid>/stat) of every process still there when read."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield int(entry.name), (entry / "stat").read_text()
            except OSError:
                continue


def cpu_seconds_of(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


class CpuShare:
    """CPU used by named processes between ``start()`` and ``stop()``, as % of one core."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        # A process this run did not start (a broker in Docker or elsewhere) has no pid here
        # and is left out.
        self._pids = {name: pid for name, pid in pids.items() if pid is not None}
        self._started: dict[str, float] = {}
        self._wall = 0.0

    def start(self) -> None:
        self._started = {name: cpu_seconds(pid) for name, pid in self._pids.items()}
        self._wall = time.perf_counter()

    def stop(self) -> dict[str, float]:
        elapsed = time.perf_counter() - self._wall
        return {
            name: 100 * (cpu_seconds(pid) - self._started[name]) / elapsed
            for name, pid in self._pids.items()
        }
